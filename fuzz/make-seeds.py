#!/usr/bin/env python3
"""Writes fuzz/seeds/<target>/ from ../shared/fixtures (or tests/fixtures, the
repository's copies). Run it again when the fixtures change; the output is
committed so a fresh clone fuzzes from the same start."""
import json, pathlib, shutil

here = pathlib.Path(__file__).resolve().parent
fixtures = here.parent / "tests" / "fixtures"
seeds = here / "seeds"
shutil.rmtree(seeds, ignore_errors=True)

def put(target, name, data: bytes):
    d = seeds / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)

def http(status, body: bytes, ctype="application/json", extra=""):
    head = f"HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body

# config: the shapes of design.md §3.1
configs = [
    {"datastreamId": "ds"},
    {"datastreamId": "ds", "orgId": "ORG@AdobeOrg", "session": "none", "baseUrl": "http://127.0.0.1:8080"},
    {"datastreamId": "ds", "orgId": "ORG@AdobeOrg", "auth": {"type": "token", "accessToken": "t", "apiKey": "k"}},
    {"datastreamId": "ds", "orgId": "ORG@AdobeOrg", "auth": {"type": "oauth", "clientId": "c", "clientSecret": "s", "scopes": "openid"}},
    {"datastreamId": "ds", "timeouts": {"connectMs": 5000, "requestMs": 10000, "totalMs": 30000},
     "retry": {"maxAttempts": 3, "baseDelayMs": 1000, "maxDelayMs": 30000, "retryReadTimeouts": True},
     "tls": {"roots": "system"}, "proxy": {"url": "http://127.0.0.1:3128"}, "maxConnections": 16,
     "defaultConsent": "pending", "edgeDomain": "edge.adobedc.net"},
]
for i, c in enumerate(configs):
    put("config", f"config-{i}.json", json.dumps(c).encode())

# request: a selector byte (0 interact, 1 collect, 2 consent) then the request JSON
for f in sorted(fixtures.glob("request-*.json")):
    body = json.loads(f.read_text())
    sel = 1 if "collect" in f.name else 2 if "consent" in f.name else 0
    if sel == 0 and "event" not in body and "events" in body:
        body = {"event": body["events"][0]}
    if sel == 0:
        body.setdefault("options", {"requestId": "fuzz-1", "state": [{"key": "k", "value": "v"}]})
    put("request", f.stem, bytes([sel]) + json.dumps(body).encode())

# response: a selector byte (which call) then the whole HTTP answer
for f in sorted(fixtures.glob("response-*.json")) + sorted(fixtures.glob("error-*.json")):
    body = f.read_bytes()
    status = 400 if f.name.startswith("error-") else 207 if "-207-" in f.name else 202 if "-202" in f.name else 200
    ctype = "application/problem+json" if status == 400 else "application/json"
    sel = 1 if "collect" in f.name else 2 if "consent" in f.name else 0
    put("response", f.stem, bytes([sel]) + http(status, body, ctype, "x-adobe-edge: or2;35\r\n"))
put("response", "retry-after", bytes([0]) + http(503, b"", extra="retry-after: 2\r\n"))
put("response", "retry-after-date", bytes([0]) + http(429, b"", extra="retry-after: Fri, 31 Dec 9999 23:59:59 GMT\r\n"))
put("response", "hint-404", bytes([0]) + http(404, b""))
put("response", "chunked", bytes([0]) + b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n")

# token: a selector byte (IMS status: 0-2 -> 200, 3 -> 400, 4 -> 401, 5 -> 429, 6 -> 500, 7 -> 503) then the body
put("token", "ok", bytes([0]) + b'{"access_token":"eyJhbGciOi.token","token_type":"bearer","expires_in":86399}')
put("token", "huge-expiry", bytes([0]) + b'{"access_token":"t","token_type":"bearer","expires_in":18446744073709551615}')
put("token", "float-expiry", bytes([0]) + b'{"access_token":"t","expires_in":1e308}')
put("token", "invalid-client", bytes([3]) + b'{"error":"invalid_client","error_description":"invalid client_id parameter"}')

# state_file: the statePath document the client writes (src/session/file.rs)
state = {
    "format": "aep-edge-session", "version": 1, "orgId": "ORG@AdobeOrg", "datastreamId": "ds",
    "ecid": "12345678901234567890123456789012345678",
    "locationHint": {"hint": "or2", "expiresAtMs": 1893456000000},
    "consent": "y", "consentUpdatedAtMs": 1700000000000, "resetAtMs": 0,
    "entries": [
        {"key": "kndctr_ORG_AdobeOrg_identity", "value": "CiYxMjM0", "expiresAtMs": 1893456000000,
         "updatedAtMs": 1700000000000, "deleted": False},
        {"key": "kndctr_ORG_AdobeOrg_cluster", "value": "or2", "expiresAtMs": 1893456000000,
         "updatedAtMs": 1700000000000, "deleted": False},
    ],
}
put("state_file", "session", json.dumps(state, indent=2).encode())
state["entries"][0]["expiresAtMs"] = 18446744073709551615
state["locationHint"]["expiresAtMs"] = 18446744073709551615
put("state_file", "far-future", json.dumps(state).encode())

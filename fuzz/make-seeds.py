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

# text_paths_request: the request text itself (no selector): the interact
# fixtures, the README's source-document event, and shapes the fast path
# treats specially (options placed first/middle, null ids, odd numbers)
source = {"event": {"xdm": {
    "identityMap": {"Email_LC_SHA256": [{"id": "0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b", "primary": True}]},
    "eventType": "web.webpagedetails.pageViews",
    "web": {"webPageDetails": {"URL": "https://alloystore.dev/", "name": "home-demo-Home Page"}},
    "timestamp": "2021-08-09T14:09:20.859Z"}, "data": {"prop1": "custom value"}}}
put("text_paths_request", "source-event", json.dumps(source).encode())
put("text_paths_request", "source-event-compact", json.dumps(source, separators=(",", ":")).encode())
for f in sorted(fixtures.glob("request-*.json")):
    put("text_paths_request", f.stem, f.read_bytes())
put("text_paths_request", "options-first", b'{"options": {"requestId": "r-1", "state": [{"key": "k", "value": "v", "maxAge": 60}]}, "event": {"xdm": {"_id": null, "eventType": "a"}}, "query": {"identity": {"fetch": ["ECID"]}}}')
put("text_paths_request", "odd-values", b'{"event": {"data": {"n": 1.50, "e": 1E2, "i": -0, "s": "caf\\u00e9 \\"q\\" \\ud83d\\ude00 \\/"}, "xdm": {"timestamp": null, "identityMap": {"FPID": [{"id": "f"}]}}}}')
put("text_paths_request", "no-xdm", b'{ "event" : { } }')
put("text_paths_request", "duplicate-keys", b'{"event": {"xdm": {"_id": "a", "_id": "b"}}, "event": {}}')
put("text_paths_request", "big-numbers", b'{"event": {"data": {"a": 1e400, "b": 18446744073709551616, "c": -9223372036854775809, "d": 0.1e-400}}}')
put("text_paths_request", "deep", b'{"event": {"data": {"a": ' + b'[' * 130 + b']' * 130 + b'}}}')
put("text_paths_request", "not-an-object", b'[{"event": {}}]')

# text_paths_response: a selector byte (bits 0-2 status 200 200 200 207 400 429 500 202,
# bits 3-4 content type, bit 7 session "device") then the response body
statuses = [200, 200, 200, 207, 400, 429, 500, 202]
for f in sorted(fixtures.glob("*.json")) + sorted((fixtures / "real").glob("*")):
    if f.name == "SOURCES.md" or f.name.startswith("request-"):
        continue
    digits = [int(p) for p in f.stem.split("-") if p.isdigit() and len(p) == 3]
    status = digits[0] if digits and digits[0] in statuses else 200
    sel = statuses.index(status) | (2 << 3 if status >= 400 else 0)
    body = f.read_bytes()
    put("text_paths_response", f.stem, bytes([sel]) + body)
    put("text_paths_response", f.stem + "-device", bytes([sel | 0x80]) + body)

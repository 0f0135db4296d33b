//! Server-side visitors (design.md §3.8) against the emulator over loopback:
//! context headers, per-call hints, the next state, the datastream override,
//! response facts and the staging base path.
#![allow(clippy::result_large_err)]

mod common;

use aep_edge::ErrorKind;
use aep_edge_emulator::Options;
use common::*;
use serde_json::{json, Value};

const ORG: &str = "53A16ACB5CC1D3760A495C99@AdobeOrg";
const IDENTITY_KEY: &str = "kndctr_53A16ACB5CC1D3760A495C99_AdobeOrg_identity";
const CLUSTER_KEY: &str = "kndctr_53A16ACB5CC1D3760A495C99_AdobeOrg_cluster";

fn keys(entries: &Value) -> Vec<String> {
    entries
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["key"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn ecid_of(result: &Value) -> String {
    handles(result, "identity:result")[0]["payload"][0]["id"]
        .as_str()
        .expect("an ECID")
        .to_string()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn context_headers_reach_the_edge_and_the_visitors_user_agent_replaces_ours() {
    let edge = emulator();
    let client = client(
        &edge.base_url(),
        json!({"headers": {"Accept-Language": "fr-FR", "User-Agent": "config-agent", "x-sandbox-name": "prod"}}),
    );
    let visitor_ua = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0";
    client
        .interact(json!({
            "event": source_event(),
            "options": {"headers": {
                "user-agent": visitor_ua,
                "X-Forwarded-For": "203.0.113.7",
                "Sec-CH-UA-Platform": "\"Linux\"",
                "Referer": "https://shop.example.com/cart"
            }}
        }))
        .unwrap();
    client.collect(json!({"events": [source_event()]})).unwrap();

    let sent = edge.requests();
    let first = &sent[0];
    let all = |name: &str| -> Vec<&str> {
        first
            .headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(
        all("user-agent"),
        [visitor_ua],
        "one User-Agent: the visitor's"
    );
    assert_eq!(first.header("x-forwarded-for"), Some("203.0.113.7"));
    assert_eq!(first.header("sec-ch-ua-platform"), Some("\"Linux\""));
    assert_eq!(
        first.header("referer"),
        Some("https://shop.example.com/cart")
    );
    assert_eq!(
        first.header("accept-language"),
        Some("fr-FR"),
        "config headers too"
    );
    assert_eq!(first.header("x-sandbox-name"), Some("prod"));
    // The next call has only the config's.
    assert_eq!(sent[1].header("user-agent"), Some("config-agent"));
    assert_eq!(sent[1].header("x-forwarded-for"), None);
}

#[test]
fn other_headers_are_refused_by_name_before_anything_is_sent() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    for (headers, needle) in [
        (
            json!({"Authorization": "Bearer x"}),
            "options.headers.Authorization",
        ),
        (json!({"Host": "evil.example"}), "options.headers.Host"),
        (json!({"Cookie": "a=b"}), "options.headers.Cookie"),
        (
            json!({"Content-Type": "text/html"}),
            "options.headers.Content-Type",
        ),
        (
            json!({"Referer": "https://x/\r\nX-Evil: 1"}),
            "options.headers.Referer",
        ),
        (
            json!({"User-Agent": "x".repeat(8 * 1024 + 1)}),
            "options.headers.User-Agent",
        ),
    ] {
        let e = client
            .interact(json!({"event": source_event(), "options": {"headers": headers}}))
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert!(e.message.contains(needle), "{} lacks {needle}", e.message);
        assert_eq!(e.attempts, 0);
    }
    assert!(edge.requests().is_empty(), "nothing was sent");

    let e = aep_edge::Config::from_value(&config(
        &edge.base_url(),
        json!({"headers": {"Content-Length": "1"}}),
    ))
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidConfig);
    assert!(
        e.message.contains("headers.Content-Length"),
        "{}",
        e.message
    );
}

#[test]
fn a_per_call_hint_routes_one_call_and_every_result_reports_the_hint() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({"session": "none", "orgId": ORG}));
    let plain = client.interact(source_request()).unwrap();
    assert_eq!(plain["client"]["locationHint"], "or2");
    let pinned = client
        .interact(json!({"event": source_event(), "options": {"locationHint": "irl1"}}))
        .unwrap();
    assert_eq!(pinned["client"]["locationHint"], "irl1");
    assert_eq!(
        pinned["client"]["headers"]["x-adobe-edge"],
        pinned["client"]["region"]
    );
    // The visitor's cluster entry is the hint when the call gives none.
    let state = json!([{"key": CLUSTER_KEY, "value": "jpn3", "maxAge": 1800}]);
    client
        .interact(json!({"event": source_event(), "options": {"state": state}}))
        .unwrap();
    let collect = client
        .collect(json!({"events": [source_event()], "options": {"state": state}}))
        .unwrap();
    assert!(
        collect["client"]["locationHint"].is_null(),
        "a 202 has no hint"
    );
    let paths: Vec<String> = edge.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/ee/v2/interact",
            "/ee/irl1/v2/interact",
            "/ee/jpn3/v2/interact",
            "/ee/jpn3/v2/collect"
        ]
    );
    let e = client
        .interact(json!({"event": source_event(), "options": {"locationHint": "../x"}}))
        .unwrap_err();
    assert!(e.message.contains("options.locationHint"), "{}", e.message);
}

#[test]
fn an_unknown_per_call_hint_is_dropped_for_that_call_only() {
    let edge = emulator_with(Options {
        hints: vec!["or2".into(), "irl1".into()],
        ..Options::default()
    });
    let client = client(
        &edge.base_url(),
        json!({"session": "none", "retry": {"maxAttempts": 1}}),
    );
    let result = client
        .interact(json!({"event": source_event(), "options": {"locationHint": "va6"}}))
        .unwrap();
    assert_eq!(result["client"]["attempts"], 2);
    client
        .interact(json!({"event": source_event(), "options": {"locationHint": "irl1"}}))
        .unwrap();
    let paths: Vec<String> = edge.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/ee/va6/v2/interact",
            "/ee/v2/interact",
            "/ee/irl1/v2/interact"
        ]
    );
    assert_eq!(client.session()["hintRouting"], true);
}

#[test]
fn hint_routing_off_never_sends_a_hint() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({"hintRouting": "off"}));
    client.interact(source_request()).unwrap();
    client
        .interact(json!({"event": source_event(), "options": {"locationHint": "irl1"}}))
        .unwrap();
    assert!(edge.requests().iter().all(|r| r.path == "/ee/v2/interact"));
}

#[test]
fn the_next_state_keeps_an_anonymous_visitor_across_visits() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({"session": "none", "orgId": ORG}));
    let fetch = json!({"identity": {"fetch": ["ECID"]}});
    let first = client
        .interact(json!({"event": {"xdm": {}}, "query": fetch}))
        .unwrap();
    let ecid = ecid_of(&first);
    let mut state = first["client"]["state"].clone();
    let mut stored = keys(&state);
    stored.sort();
    assert_eq!(stored, [CLUSTER_KEY, IDENTITY_KEY]);
    let before = now_ms();
    let identity = state
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == IDENTITY_KEY)
        .unwrap();
    assert!(identity["expiresAt"].as_u64().unwrap() > before + 300 * 24 * 3600 * 1000);

    for visit in 2..=5 {
        let r = client
            .interact(json!({"event": {"xdm": {}}, "query": fetch, "options": {"state": state}}))
            .unwrap();
        assert_eq!(ecid_of(&r), ecid, "visit {visit} is the same visitor");
        state = r["client"]["state"].clone();
        assert!(
            keys(&state).contains(&IDENTITY_KEY.to_string()),
            "visit {visit}"
        );
    }
}

#[test]
fn expired_and_deleted_entries_are_neither_sent_nor_kept() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({"orgId": ORG}));
    let now = now_ms();
    let state = json!([
        {"key": "live", "value": "1", "expiresAt": now + 600_000},
        {"key": "expired", "value": "2", "expiresAt": now - 1},
        {"key": "deleted", "value": "3", "maxAge": 0},
        {"key": "kept", "value": "4", "maxAge": 60}
    ]);
    let r = client
        .interact(json!({"event": source_event(), "options": {"state": state}}))
        .unwrap();
    let sent = edge.requests()[0].json().unwrap();
    assert_eq!(keys(&sent["meta"]["state"]["entries"]), ["live", "kept"]);
    let next = r["client"]["state"].as_array().unwrap();
    let live = next.iter().find(|e| e["key"] == "live").unwrap();
    assert_eq!(live["expiresAt"], now + 600_000);
    assert!(next
        .iter()
        .all(|e| e["key"] != "expired" && e["key"] != "deleted"));
    // A device session without options.state reports no next state.
    let own = client.interact(source_request()).unwrap();
    assert!(own["client"].get("state").is_none());
}

#[test]
fn a_datastream_override_names_the_configured_datastream() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    client
        .interact(json!({"event": source_event(), "options": {"datastreamId": "other-ds"}}))
        .unwrap();
    client.interact(source_request()).unwrap();
    let sent = edge.requests();
    assert_eq!(sent[0].query_param("dataStreamId"), Some("other-ds"));
    assert_eq!(
        sent[0].json().unwrap()["meta"]["sdkConfig"]["datastream"]["original"],
        "demo-datastream"
    );
    assert!(sent[1].json().unwrap()["meta"]["sdkConfig"].is_null());
}

#[test]
fn the_staging_base_path_is_used_for_every_call() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({"edgeBasePath": "ee-pre-prd"}));
    // The emulator may or may not serve staging; the path sent is what counts.
    let _ = client.interact(source_request());
    let _ = client.collect(json!({"events": [source_event()]}));
    let paths: Vec<String> = edge.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths.len(), 2);
    assert_eq!(paths[0], "/ee-pre-prd/v2/interact");
    // An emulator that serves staging gives a hint, which the collect follows.
    assert!(
        paths[1].starts_with("/ee-pre-prd/") && paths[1].ends_with("/v2/collect"),
        "{paths:?}"
    );
    let e = aep_edge::Config::from_value(&config(&edge.base_url(), json!({"edgeBasePath": "/ee"})))
        .unwrap_err();
    assert!(e.message.contains("edgeBasePath"), "{}", e.message);
}

/// The hint as a host, `{hint}.server.adobedc.net`, over HTTPS on loopback:
/// `resolve` pins each name to the emulator and TLS verifies it against a
/// test CA.
#[test]
fn on_the_server_host_a_hint_routes_as_a_sub_domain_and_its_404_falls_back() {
    use aep_edge_emulator::{Fault, TlsIdentity};
    let names = [
        "server.adobedc.net",
        "or2.server.adobedc.net",
        "irl1.server.adobedc.net",
    ];
    let (ca, chain, key) = test_pki_for(&names);
    let edge = emulator_with(Options {
        tls: Some(TlsIdentity {
            cert_chain_pem: chain,
            key_pem: key,
        }),
        ..Options::default()
    });
    let dir = std::env::temp_dir().join(format!("aep-edge-visitors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca).unwrap();
    let address = edge.base_url().trim_start_matches("https://").to_string();
    let resolve: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| (n.to_string(), json!(address)))
        .collect();
    let mut c = config("https://unused.example", json!({}));
    c.as_object_mut().unwrap().remove("baseUrl");
    c["edgeDomain"] = json!("server.adobedc.net");
    c["tls"] = json!({"caFile": ca_path});
    c["resolve"] = Value::Object(resolve);
    c["retry"]["maxAttempts"] = json!(1);
    let client = aep_edge::Client::new(aep_edge::Config::from_value(&c).unwrap()).unwrap();

    client.interact(source_request()).unwrap(); // learns or2
    client.interact(source_request()).unwrap();
    client
        .interact(json!({"event": source_event(), "options": {"locationHint": "irl1"}}))
        .unwrap();
    // The session's hint answered 404 with an empty body: sent again to the
    // plain host at once, and hints stay off for this client. (The session
    // follows the hint of every answer: irl1 when the emulator routes by host.)
    let session_hint = client.session()["locationHint"]["hint"]
        .as_str()
        .unwrap()
        .to_string();
    edge.inject(Fault {
        status: Some(404),
        body: Some(String::new()),
        ..Fault::default()
    });
    let fell_back = client.interact(source_request()).unwrap();
    assert_eq!(fell_back["client"]["attempts"], 2);
    client.collect(json!({"events": [source_event()]})).unwrap();

    let seen: Vec<(String, String)> = edge
        .requests()
        .iter()
        .map(|r| {
            (
                r.header("host").unwrap_or_default().to_string(),
                r.path.clone(),
            )
        })
        .collect();
    let hinted = format!("{session_hint}.server.adobedc.net");
    let expected = [
        ("server.adobedc.net", "/ee/v2/interact"),
        ("or2.server.adobedc.net", "/ee/v2/interact"),
        ("irl1.server.adobedc.net", "/ee/v2/interact"),
        (hinted.as_str(), "/ee/v2/interact"),
        ("server.adobedc.net", "/ee/v2/interact"),
        ("server.adobedc.net", "/ee/v2/collect"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(client.session()["hintRouting"], false);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn client_headers_report_the_response_facts_present() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    edge.inject(aep_edge_emulator::Fault {
        retry_after: Some("7".into()),
        ..aep_edge_emulator::Fault::default()
    });
    let r = client.interact(source_request()).unwrap();
    let headers = r["client"]["headers"].as_object().unwrap();
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(headers["x-adobe-edge"], r["client"]["region"]);
    let allowed = [
        "x-request-id",
        "x-rate-limit-remaining",
        "retry-after",
        "x-adobe-edge",
    ];
    assert!(
        headers.keys().all(|k| allowed.contains(&k.as_str())),
        "{headers:?}"
    );
    let r = client.interact(source_request()).unwrap();
    assert!(r["client"]["headers"].get("retry-after").is_none());
}

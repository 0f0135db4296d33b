//! The `/__emulator/` control endpoints used by the C, C++ and Python tests.

mod common;

use aep_edge_emulator::{Fault, Options};
use common::*;
use serde_json::json;

#[test]
fn health() {
    let emu = start(Options::default());
    let r = get(&format!("{}/__emulator/health", emu.base_url()));
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"ok": true}));
}

#[test]
fn requests_lists_edge_and_ims_traffic_only() {
    // Not about identity: an event without one is served.
    let emu = start(Options {
        lenient_identity: true,
        ..Options::default()
    });
    let base = emu.base_url();
    let url = format!("{base}/ee/v2/interact?dataStreamId=ds%201&requestId=r1");
    post_with(&url, r#"{"event":{"xdm":{"a":1}}}"#, &[("X-Custom", "v")]);
    post(&format!("{base}/ims/token/v3"), "grant_type=x");
    post(&format!("{base}/ee/v2/collect?dataStreamId=d"), "not json");
    get(&format!("{base}/__emulator/health"));

    let list = get(&format!("{base}/__emulator/requests")).json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3, "{list:?}");
    let first = &list[0];
    assert_eq!(first["method"], "POST");
    assert_eq!(first["path"], "/ee/v2/interact");
    assert_eq!(
        first["query"],
        json!({"dataStreamId": "ds 1", "requestId": "r1"})
    );
    assert_eq!(first["headers"]["x-custom"], "v");
    assert_eq!(first["body"], json!({"event": {"xdm": {"a": 1}}}));
    assert_eq!(first["status"], 200);
    assert_eq!(list[1]["path"], "/ims/token/v3");
    assert_eq!(list[1]["status"], 400);
    assert_eq!(
        list[2]["body"], "not json",
        "a body that is not JSON comes as a string"
    );
    assert_eq!(list[2]["status"], 400);

    // The library view agrees.
    let recorded = emu.requests();
    assert_eq!(recorded[0].query_param("dataStreamId"), Some("ds 1"));
    assert_eq!(recorded[0].header("X-CUSTOM"), Some("v"));
    assert_eq!(recorded[0].json().unwrap()["event"]["xdm"]["a"], 1);
    assert!(recorded[0]
        .headers
        .iter()
        .all(|(k, _)| k == &k.to_lowercase()));
    assert_eq!(recorded[2].json(), None);
}

#[test]
fn faults_accepts_an_object_or_an_array() {
    let emu = start(Options::default());
    let base = emu.base_url();
    let faults = format!("{base}/__emulator/faults");
    let r = post_json(
        &faults,
        &json!({"status": 503, "retryAfter": "7", "pathContains": "/interact"}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"ok": true, "queued": 1}));
    let r = post_json(
        &faults,
        &json!([{"delayMs": 1, "status": 502, "count": 2}, {"malformed": true}]),
    );
    assert_eq!(r.json()["queued"], 2);

    let interact = interact_url(&emu);
    let r = post(&interact, EVENT);
    assert_eq!((r.status, r.header("retry-after")), (503, Some("7")));
    assert_eq!(post(&interact, EVENT).status, 502);
    assert_eq!(post(&interact, EVENT).status, 502);
    let r = post(&interact, EVENT);
    assert!(serde_json::from_str::<serde_json::Value>(&r.body).is_err());
    assert_eq!(post(&interact, EVENT).status, 200);
}

#[test]
fn faults_rejects_bad_input() {
    let emu = start(Options::default());
    let faults = format!("{}/__emulator/faults", emu.base_url());
    for body in [r#"{"stauts":503}"#, r#"{"status":"503"}"#, "nope", "[1]"] {
        let r = post(&faults, body);
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json()["ok"], false);
        assert!(r.json()["error"].is_string());
    }
    // Nothing was queued.
    assert_eq!(post(&interact_url(&emu), EVENT).status, 200);
}

#[test]
fn reset_clears_recordings_and_faults() {
    let emu = start(Options::default());
    let base = emu.base_url();
    post(&interact_url(&emu), EVENT);
    emu.inject(Fault::status(500));
    let r = post(&format!("{base}/__emulator/reset"), "");
    assert_eq!(r.json(), json!({"ok": true}));
    assert_eq!(
        get(&format!("{base}/__emulator/requests")).json(),
        json!([])
    );
    assert_eq!(post(&interact_url(&emu), EVENT).status, 200);
}

#[test]
fn wrong_method_and_unknown_control_path() {
    let emu = start(Options::default());
    let base = emu.base_url();
    let r = post(&format!("{base}/__emulator/health"), "");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET")));
    assert_eq!(get(&format!("{base}/__emulator/faults")).status, 405);
    assert_eq!(get(&format!("{base}/__emulator/nothing")).status, 404);
    assert!(emu.requests().is_empty());
}

#[test]
fn max_recorded_keeps_the_newest() {
    let emu = start(Options {
        max_recorded: 2,
        ..Options::default()
    });
    for id in ["a", "b", "c"] {
        post_with(&interact_url(&emu), EVENT, &[("x-request-id", id)]);
    }
    let ids: Vec<_> = emu
        .requests()
        .iter()
        .map(|r| r.header("x-request-id").unwrap().to_string())
        .collect();
    assert_eq!(ids, ["b", "c"]);
}

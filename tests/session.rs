//! The session rules of design.md §3.4 against the emulator: state round-trip,
//! session "none", regional routing, identity, reset, persistence.
#![allow(clippy::result_large_err)]

mod common;

use aep_edge::ErrorKind;
use aep_edge_emulator::{Fault, Options};
use common::*;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::PathBuf;

fn entries_sent(edge: &aep_edge_emulator::Emulator, index: usize) -> Value {
    edge.requests()[index].json().unwrap()["meta"]["state"]["entries"].clone()
}

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

fn ecid_of(result: &Value) -> Option<String> {
    handles(result, "identity:result")
        .first()
        .map(|h| h["payload"][0]["id"].as_str().unwrap().to_string())
}

fn temp_state_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aep-edge-session-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("session.json")
}

#[test]
fn device_state_is_echoed_and_deleted() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    let first = client.interact(source_request()).unwrap();
    assert!(
        entries_sent(&edge, 0).is_null(),
        "a new visitor sends no state"
    );
    let first_body = edge.requests()[0].json().unwrap();
    assert_eq!(
        first_body["query"]["identity"]["fetch"],
        json!(["ECID"]),
        "the ECID is asked for"
    );
    let ecid = ecid_of(&first).expect("identity:result");
    assert_eq!(client.session()["ecid"], ecid.as_str());

    client.interact(source_request()).unwrap();
    let sent = keys(&entries_sent(&edge, 1));
    let org = "kndctr_53A16ACB5CC1D3760A495C99_AdobeOrg";
    assert_eq!(sent, [format!("{org}_cluster"), format!("{org}_identity")]);
    let second = edge.requests()[1].json().unwrap();
    assert!(
        second["query"]["identity"].is_null(),
        "the ECID is known now"
    );

    // The server deletes an entry with maxAge 0: it is no longer sent.
    let mut delete = serde_json::from_str::<Value>(include_str!(
        "fixtures/response-interact-200-empty-handle.json"
    ))
    .unwrap();
    delete["handle"] = json!([{"type": "state:store", "payload": [{"key": format!("{org}_cluster"), "maxAge": 0}]}]);
    edge.inject(Fault {
        status: Some(200),
        body: Some(delete.to_string()),
        content_type: Some("application/json".into()),
        ..Fault::default()
    });
    client.interact(source_request()).unwrap();
    let view = client.session();
    assert_eq!(keys(&view["entries"]), [format!("{org}_identity")]);
    client.interact(source_request()).unwrap();
    let sent = keys(&entries_sent(&edge, 3));
    assert_eq!(
        sent,
        [format!("{org}_identity")],
        "the deleted cluster entry is gone"
    );
}

#[test]
fn the_callers_own_entries_win_key_by_key() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    client.interact(source_request()).unwrap();
    let org = "kndctr_53A16ACB5CC1D3760A495C99_AdobeOrg";
    client
        .interact(json!({"event": source_event(), "meta": {"state": {"entries": [{"key": format!("{org}_cluster"), "value": "mine"}]}}}))
        .unwrap();
    let sent = entries_sent(&edge, 1);
    let cluster: Vec<&Value> = sent
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["key"] == format!("{org}_cluster"))
        .collect();
    assert_eq!(cluster.len(), 1);
    assert_eq!(cluster[0]["value"], "mine");
}

#[test]
fn session_none_sends_only_what_the_call_passes() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({"session": "none"}));
    let first = client.interact(source_request()).unwrap();
    client.interact(source_request()).unwrap();
    let requests = edge.requests();
    assert!(
        requests.iter().all(|r| r.path == "/ee/v2/interact"),
        "no hint routing"
    );
    for r in &requests {
        let body = r.json().unwrap();
        assert!(body["meta"]["state"].is_null(), "nothing kept or sent");
        assert!(
            body["query"]["identity"].is_null(),
            "no identity fetch added"
        );
    }
    // What a server keeps per visitor and passes back:
    let entries: Vec<Value> = handles(&first, "state:store")[0]["payload"]
        .as_array()
        .unwrap()
        .clone();
    client
        .interact(json!({"event": source_event(), "options": {"state": entries}}))
        .unwrap();
    assert_eq!(keys(&entries_sent(&edge, 2)).len(), 2);
    assert_eq!(client.session()["entries"], json!([]));
}

#[test]
fn the_location_hint_routes_later_calls_until_a_404_turns_it_off() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    client.interact(source_request()).unwrap();
    client.interact(source_request()).unwrap();
    client.collect(json!({"events": [{}]})).unwrap();
    let paths: Vec<String> = edge.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/ee/v2/interact",
            "/ee/or2/v2/interact",
            "/ee/or2/v2/collect"
        ]
    );
    assert_eq!(client.session()["locationHint"]["hint"], "or2");

    // A hint the server does not know: 404 with an empty body, sent again
    // without the hint at once, and hints stay off.
    let stale = emulator_with(Options {
        default_hint: "zz9".into(),
        ..Options::default()
    });
    let rerouted = self::client(&stale.base_url(), json!({"retry": {"maxAttempts": 1}}));
    rerouted.interact(source_request()).unwrap();
    let result = rerouted.interact(source_request()).unwrap();
    assert_eq!(
        result["client"]["attempts"], 2,
        "the re-send counts, even past maxAttempts"
    );
    rerouted.interact(source_request()).unwrap();
    let paths: Vec<String> = stale.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/ee/v2/interact",
            "/ee/zz9/v2/interact",
            "/ee/v2/interact",
            "/ee/v2/interact"
        ]
    );
    assert_eq!(stale.requests()[1].response_status, 404);
    assert_eq!(rerouted.session()["hintRouting"], false);
}

#[test]
fn concurrent_first_calls_mint_one_ecid() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    edge.inject(Fault::delay(300));
    let ecids: Vec<Option<String>> = std::thread::scope(|s| {
        let calls: Vec<_> = (0..8)
            .map(|_| s.spawn(|| client.interact(source_request()).unwrap()))
            .collect();
        calls
            .into_iter()
            .map(|c| ecid_of(&c.join().unwrap()))
            .collect()
    });
    let minted: HashSet<String> = ecids.into_iter().flatten().collect();
    assert_eq!(minted.len(), 1, "one identity: {minted:?}");
    let requests = edge.requests();
    let without_state = requests
        .iter()
        .filter(|r| r.json().unwrap()["meta"]["state"].is_null())
        .count();
    assert_eq!(
        without_state, 1,
        "only the first call went out without identity state"
    );
}

#[test]
fn an_event_with_its_own_ecid_is_not_held_back() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    let mut event = source_event();
    event["xdm"]["identityMap"]["ECID"] = json!([{"id": "12345678901234567890123456789012345678"}]);
    edge.inject(Fault::delay(500));
    std::thread::scope(|s| {
        let slow = s.spawn(|| client.interact(source_request()).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(100));
        let started = std::time::Instant::now();
        client.interact(json!({"event": event})).unwrap();
        assert!(
            started.elapsed() < std::time::Duration::from_millis(300),
            "not gated"
        );
        slow.join().unwrap();
    });
}

#[test]
fn reset_clears_everything_and_ignores_answers_to_older_requests() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    client.interact(source_request()).unwrap();
    assert!(client.session()["ecid"].is_string());
    client.reset_session().unwrap();
    let view = client.session();
    assert_eq!(view["ecid"], Value::Null);
    assert_eq!(view["locationHint"], Value::Null);
    assert_eq!(view["entries"], json!([]));

    // A call in flight across a reset brings nothing back into the session.
    edge.inject(Fault::delay(400));
    std::thread::scope(|s| {
        let call = s.spawn(|| client.interact(source_request()).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(100));
        client.reset_session().unwrap();
        call.join().unwrap();
    });
    assert_eq!(client.session()["entries"], json!([]));
    client.interact(source_request()).unwrap();
    let last = edge.requests().pop().unwrap().json().unwrap();
    assert!(
        last["meta"]["state"].is_null(),
        "the next visitor starts fresh"
    );
    assert_eq!(last["query"]["identity"]["fetch"], json!(["ECID"]));
}

#[test]
fn the_session_survives_a_restart_through_the_state_file() {
    let edge = emulator();
    let path = temp_state_path("restart");
    let config = json!({"statePath": path.to_str().unwrap()});
    let first = client(&edge.base_url(), config.clone());
    let ecid = ecid_of(&first.interact(source_request()).unwrap()).unwrap();
    drop(first);

    let again = client(&edge.base_url(), config.clone());
    assert_eq!(again.session()["ecid"], ecid.as_str());
    assert_eq!(again.session()["locationHint"]["hint"], "or2");
    again.interact(source_request()).unwrap();
    let sent = edge.requests().pop().unwrap();
    assert_eq!(sent.path, "/ee/or2/v2/interact");
    assert_eq!(
        keys(&sent.json().unwrap()["meta"]["state"]["entries"]).len(),
        2
    );

    again.reset_session().unwrap();
    let after_reset = client(&edge.base_url(), config);
    assert_eq!(
        after_reset.session()["ecid"],
        Value::Null,
        "the file was cleared too"
    );
}

#[test]
fn a_corrupt_or_foreign_state_file_is_reported_and_replaced() {
    let edge = emulator();
    let path = temp_state_path("corrupt");
    std::fs::write(&path, "{\"garbage").unwrap();
    let client = client(
        &edge.base_url(),
        json!({"statePath": path.to_str().unwrap()}),
    );
    let warning = client.session()["storageWarning"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(warning.contains("not valid JSON"), "{warning}");
    let logged: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let sink = logged.clone();
    client.set_logger(
        2,
        Some(std::sync::Arc::new(move |_, m: &str| {
            sink.lock().unwrap().push(m.to_string())
        })),
    );
    client.interact(source_request()).unwrap();
    client.interact(source_request()).unwrap();
    let warnings = logged
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains("not valid JSON"))
        .count();
    assert_eq!(warnings, 1, "the warning is logged once");
    assert_eq!(
        client.session()["storageWarning"],
        warning.as_str(),
        "and stays in the view"
    );
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(saved["format"], "aep-edge-session");
    assert_eq!(saved["datastreamId"], "demo-datastream");

    let other = self::client(
        &edge.base_url(),
        json!({"statePath": path.to_str().unwrap(), "datastreamId": "another"}),
    );
    assert_eq!(
        other.session()["ecid"],
        Value::Null,
        "another datastream's file is ignored"
    );
}

#[test]
fn an_unusable_state_path_is_a_storage_error() {
    let e = aep_edge::Client::new(
        aep_edge::Config::from_value(&config(
            "http://127.0.0.1:9",
            json!({"statePath": "/proc/no/such/dir/s.json"}),
        ))
        .unwrap(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Storage);
    assert_eq!(e.to_json()["error"]["status"], 13);
}

#[test]
fn two_clients_sharing_a_state_file_keep_one_identity() {
    let edge = emulator();
    let path = temp_state_path("shared");
    let config = json!({"statePath": path.to_str().unwrap()});
    let a = client(&edge.base_url(), config.clone());
    let b = client(&edge.base_url(), config);
    edge.inject(Fault::delay(300));
    std::thread::scope(|s| {
        let ta = s.spawn(|| a.interact(source_request()).unwrap());
        let tb = s.spawn(|| b.interact(source_request()).unwrap());
        ta.join().unwrap();
        tb.join().unwrap();
    });
    assert_eq!(a.session()["ecid"], b.session()["ecid"]);
    assert!(a.session()["ecid"].is_string());
}

/// The same across real processes: this test binary runs itself twice.
#[test]
fn two_processes_sharing_a_state_file_keep_one_identity() {
    let edge = emulator();
    let path = temp_state_path("processes");
    edge.inject(Fault::delay(300));
    let spawn = || {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_process_first_call",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("AEP_EDGE_CHILD_BASE_URL", edge.base_url())
            .env("AEP_EDGE_CHILD_STATE_PATH", &path)
            .output()
            .unwrap()
    };
    let (one, two) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap(), b.join().unwrap())
    });
    let ecid = |out: &std::process::Output| -> String {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .find_map(|l| l.split("ECID=").nth(1))
            .expect("the child printed its ECID")
            .to_string()
    };
    assert_eq!(ecid(&one), ecid(&two));
    let minted = edge
        .requests()
        .iter()
        .filter(|r| r.json().unwrap()["meta"]["state"].is_null())
        .count();
    assert_eq!(minted, 1);
}

#[test]
#[ignore = "run by two_processes_sharing_a_state_file_keep_one_identity"]
fn child_process_first_call() {
    let (Ok(url), Ok(path)) = (
        std::env::var("AEP_EDGE_CHILD_BASE_URL"),
        std::env::var("AEP_EDGE_CHILD_STATE_PATH"),
    ) else {
        return;
    };
    let client = client(&url, json!({"statePath": path}));
    client.interact(source_request()).unwrap();
    println!("\nECID={}", client.session()["ecid"].as_str().unwrap());
}

#[test]
fn a_reopened_client_keeps_the_visitor() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    client.interact(source_request()).unwrap();
    let reopened = client.reopen().unwrap();
    assert_eq!(reopened.session()["ecid"], client.session()["ecid"]);
    reopened.interact(source_request()).unwrap();
    let last = edge.requests().pop().unwrap();
    assert_eq!(last.path, "/ee/or2/v2/interact");
    assert!(last.json().unwrap()["meta"]["state"]["entries"].is_array());
}

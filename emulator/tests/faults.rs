//! Each injected fault kind, seen from a client over loopback.

mod common;

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

use aep_edge_emulator::{Fault, Options};
use common::*;

#[test]
fn status_with_retry_after_then_normal() {
    let emu = start(Options::default());
    emu.inject(Fault::status(503).with_retry_after("2"));
    let r = post(&interact_url(&emu), EVENT);
    assert_eq!((r.status, r.exeg()), (503, "EXEG-0000-503".to_string()));
    assert_eq!(r.header("retry-after"), Some("2"));
    let r = post(&interact_url(&emu), EVENT);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("retry-after"), None);
    let statuses: Vec<u16> = emu.requests().iter().map(|r| r.response_status).collect();
    assert_eq!(statuses, [503, 200]);
}

#[test]
fn statuses_map_to_edge_problems() {
    let emu = start(Options::default());
    for (status, code) in [
        (500, "EXEG-0001-500"),
        (502, "EXEG-0202-502"),
        (504, "EXEG-0200-504"),
    ] {
        emu.inject(Fault::status(status));
        let r = post(&interact_url(&emu), EVENT);
        assert_eq!(r.status, status);
        assert_eq!(r.exeg(), code);
    }
    emu.inject(Fault::status(429).with_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"));
    let r = post(&interact_url(&emu), EVENT);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.json()["title"], "Too Many Requests");
    assert_eq!(
        r.header("retry-after"),
        Some("Wed, 21 Oct 2015 07:28:00 GMT")
    );
    emu.inject(Fault::status(418));
    let r = post(&interact_url(&emu), EVENT);
    assert_eq!((r.status, r.json()["status"].as_u64()), (418, Some(418)));
}

#[test]
fn count_and_path_filter() {
    let emu = start(Options::default());
    emu.inject(Fault::status(502).times(2).on_path("/collect"));
    let collect = format!("{}/ee/v2/collect?dataStreamId={DS}", emu.base_url());
    let batch = BATCH;
    assert_eq!(post(&interact_url(&emu), EVENT).status, 200);
    assert_eq!(post(&collect, batch).status, 502);
    assert_eq!(post(&collect, batch).status, 502);
    assert_eq!(post(&collect, batch).status, 202);
}

#[test]
fn faults_are_fifo() {
    let emu = start(Options::default());
    emu.inject(Fault::status(500));
    emu.inject(Fault::status(503));
    assert_eq!(post(&interact_url(&emu), EVENT).status, 500);
    assert_eq!(post(&interact_url(&emu), EVENT).status, 503);
    assert_eq!(post(&interact_url(&emu), EVENT).status, 200);
}

#[test]
fn custom_body_and_empty_404() {
    let emu = start(Options::default());
    emu.inject(Fault {
        status: Some(400),
        body: Some("plain words".into()),
        content_type: Some("text/html".into()),
        ..Fault::default()
    });
    let r = post(&interact_url(&emu), EVENT);
    assert_eq!((r.status, r.body.as_str()), (400, "plain words"));
    assert_eq!(r.header("content-type"), Some("text/html"));

    emu.inject(Fault {
        status: Some(404),
        body: Some(String::new()),
        ..Fault::default()
    });
    let mut conn = connect(emu.addr());
    send(
        &mut conn,
        &raw_post(&format!("/ee/v2/interact?dataStreamId={DS}"), EVENT, ""),
    );
    let r = read_response(&mut conn).unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-length").as_deref(), Some("0"));
    assert_eq!(r.header("content-type"), None);
}

#[test]
fn delay_then_normal_answer() {
    let emu = start(Options::default());
    emu.inject(Fault::delay(300));
    let t = Instant::now();
    let r = post(&interact_url(&emu), EVENT);
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(r.status, 200);
    let t = Instant::now();
    post(&interact_url(&emu), EVENT);
    assert!(t.elapsed() < Duration::from_millis(300));
}

#[test]
fn delay_then_status() {
    let emu = start(Options::default());
    emu.inject(Fault {
        delay_ms: 200,
        status: Some(504),
        ..Fault::default()
    });
    let t = Instant::now();
    let r = post(&interact_url(&emu), EVENT);
    assert!(t.elapsed() >= Duration::from_millis(200));
    assert_eq!(r.exeg(), "EXEG-0200-504");
}

#[test]
fn reset_sends_rst_and_no_response() {
    let emu = start(Options::default());
    emu.inject(Fault::reset());
    let mut conn = connect(emu.addr());
    send(
        &mut conn,
        &raw_post(&format!("/ee/v2/interact?dataStreamId={DS}"), EVENT, ""),
    );
    let mut buf = Vec::new();
    let err = conn.read_to_end(&mut buf).expect_err("the read fails");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    assert!(buf.is_empty());
    // ureq sees a transport error too, and the next request is fine.
    emu.inject(Fault::reset());
    assert!(agent().post(&interact_url(&emu)).send(EVENT).is_err());
    assert_eq!(post(&interact_url(&emu), EVENT).status, 200);
    let statuses: Vec<u16> = emu.requests().iter().map(|r| r.response_status).collect();
    assert_eq!(statuses, [0, 0, 200]);
}

#[test]
fn truncate_announces_more_than_it_sends() {
    let emu = start(Options::default());
    emu.inject(Fault {
        truncate: true,
        ..Fault::default()
    });
    let mut conn = connect(emu.addr());
    send(
        &mut conn,
        &raw_post(&format!("/ee/v2/interact?dataStreamId={DS}"), EVENT, ""),
    );
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        body.len() < length && !body.is_empty(),
        "{} of {length}",
        body.len()
    );

    emu.inject(Fault {
        truncate: true,
        ..Fault::default()
    });
    let mut resp = agent().post(&interact_url(&emu)).send(EVENT).unwrap();
    assert!(
        resp.body_mut().read_to_string().is_err(),
        "ureq notices the short body"
    );
    assert_eq!(emu.requests().last().unwrap().response_status, 200);
}

#[test]
fn malformed_body_is_not_json() {
    let emu = start(Options::default());
    emu.inject(Fault {
        malformed: true,
        ..Fault::default()
    });
    let r = post(&interact_url(&emu), EVENT);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(!r.body.is_empty());
    assert!(serde_json::from_str::<serde_json::Value>(&r.body).is_err());
}

#[test]
fn control_requests_neither_take_faults_nor_get_recorded() {
    let emu = start(Options::default());
    emu.inject(Fault::status(500));
    assert_eq!(
        get(&format!("{}/__emulator/health", emu.base_url())).status,
        200
    );
    assert!(emu.requests().is_empty());
    assert_eq!(post(&interact_url(&emu), EVENT).status, 500);
}

#[test]
fn ims_requests_take_faults() {
    let emu = start(Options::default());
    emu.inject(Fault::status(503).on_path("/ims/"));
    let url = format!("{}/ims/token/v3", emu.base_url());
    let form = "grant_type=client_credentials&client_id=a&client_secret=b&scope=s";
    assert_eq!(post(&interact_url(&emu), EVENT).status, 200);
    assert_eq!(post(&url, form).status, 503);
    assert_eq!(post(&url, form).status, 200);
}

#[test]
fn reset_clears_queued_faults() {
    let emu = start(Options::default());
    emu.inject(Fault::status(500).times(5));
    post(&interact_url(&emu), EVENT);
    emu.reset();
    assert!(emu.requests().is_empty());
    assert_eq!(post(&interact_url(&emu), EVENT).status, 200);
}

fn batch(ids: &[&str]) -> String {
    let events: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| serde_json::json!({"xdm": {"_id": id, "eventType": "test"}}))
        .collect();
    serde_json::json!({ "events": events }).to_string()
}

fn collect_url(emu: &aep_edge_emulator::Emulator) -> String {
    format!("{}/ee/v2/collect?dataStreamId={DS}", emu.base_url())
}

#[test]
fn rejection_refuses_batches_naming_the_event_and_survives_splits() {
    let emu = start(lenient());
    emu.inject(Fault::reject_events(&["bad"], 422).times(100));
    // A batch holding the event is refused whole, as often as it is re-sent or split.
    for ids in [
        &["a", "b", "bad", "c"][..],
        &["a", "b", "bad", "c"],
        &["bad", "c"],
        &["bad"],
    ] {
        let r = post(&collect_url(&emu), &batch(ids));
        assert_eq!((r.status, r.exeg()), (422, "EXEG-0104-422".to_string()));
        let body = r.json();
        assert_eq!(
            body["detail"],
            "Invalid request (report attached). Please check your input and try again."
        );
        let errors = body["report"]["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{body}");
        let index = ids.iter().position(|i| *i == "bad").unwrap();
        assert!(
            errors[0]
                .as_str()
                .unwrap()
                .contains(&format!("'bad' at index {index}")),
            "{body}"
        );
        assert_eq!(body["report"]["orgId"], aep_edge_emulator::DEFAULT_ORG_ID);
    }
    // The halves without it go through, and do not use the fault up.
    assert_eq!(post(&collect_url(&emu), &batch(&["a", "b"])).status, 202);
    assert_eq!(post(&collect_url(&emu), &batch(&["c"])).status, 202);
    assert_eq!(post(&collect_url(&emu), &batch(&["bad"])).status, 422);
}

#[test]
fn rejection_count_runs_out() {
    let emu = start(lenient());
    emu.inject(Fault::reject_events(&["x"], 400).times(2));
    let r = post(&collect_url(&emu), &batch(&["a", "x"]));
    assert_eq!((r.status, r.exeg()), (400, "EXEG-0102-400".to_string()));
    assert!(r.json()["detail"].as_str().unwrap().contains("'x'"));
    assert_eq!(post(&collect_url(&emu), &batch(&["a"])).status, 202);
    assert_eq!(post(&collect_url(&emu), &batch(&["x"])).status, 400);
    assert_eq!(post(&collect_url(&emu), &batch(&["x"])).status, 202);
}

#[test]
fn rejection_413_and_interact() {
    let emu = start(lenient());
    emu.inject(Fault::reject_events(&["big"], 413));
    let r = post(&collect_url(&emu), &batch(&["big"]));
    assert_eq!((r.status, r.exeg()), (413, "EXEG-0112-413".to_string()));
    // interact v2 carries one event; its id is looked up the same way.
    emu.inject(Fault::reject_events(&["one"], 422));
    let other = r#"{"event":{"xdm":{"_id":"two"}}}"#;
    let named = r#"{"event":{"xdm":{"_id":"one"}}}"#;
    assert_eq!(post(&interact_url(&emu), other).status, 200);
    assert_eq!(post(&interact_url(&emu), named).status, 422);
    assert_eq!(post(&interact_url(&emu), named).status, 200);
}

#[test]
fn rejection_207_names_each_event_by_index() {
    let emu = start(lenient());
    emu.inject(Fault::reject_events(&["p", "r"], 207).times(3));
    let r = post(&collect_url(&emu), &batch(&["o", "p", "q", "r"]));
    assert_eq!(r.status, 207);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert!(body["requestId"].is_string(), "{body}");
    assert_eq!(body["handle"], serde_json::json!([]));
    let errors = body["errors"].as_array().unwrap();
    let indexes: Vec<u64> = errors
        .iter()
        .map(|e| e["report"]["eventIndex"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [1, 3]);
    for e in errors {
        assert!(e["type"]
            .as_str()
            .unwrap()
            .starts_with("https://ns.adobe.com/aep/errors/EXEG-"));
        assert!(e["status"].is_u64() && e["title"].is_string(), "{e}");
    }
    // A 207 interact keeps its normal handles.
    let r = post(
        &interact_url(&emu),
        r#"{"event":{"xdm":{"_id":"p"}},"query":{"identity":{"fetch":["ECID"]}}}"#,
    );
    assert_eq!(r.status, 207);
    assert!(r.handle_types().contains(&"identity:result".to_string()));
    assert_eq!(r.json()["errors"][0]["report"]["eventIndex"], 0);
    assert!(r.header("x-adobe-edge").is_some());
    // A silent collect (normally 204) gets the 207 body too.
    let silent = format!("{}&silent=true", collect_url(&emu));
    let r = post(&silent, &batch(&["r"]));
    assert_eq!(r.status, 207);
    assert!(r.json()["requestId"].is_string(), "{}", r.body);
}

#[test]
fn rejection_through_the_control_endpoint() {
    let emu = start(lenient());
    let faults = format!("{}/__emulator/faults", emu.base_url());
    let r = post(
        &faults,
        r#"{"rejectEventIds":["e2"],"rejectStatus":207,"count":5,"pathContains":"/collect"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(&faults, r#"{"rejectEventIds":["e2"],"status":500}"#);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("rejectEventIds"), "{}", r.body);
    let r = post(&faults, r#"{"rejectEventIds":["e2"],"rejectStatus":418}"#);
    assert_eq!(r.status, 400);
    let r = post(&collect_url(&emu), &batch(&["e1", "e2"]));
    assert_eq!(r.status, 207);
    assert_eq!(r.json()["errors"][0]["report"]["eventIndex"], 1);
}

#[test]
fn headers_ride_on_the_answer_and_unsafe_ones_are_refused() {
    let emu = start(Options::default());
    let faults = format!("{}/__emulator/faults", emu.base_url());
    // A recorded answer replayed with its recorded header (alloy's identity spec).
    let r = post(
        &faults,
        r#"{"status":200,"body":{"requestId":"r","handle":[]},"headers":{"x-adobe-edge":"or2;35","x-konductor":"25.1.0"}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(&interact_url(&emu), EVENT);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-adobe-edge"), Some("or2;35"));
    assert_eq!(r.header("x-konductor"), Some("25.1.0"));
    assert!(r.header("x-request-id").is_some(), "the usual headers stay");
    // Headers that would split or reframe the response are refused.
    let r = post(&faults, r#"{"status":200,"headers":{"x-a":"b\r\nx-b: c"}}"#);
    assert_eq!(r.status, 400, "{}", r.body);
    let r = post(
        &faults,
        r#"{"status":200,"headers":{"Transfer-Encoding":"chunked"}}"#,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(post(&interact_url(&emu), EVENT).header("x-konductor"), None);
}

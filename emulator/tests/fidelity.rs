//! The fidelity additions (design.md §5): what the real Edge Network does that a client
//! must cope with, over real loopback HTTP.

mod common;

use std::time::Duration;

use aep_edge_emulator::Options;
use common::*;
use serde_json::{json, Value};

const ORG_PREFIX: &str = "kndctr_53A16ACB5CC1D3760A495C99_AdobeOrg";

fn cluster_of(body: &Value) -> (String, String) {
    let handles = body["handle"].as_array().unwrap();
    let hint = handles
        .iter()
        .find(|h| h["type"] == "locationHint:result")
        .and_then(|h| {
            h["payload"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["scope"] == "EdgeNetwork")
        })
        .unwrap()["hint"]
        .as_str()
        .unwrap()
        .to_string();
    let entry = handles
        .iter()
        .filter(|h| h["type"] == "state:store")
        .flat_map(|h| h["payload"].as_array().unwrap())
        .find(|e| e["key"] == format!("{ORG_PREFIX}_cluster"))
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string();
    (hint, entry)
}

#[test]
fn hint_as_host_routes_and_reports_that_region() {
    let emu = start(Options::default());
    let path = format!("/ee/v2/interact?dataStreamId={DS}");
    let r = post_on_host(&emu, "irl1.server.adobedc.net", &path, EVENT);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("x-adobe-edge").as_deref(), Some("irl1;35"));
    assert_eq!(cluster_of(&r.json()), ("irl1".into(), "irl1".into()));
    // Any {hint}.{domain}, with a port.
    let r = post_on_host(&emu, "jpn3.edge.example.test:8443", &path, EVENT);
    assert_eq!(cluster_of(&r.json()).0, "jpn3");
    // No hint in the host: the default cluster.
    for host in ["server.adobedc.net", "127.0.0.1:9", "localhost"] {
        let r = post_on_host(&emu, host, &path, EVENT);
        assert_eq!(cluster_of(&r.json()).0, "or2", "{host}");
    }
    // An unknown hint on Adobe's host is Edge's bare 404.
    let r = post_on_host(&emu, "zz9.server.adobedc.net", &path, EVENT);
    assert_eq!((r.status, r.body.len()), (404, 0), "{r:?}");
    // Collect routes the same way.
    let collect = format!("/ee/v2/collect?dataStreamId={DS}");
    let r = post_on_host(&emu, "va6.server.adobedc.net", &collect, BATCH);
    assert_eq!(r.status, 202);
    assert_eq!(r.header("x-adobe-edge").as_deref(), Some("va6;35"));
}

#[test]
fn pre_production_base_path() {
    let emu = start(Options::default());
    let base = emu.base_url();
    let r = post(
        &format!("{base}/ee-pre-prd/v2/interact?dataStreamId={DS}"),
        EVENT,
    );
    assert_eq!(r.status, 200, "{r:?}");
    let r = post(
        &format!("{base}/ee-pre-prd/aus3/v2/collect?dataStreamId={DS}"),
        BATCH,
    );
    assert_eq!(r.status, 202);
    assert_eq!(r.header("x-adobe-edge"), Some("aus3;35"));
    let r = post(
        &format!("{base}/ee-pre-prd/nope/v2/interact?dataStreamId={DS}"),
        EVENT,
    );
    assert_eq!((r.status, r.body.as_str()), (404, ""));
}

#[test]
fn an_event_without_identity_is_exeg_0306() {
    let emu = start(Options::default());
    let url = interact_url(&emu);
    for body in [
        json!({"event": {}}),
        json!({"event": {"xdm": {"identityMap": {}}}}),
        json!({"event": {"xdm": {"identityMap": {"FPID": [{"id": ""}]}}}}),
        json!({"event": {"xdm": {}}, "query": {"identity": {"fetch": []}}}),
        json!({"event": {"xdm": {}}, "meta": {"state": {"entries": [{"key": "other", "value": "x"}]}}}),
    ] {
        let r = post_json(&url, &body);
        assert_eq!(
            (r.status, r.exeg()),
            (400, "EXEG-0306-400".into()),
            "{body}"
        );
        let b = r.json();
        assert_eq!(b["title"], "No primary identity set in request (event)");
        assert_eq!(
            b["detail"],
            "No primary identity found in the input event. Update the request accordingly to your schema and try again."
        );
        assert_eq!(b["report"]["configId"], DS);
        assert_eq!(b["report"]["orgId"], aep_edge_emulator::DEFAULT_ORG_ID);
    }
    // Each way of carrying an identity is enough.
    let identity_entry = json!({"key": format!("{ORG_PREFIX}_identity"), "value": "CiYx"});
    for body in [
        json!({"event": {"xdm": {"identityMap": {"Email_LC_SHA256": [{"id": "ab12", "primary": true}]}}}}),
        json!({"event": {"xdm": {}}, "query": {"identity": {"fetch": ["ECID"]}}}),
        json!({"event": {"xdm": {}}, "meta": {"state": {"entries": [identity_entry]}}}),
    ] {
        assert_eq!(post_json(&url, &body).status, 200, "{body}");
    }
    // A batch is refused when any of its events has none; an identity entry in the
    // state covers every event, and a v1 request-level identity map too.
    let collect = format!("{}/ee/v2/collect?dataStreamId={DS}", emu.base_url());
    let with = json!({"xdm": {"identityMap": {"FPID": [{"id": "v1"}]}}});
    let r = post_json(&collect, &json!({"events": [with, {"xdm": {}}]}));
    assert_eq!(r.exeg(), "EXEG-0306-400");
    let r = post_json(
        &collect,
        &json!({"events": [{}, {}], "meta": {"state": {"entries": [identity_entry]}}}),
    );
    assert_eq!(r.status, 202);
    let v1 = format!("{}/ee/v1/interact?configId={DS}", emu.base_url());
    let r = post_json(
        &v1,
        &json!({"xdm": {"identityMap": {"ECID": [{"id": "1"}]}}, "events": [{}, {}]}),
    );
    assert_eq!(r.status, 200);

    // Lenient mode serves them.
    let lenient = start(lenient());
    assert_eq!(post(&interact_url(&lenient), r#"{"event":{}}"#).status, 200);
}

#[test]
fn content_types_edge_reads_and_415_for_others() {
    let emu = start(Options::default());
    let url = interact_url(&emu);
    for ok in [
        "application/json",
        "text/plain; charset=UTF-8",
        "text/plain;charset=ISO-8859-1",
        "text/javascript",
    ] {
        let r = post_with(&url, EVENT, &[("content-type", ok)]);
        assert_eq!(r.status, 200, "{ok}: {r:?}");
    }
    for bad in [
        "application/x-www-form-urlencoded",
        "text/html",
        "application/xml",
    ] {
        let r = post_with(&url, EVENT, &[("content-type", bad)]);
        assert_eq!((r.status, r.exeg()), (415, "EXEG-0111-415".into()), "{bad}");
        assert!(r.json()["detail"].as_str().unwrap().contains(bad));
    }
}

fn decisions(emu: &aep_edge_emulator::Emulator, query: Value) -> Resp {
    let mut body: Value = serde_json::from_str(EVENT).unwrap();
    body["query"] = json!({ "personalization": query });
    post_json(&interact_url(emu), &body)
}

fn payload(r: &Resp) -> Vec<Value> {
    r.handle("personalization:decisions")
        .as_array()
        .unwrap()
        .clone()
}

/// The same keys, at every level, as a real proposition (values may differ).
fn same_shape(ours: &Value, theirs: &Value, at: &str) {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let mut ka: Vec<_> = a.keys().collect();
            let mut kb: Vec<_> = b.keys().collect();
            ka.sort();
            kb.sort();
            assert_eq!(ka, kb, "keys at {at}");
            for (k, v) in a {
                same_shape(v, &b[k], &format!("{at}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(b)) if !a.is_empty() && !b.is_empty() => {
            same_shape(&a[0], &b[0], &format!("{at}[0]"))
        }
        _ => {}
    }
}

#[test]
fn offer_decisioning_scopes_get_offer_decisioning_shape() {
    let emu = start(Options::default());
    let req = fixture("request-interact-v2-offer-decisioning.json");
    let scope = req["query"]["personalization"]["decisionScopes"][0].clone();
    let r = decisions(&emu, json!({"decisionScopes": [scope, "plain-mbox"]}));
    assert_eq!(r.status, 200, "{r:?}");
    let props = payload(&r);
    let real = fixture("response-interact-200-offer-decisioning.json");
    let theirs = &real["handle"][1]["payload"][0];
    same_shape(&props[0], theirs, "offer");
    assert_eq!(props[0]["scope"], scope);
    // The activity and placement are the ones the scope names.
    assert_eq!(props[0]["activity"]["id"], theirs["activity"]["id"]);
    assert_eq!(props[0]["placement"]["id"], theirs["placement"]["id"]);
    assert_eq!(props[0]["items"][0]["schema"], theirs["items"][0]["schema"]);
    assert!(props[0].get("scopeDetails").is_none());
    // Beside it, a plain scope is Target's.
    assert_eq!(props[1]["scopeDetails"]["decisionProvider"], "TGT");
}

#[test]
fn surfaces_get_journey_optimizer_shape() {
    let emu = start(Options::default());
    let surface = "web://localhost/#sample-json-content";
    let r = decisions(&emu, json!({"surfaces": [surface], "decisionScopes": []}));
    let props = payload(&r);
    assert_eq!(props.len(), 1);
    let p = &props[0];
    assert_eq!(p["scope"], surface);
    let details = &p["scopeDetails"];
    assert_eq!(details["decisionProvider"], "AJO");
    for key in ["correlationID", "strategies", "characteristics", "activity"] {
        assert!(!details[key].is_null(), "scopeDetails.{key}: {p}");
    }
    assert!(details["characteristics"]["eventToken"].is_string());
    assert_eq!(
        p["items"][0]["schema"],
        "https://ns.adobe.com/personalization/json-content-item"
    );
    assert!(p["items"][0]["data"]["content"].is_object());
    // No surfaces and no scopes: no decisions handle at all.
    let r = decisions(&emu, json!({"surfaces": [], "decisionScopes": []}));
    assert!(!r
        .handle_types()
        .contains(&"personalization:decisions".into()));
}

#[test]
fn at_most_thirty_scopes() {
    let emu = start(Options::default());
    let scopes: Vec<String> = (0..31).map(|i| format!("mbox-{i}")).collect();
    let r = decisions(&emu, json!({"decisionScopes": scopes}));
    assert_eq!((r.status, r.exeg()), (400, "EXEG-0105-400".into()));
    assert!(r.json()["detail"].as_str().unwrap().contains("31"));
    let r = decisions(&emu, json!({"decisionScopes": scopes[..30]}));
    assert_eq!(payload(&r).len(), 30);
    // Repeats count once.
    let mut repeated = scopes[..30].to_vec();
    repeated.push("mbox-0".into());
    assert_eq!(
        decisions(&emu, json!({"decisionScopes": repeated})).status,
        200
    );
    let surfaces: Vec<String> = (0..31).map(|i| format!("web://x/{i}")).collect();
    assert_eq!(
        decisions(&emu, json!({"surfaces": surfaces})).exeg(),
        "EXEG-0105-400"
    );
}

#[test]
fn configured_decisions() {
    let configured = serde_json::from_value(json!({
        "sample-json-offer": {"heroImageName": "demo-marketing-offer1-exp-B.png", "buttonActions": []},
        "__view__": null,
        "web://site/#hero": "<h1>Hello</h1>",
        "whole": {"items": [{"id": "mine", "schema": "https://ns.adobe.com/personalization/dom-action", "data": {}}]},
    }))
    .unwrap();
    let options = Options {
        decisions: configured,
        ..Options::default()
    };
    let emu = start(options);
    let r = decisions(
        &emu,
        json!({"decisionScopes": ["__view__", "sample-json-offer", "whole", "other"], "surfaces": ["web://site/#hero"]}),
    );
    let props = payload(&r);
    let scopes: Vec<&str> = props.iter().map(|p| p["scope"].as_str().unwrap()).collect();
    assert_eq!(
        scopes,
        ["sample-json-offer", "whole", "other", "web://site/#hero"]
    );
    let content = &props[0]["items"][0]["data"]["content"];
    assert_eq!(content["heroImageName"], "demo-marketing-offer1-exp-B.png");
    assert_eq!(props[1]["items"][0]["id"], "mine");
    assert_eq!(props[1]["scopeDetails"]["decisionProvider"], "TGT");
    assert!(props[2]["items"][0]["data"]["content"]["value"].is_string());
    let hero = &props[3]["items"][0];
    assert_eq!(
        hero["schema"],
        "https://ns.adobe.com/personalization/html-content-item"
    );
    assert_eq!(hero["data"]["content"], "<h1>Hello</h1>");
}

fn consent_url(emu: &aep_edge_emulator::Emulator) -> String {
    format!("{}/ee/v1/privacy/set-consent?configId={DS}", emu.base_url())
}

#[test]
fn consent_validation_is_edges_422_with_report_errors() {
    let emu = start(Options::default());
    let r = post_json(
        &consent_url(&emu),
        &json!({"consent": [
            {"standard": "Adobe", "version": "3.0", "value": {"general": "in"}},
            {"standard": "IAB TCF", "version": "6.9", "value": "CO052l"},
            {"standard": "IAB TCF", "version": "2.0", "value": ""},
        ]}),
    );
    assert_eq!((r.status, r.exeg()), (422, "EXEG-0104-422".into()));
    let b = r.json();
    assert_eq!(b["title"], "Unprocessable Entity");
    assert_eq!(
        b["detail"],
        "Invalid request (report attached). Please check your input and try again."
    );
    assert_eq!(
        b["report"]["errors"],
        json!([
            "Allowed Adobe versions are 1.0 and 2.0 for standard 'Adobe' at index 0",
            "Allowed IAB version is 2.0 for standard 'IAB TCF' at index 1",
            "IAB consent string value must not be empty for standard 'IAB TCF' at index 2",
        ])
    );
    assert_eq!(b["report"]["orgId"], aep_edge_emulator::DEFAULT_ORG_ID);
    // An unknown standard is refused on its own (alloy's consent validation test).
    let r = post_json(
        &consent_url(&emu),
        &json!({"consent": [{"standard": "IAB", "version": "2.0", "value": "x"}]}),
    );
    assert_eq!(r.exeg(), "EXEG-0102-400");
}

#[test]
fn opted_out_visitor_gets_the_warning_and_no_identity() {
    let emu = start(Options::default());
    let out = post_json(
        &consent_url(&emu),
        &json!({"consent": [{"standard": "Adobe", "version": "1.0", "value": {"general": "out"}}]}),
    );
    let entries: Vec<Value> = out.handle("state:store").as_array().unwrap().clone();
    let consent = entries
        .iter()
        .find(|e| e["key"] == format!("{ORG_PREFIX}_consent"))
        .unwrap();
    assert_eq!(consent["value"], "general=out");

    let state = json!({"entries": [{"key": consent["key"], "value": consent["value"]}]});
    let body = json!({
        "event": {"xdm": {}},
        "query": {"identity": {"fetch": ["ECID"]}, "personalization": {"decisionScopes": ["__view__"]}},
        "meta": {"state": state},
    });
    let r = post_json(&interact_url(&emu), &body);
    assert_eq!(r.status, 200, "{r:?}");
    let b = r.json();
    assert_eq!(
        b["warnings"],
        json!([{
            "type": "https://ns.adobe.com/aep/errors/EXEG-0301-200",
            "status": 200,
            "title": "Request ignored",
            "detail": "Unable to process this request due to lack of user consent.",
        }])
    );
    let types = r.handle_types();
    assert!(!types.contains(&"identity:result".into()), "{types:?}");
    assert!(
        !types.contains(&"personalization:decisions".into()),
        "{types:?}"
    );
    let store = r.handle("state:store");
    assert!(
        store
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["key"] != format!("{ORG_PREFIX}_identity")),
        "no new identity: {store}"
    );

    let collect = format!("{}/ee/v2/collect?dataStreamId={DS}", emu.base_url());
    let event = json!({"xdm": {"identityMap": {"FPID": [{"id": "v"}]}}});
    let r = post_json(
        &collect,
        &json!({"events": [event], "meta": {"state": state}}),
    );
    assert_eq!(r.status, 202);
    assert_eq!(r.json()["warnings"][0]["type"], b["warnings"][0]["type"]);
    // A visitor that opted in is served as usual.
    let state_in = json!({"entries": [{"key": consent["key"], "value": "general=in"}]});
    let mut body_in = body.clone();
    body_in["meta"]["state"] = state_in;
    let r = post_json(&interact_url(&emu), &body_in);
    assert!(r.json().get("warnings").is_none());
    assert!(r.handle_types().contains(&"identity:result".into()));
}

#[test]
fn every_edge_answer_has_request_id_and_rate_limit_headers() {
    let emu = start(Options::default());
    let base = emu.base_url();
    let r = post(&format!("{}&requestId=abc", interact_url(&emu)), EVENT);
    let id = r.header("x-request-id").unwrap().to_string();
    assert!(id.starts_with("abc-"), "{id}");
    assert_eq!(r.json()["requestId"], id.as_str());
    assert_eq!(r.header("x-rate-limit-remaining"), Some("4000"));
    // Errors carry them too, the problem's requestId the same as the header.
    let r = post(&format!("{base}/ee/v2/interact"), EVENT);
    assert_eq!(
        r.json()["report"]["requestId"],
        r.header("x-request-id").unwrap()
    );
    let r = post(&format!("{base}/ee/v2/collect?dataStreamId={DS}"), BATCH);
    assert_eq!(r.json()["requestId"], r.header("x-request-id").unwrap());
    assert_eq!(r.header("x-rate-limit-remaining"), Some("6000"));
    let r = post(&format!("{base}/ee/zz1/v2/interact"), EVENT);
    assert_eq!(r.status, 404);
    assert!(r.header("x-request-id").is_some());
    // Faults too.
    emu.inject(aep_edge_emulator::Fault::status(503));
    let r = post(&interact_url(&emu), EVENT);
    assert_eq!(
        r.json()["report"]["requestId"],
        r.header("x-request-id").unwrap()
    );
}

#[test]
fn rate_limit_answers_429_with_retry_after() {
    let emu = start(Options {
        rate_limit_per_sec: Some(3),
        ..Options::default()
    });
    let mut conn = connect(emu.addr());
    let path = format!("/ee/v2/interact?dataStreamId={DS}");
    let mut seen = Vec::new();
    for _ in 0..4 {
        send(&mut conn, &raw_post(&path, EVENT, ""));
        let r = read_response(&mut conn).unwrap();
        seen.push((
            r.status,
            r.header("x-rate-limit-remaining").unwrap(),
            r.header("retry-after"),
        ));
    }
    assert_eq!(
        seen,
        [
            (200, "2".into(), None),
            (200, "1".into(), None),
            (200, "0".into(), None),
            (429, "0".into(), Some("1".into())),
        ]
    );
    // The next second has a fresh budget.
    std::thread::sleep(Duration::from_millis(1100));
    send(&mut conn, &raw_post(&path, EVENT, ""));
    assert_eq!(read_response(&mut conn).unwrap().status, 200);
}

#[test]
fn ims_token_from_form_and_multipart_bodies() {
    let emu = start(Options::default());
    let url = format!("{}/ims/token/v3", emu.base_url());
    let form = "grant_type=client_credentials&client_id=id&client_secret=s&scope=openid,AdobeID";
    let r = post_with(
        &url,
        form,
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.json()["access_token"].is_string());

    let boundary = "----aepEdgeBoundary7MA4YWxk";
    let mut multipart = String::new();
    for (name, value) in [
        ("grant_type", "client_credentials"),
        ("client_id", "id"),
        ("client_secret", "s"),
        ("scope", "openid,AdobeID"),
    ] {
        multipart.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    multipart.push_str(&format!("--{boundary}--\r\n"));
    let ct = format!("multipart/form-data; boundary={boundary}");
    let r = post_with(&url, &multipart, &[("content-type", &ct)]);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["token_type"], "bearer");
    // A multipart body missing a field names it.
    let partial = multipart.replace("name=\"scope\"", "name=\"other\"");
    let r = post_with(&url, &partial, &[("content-type", &ct)]);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("scope"), "{}", r.body);
}

#[test]
fn live_view_lists_requests_and_answers() {
    let emu = start(Options::default());
    let base = emu.base_url();
    let empty = get(&format!("{base}/__emulator/"));
    assert_eq!(empty.status, 200);
    assert_eq!(
        empty.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(!empty.body.contains("<tr id=\"req-"));

    post(
        &format!("{}&requestId=live-view-%3Cmarker%3E", interact_url(&emu)),
        EVENT,
    );
    post(&format!("{base}/ee/v2/collect?dataStreamId={DS}"), BATCH);
    for page in [
        get(&format!("{base}/__emulator/")),
        get(&format!("{base}/__emulator")),
    ] {
        assert!(page.body.contains("<tr id=\"req-1\""), "{}", page.body);
        assert!(page.body.contains("<tr id=\"req-2\""));
        assert!(page.body.contains("/ee/v2/interact"));
        // Escaped, never raw HTML from a request.
        assert!(page.body.contains("live-view-&lt;marker&gt;"));
        assert!(!page.body.contains("<marker>"));
        assert!(
            page.body.contains("emulator-test-visitor"),
            "request bodies"
        );
        assert!(page.body.contains("locationHint:result"), "response bodies");
    }
    // The endpoint the page polls: records after a sequence number, with answers.
    let later = get(&format!("{base}/__emulator/requests?since=1")).json();
    let later = later.as_array().unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0]["seq"], 2);
    assert_eq!(later[0]["response"]["status"], 202);
    assert!(later[0]["response"]["body"]["requestId"].is_string());
    assert!(later[0]["receivedMs"].as_u64().unwrap() > 1_600_000_000_000);
    assert_eq!(
        get(&format!("{base}/__emulator/requests?since=x")).status,
        400
    );
}

/// The handle order of the recorded Edge answers in tests/fixtures/real/ (alloy's mocks):
/// identity:result first, then decisions, the location hint and state last.
#[test]
fn handles_come_in_the_recorded_edge_order() {
    let recorded_order = |name: &str| -> Vec<String> {
        fixture(&format!("real/{name}"))["handle"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["type"].as_str().unwrap().to_string())
            .filter(|t| t != "activation:push")
            .collect()
    };
    let emu = start(Options::default());
    let req = json!({
        "event": {"xdm": {"identityMap": {"Email": [{"id": "a@example.com", "primary": true}]}}},
        "query": {
            "identity": {"fetch": ["ECID"]},
            "personalization": {"decisionScopes": ["__view__"]}
        }
    });
    let ours = post_json(&interact_url(&emu), &req).handle_types();
    for name in [
        "alloy-interact-200-target-custom-code.json",
        "alloy-interact-200-ajo-content-cards.json",
        "alloy-interact-200-activation-push-two-handles.json",
    ] {
        assert_eq!(ours, recorded_order(name), "{name}");
    }
}

/// Problem titles are the "Error message" column of Adobe's code table
/// (data-collection-apis `troubleshooting.md`), as the recorded 0003-400 in
/// tests/fixtures/ has it.
#[test]
fn problems_carry_the_documented_titles() {
    let emu = start(Options::default());
    let base = emu.base_url();
    let cases = [
        (
            post(&format!("{base}/ee/v2/interact"), "{}"),
            "EXEG-0002-400",
            "Missing datastream parameter",
        ),
        (
            post(&interact_url(&emu), "{not json"),
            "EXEG-0101-400",
            "Invalid JSON request",
        ),
        (
            post(&interact_url(&emu), ""),
            "EXEG-0109-408",
            "Empty request",
        ),
        (
            post_with(&interact_url(&emu), "{}", &[("content-type", "image/png")]),
            "EXEG-0111-415",
            "Invalid request",
        ),
    ];
    for (r, code, title) in cases {
        let body = r.json();
        assert_eq!(
            body["type"],
            format!("https://ns.adobe.com/aep/errors/{code}"),
            "{body}"
        );
        assert_eq!(body["title"], title, "{body}");
    }
}

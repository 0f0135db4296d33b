//! The Edge endpoints over real loopback HTTP: success shapes (checked against the
//! fixtures), state and identity, routing, and every EXEG error the emulator produces.

mod common;

use aep_edge_emulator::Options;
use common::*;
use serde_json::{json, Value};

const ORG_PREFIX: &str = "kndctr_53A16ACB5CC1D3760A495C99_AdobeOrg";

/// Object keys at every level that both values have, so a shape can be compared with a
/// fixture without comparing its values.
fn assert_same_keys(ours: &Value, theirs: &Value, at: &str) {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let ka: Vec<_> = a.keys().collect();
            let kb: Vec<_> = b.keys().collect();
            let mut sa = ka.clone();
            let mut sb = kb.clone();
            sa.sort();
            sb.sort();
            assert_eq!(sa, sb, "keys at {at}");
            for k in ka {
                assert_same_keys(&a[k], &b[k], &format!("{at}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(b)) if !a.is_empty() && !b.is_empty() => {
            assert_same_keys(&a[0], &b[0], &format!("{at}[0]"))
        }
        _ => assert_eq!(
            std::mem::discriminant(ours),
            std::mem::discriminant(theirs),
            "type at {at}: {ours} vs {theirs}"
        ),
    }
}

#[test]
fn v2_interact_pageview_new_visitor() {
    let emu = start(Options::default());
    let url = format!("{}&requestId=req-123", interact_url(&emu));
    let r = post_json(&url, &fixture("request-interact-v2-pageview.json"));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-adobe-edge"), Some("or2;35"));
    let body = r.json();
    let rid = body["requestId"].as_str().unwrap();
    let suffix = rid
        .strip_prefix("req-123-")
        .expect("client id kept as prefix");
    assert_eq!(suffix.len(), 16);
    assert!(suffix
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    // No scopes asked and no identity fetch: routing and state only.
    assert_eq!(r.handle_types(), ["locationHint:result", "state:store"]);

    // The routing handle is the one Edge sends (fixtures/response-identity-acquire-200.json).
    let expected = fixture("response-identity-acquire-200.json");
    let hint = expected["handle"][1].clone();
    assert_eq!(hint["type"], "locationHint:result");
    assert_eq!(body["handle"][0], hint);

    let store = r.handle("state:store");
    assert_same_keys(&store, &expected["handle"][2]["payload"], "state:store");
    assert_eq!(store[0]["key"], format!("{ORG_PREFIX}_identity"));
    assert_eq!(store[0]["maxAge"], 34_128_000);
    assert_eq!(store[0]["attrs"], json!({"SameSite": "None"}));
    assert!(store[0]["value"].as_str().unwrap().starts_with("CiY"));
    assert_eq!(
        store[1],
        json!({"key": format!("{ORG_PREFIX}_cluster"), "value": "or2", "maxAge": 1800})
    );
}

#[test]
fn v2_interact_with_scopes_and_identity_fetch() {
    let emu = start(Options::default());
    let mut req = fixture("request-interact-v2-target-personalization.json");
    req["query"]["personalization"]["decisionScopes"] = json!(["serverapimbox", "__view__"]);
    req["query"]["identity"] = json!({"fetch": ["ECID"]});
    let r = post_json(&interact_url(&emu), &req);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.handle_types(),
        [
            "identity:result",
            "personalization:decisions",
            "locationHint:result",
            "state:store"
        ]
    );
    let body = r.json();
    assert_eq!(body["handle"][1]["eventIndex"], 0);

    let decisions = r.handle("personalization:decisions");
    assert_eq!(decisions.as_array().unwrap().len(), 2);
    // A form-based scope gets Target's JSON offer...
    let offer = fixture("response-interact-200-target-json-offer.json");
    let decision = &decisions[0];
    assert_same_keys(decision, &offer["handle"][0]["payload"][0], "serverapimbox");
    assert_eq!(decision["scope"], "serverapimbox");
    assert_eq!(decision["scopeDetails"]["decisionProvider"], "TGT");
    let item = &decision["items"][0];
    assert_eq!(
        item["schema"],
        "https://ns.adobe.com/personalization/json-content-item"
    );
    assert!(item["data"]["content"]["value"]
        .as_str()
        .unwrap()
        .contains("serverapimbox"));
    // ... and the page-wide scope Target's default content.
    let default = fixture("response-interact-200-target-default-content.json");
    let theirs = default["handle"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["type"] == "personalization:decisions")
        .unwrap();
    assert_same_keys(&decisions[1], &theirs["payload"][0], "__view__");
    assert_eq!(decisions[1]["scope"], "__view__");
    assert_eq!(
        decisions[1]["items"][0]["schema"],
        "https://ns.adobe.com/personalization/default-content-item"
    );
    assert_ne!(decisions[0]["id"], decisions[1]["id"]);

    // The same scope gets the same decision on a later request.
    let again = post_json(&interact_url(&emu), &req).handle("personalization:decisions");
    assert_eq!(again, decisions);

    // An ECID in the identity map wins.
    let ecid = "05907638112924484241029082405297151763";
    assert_eq!(
        r.handle("identity:result"),
        json!([{"id": ecid, "namespace": {"code": "ECID"}}])
    );
}

fn fetch_ecid(url: &str, body: Value) -> (String, Value) {
    let r = post_json(url, &body);
    assert_eq!(r.status, 200, "{r:?}");
    let ecid = r.handle("identity:result")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    (ecid, r.handle("state:store"))
}

#[test]
fn returning_visitor_keeps_its_ecid_and_gets_no_new_identity() {
    let emu = start(Options::default());
    let url = interact_url(&emu);
    let first = json!({"event": {"xdm": {}}, "query": {"identity": {"fetch": ["ECID"]}}});
    let (ecid, store) = fetch_ecid(&url, first.clone());
    assert_eq!(ecid.len(), 38);
    assert!(ecid.bytes().all(|b| b.is_ascii_digit()));

    // Echo every entry back, as a client does.
    let entries: Vec<Value> = store
        .as_array()
        .unwrap()
        .iter()
        .map(|e| json!({"key": e["key"], "value": e["value"]}))
        .collect();
    let mut second = first.clone();
    second["meta"] = json!({"state": {"entries": entries}});
    let (ecid2, store2) = fetch_ecid(&url, second);
    assert_eq!(ecid2, ecid);
    assert_eq!(
        store2,
        json!([{"key": format!("{ORG_PREFIX}_cluster"), "value": "or2", "maxAge": 1800}])
    );

    // Without the state, a new visitor with a new ECID.
    let (ecid3, _) = fetch_ecid(&url, first);
    assert_ne!(ecid3, ecid);
}

#[test]
fn identity_state_from_the_real_edge_is_understood() {
    let emu = start(Options {
        org_id: "5BFE274A5F6980A50A495C08@AdobeOrg".into(),
        ..Options::default()
    });
    let recorded = fixture("response-identity-acquire-200.json");
    let entry = &recorded["handle"][2]["payload"][0];
    let body = json!({
        "event": {"xdm": {}},
        "query": {"identity": {"fetch": ["ECID"]}},
        "meta": {"state": {"entries": [{"key": entry["key"], "value": entry["value"]}]}},
    });
    let (ecid, _) = fetch_ecid(&interact_url(&emu), body);
    assert_eq!(ecid, recorded["handle"][0]["payload"][0]["id"]);
}

#[test]
fn fpid_maps_to_a_stable_ecid() {
    let emu = start(Options::default());
    let body = |fpid: &str| {
        json!({"event": {"xdm": {"identityMap": {"FPID": [{"id": fpid, "primary": true}]}}},
               "query": {"identity": {"fetch": ["ECID"]}}})
    };
    let url = interact_url(&emu);
    let (a, _) = fetch_ecid(&url, body("79bf8e83-f708-414b-b1ed-5789ff33bf0b"));
    let (b, _) = fetch_ecid(&url, body("79bf8e83-f708-414b-b1ed-5789ff33bf0b"));
    let (c, _) = fetch_ecid(&url, body("871e8460-a329-4e96-a5b6-ff359fb0afb9"));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.len(), 38);
}

#[test]
fn hinted_paths_are_served_by_that_cluster() {
    let emu = start(Options::default());
    let url = format!("{}/ee/irl1/v2/interact?datastreamId={DS}", emu.base_url());
    let r = post(&url, EVENT);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("x-adobe-edge"), Some("irl1;35"));
    assert_eq!(
        r.handle("locationHint:result")[2],
        json!({"scope": "EdgeNetwork", "hint": "irl1", "ttlSeconds": 1800})
    );
    let store = r.handle("state:store");
    assert_eq!(store.as_array().unwrap().last().unwrap()["value"], "irl1");
}

#[test]
fn unknown_hint_is_an_empty_404() {
    let emu = start(Options::default());
    for path in [
        "/ee/bogus/v2/interact",
        "/ee/or1/v1/interact",
        "/ee/xx/v1/privacy/set-consent",
    ] {
        let mut conn = connect(emu.addr());
        send(
            &mut conn,
            &raw_post(&format!("{path}?configId=x&dataStreamId=x"), "{}", ""),
        );
        let r = read_response(&mut conn).unwrap();
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.header("content-length").as_deref(), Some("0"), "{path}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("content-type"), None);
    }
}

#[test]
fn unknown_paths_and_methods() {
    let emu = start(Options::default());
    let r = post(
        &format!("{}/ee/v2/identity?dataStreamId=x", emu.base_url()),
        "{}",
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.json()["status"], 404);
    let r = get(&interact_url(&emu));
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    assert_eq!(r.json()["status"], 405);
}

#[test]
fn datastream_parameter_spellings() {
    let emu = start(Options::default());
    let base = emu.base_url();
    let ev = EVENT;
    let evs = BATCH;
    assert_eq!(
        post(&format!("{base}/ee/v2/interact?dataStreamId=a"), ev).status,
        200
    );
    assert_eq!(
        post(&format!("{base}/ee/v2/interact?datastreamId=a"), ev).status,
        200
    );
    assert_eq!(
        post(&format!("{base}/ee/v2/collect?datastreamId=a"), evs).status,
        202
    );
    assert_eq!(
        post(&format!("{base}/ee/v1/interact?configId=a"), evs).status,
        200
    );
    // v1 takes configId only, v2 never configId.
    let r = post(&format!("{base}/ee/v1/interact?dataStreamId=a"), evs);
    assert_eq!((r.status, r.exeg()), (400, "EXEG-0002-400".to_string()));
    assert!(r.json()["detail"].as_str().unwrap().contains("configId"));
    let r = post(&format!("{base}/ee/v2/interact?configId=a"), ev);
    assert_eq!(r.exeg(), "EXEG-0002-400");
    let r = post(&format!("{base}/ee/v2/collect"), evs);
    assert_eq!(r.exeg(), "EXEG-0002-400");
    let r = post(
        &format!("{base}/ee/v1/privacy/set-consent?dataStreamId=a"),
        "{}",
    );
    assert_eq!(r.exeg(), "EXEG-0002-400");
}

#[test]
fn unknown_datastream_is_exeg_0003_like_the_fixture() {
    let emu = start(Options {
        datastreams: vec!["known".into()],
        ..Options::default()
    });
    let base = emu.base_url();
    assert_eq!(
        post(&format!("{base}/ee/v2/interact?dataStreamId=known"), EVENT).status,
        200
    );
    let r = post(
        &format!("{base}/ee/v2/interact?dataStreamId=BOGUS&requestId=abc"),
        EVENT,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.exeg(), "EXEG-0003-400");
    let body = r.json();
    let expected = fixture("error-400-EXEG-0003-invalid-datastream.json");
    assert_same_keys(&body, &expected, "problem");
    assert_eq!(body["title"], expected["title"]);
    assert_eq!(
        body["detail"], expected["detail"],
        "detail names the id as Edge does"
    );
    assert!(body["report"]["requestId"]
        .as_str()
        .unwrap()
        .starts_with("abc-"));
    let r = post(&format!("{base}/ee/v1/collect?configId=nope"), BATCH);
    assert_eq!(r.exeg(), "EXEG-0003-400");
}

#[test]
fn body_errors() {
    let emu = start(Options::default());
    let url = interact_url(&emu);
    let collect = format!("{}/ee/v2/collect?dataStreamId={DS}", emu.base_url());
    let cases: Vec<(String, String, u16, &str)> = vec![
        (url.clone(), String::new(), 408, "EXEG-0109-408"),
        (
            url.clone(),
            format!(r#"{{"event":{{"data":"{}"}}}}"#, "x".repeat(65_536)),
            413,
            "EXEG-0112-413",
        ),
        (url.clone(), "{not json".into(), 400, "EXEG-0101-400"),
        (url.clone(), "[1]".into(), 400, "EXEG-0102-400"),
        (url.clone(), BATCH.into(), 400, "EXEG-0103-400"),
        (url.clone(), r#"{"event":"x"}"#.into(), 400, "EXEG-0103-400"),
        (
            collect.clone(),
            r#"{"events":[]}"#.into(),
            400,
            "EXEG-0103-400",
        ),
        (collect.clone(), EVENT.into(), 400, "EXEG-0103-400"),
        (
            url.clone(),
            r#"{"event":{},"meta":{"configOverrides":"x"}}"#.into(),
            400,
            "EXEG-0113-400",
        ),
    ];
    for (url, body, status, code) in cases {
        let r = post(&url, &body);
        assert_eq!(r.status, status, "{body:.60}: {r:?}");
        assert_eq!(r.exeg(), code, "{body:.60}");
    }
    // Exactly 64 KiB is still accepted.
    let with_data = |data: &str| {
        format!(
            r#"{{"event":{{"xdm":{{"identityMap":{{"FPID":[{{"id":"v"}}]}}}},"data":"{data}"}}}}"#
        )
    };
    let filler = "x".repeat(65_536 - with_data("").len());
    let at_limit = with_data(&filler);
    assert_eq!(at_limit.len(), 65_536);
    assert_eq!(post(&url, &at_limit).status, 200);
    // The field is named.
    let r = post(&url, r#"{"xdm":{}}"#);
    assert!(
        r.json()["detail"].as_str().unwrap().contains("'event'"),
        "{r:?}"
    );
    assert_eq!(r.json()["title"], "Missing required value");
}

#[test]
fn config_overrides_problem_matches_the_fixture() {
    // The fixture is the part of the SDK's body that its test asserts: no identity.
    let emu = start(lenient());
    let mut req = fixture("request-interact-v1-config-overrides-android.json");
    let url = format!("{}/ee/v1/interact?configId={DS}", emu.base_url());
    assert_eq!(
        post_json(&url, &req).status,
        200,
        "a valid override object is accepted"
    );
    req["meta"]["configOverrides"] = json!(["not", "an", "object"]);
    let r = post_json(&url, &req);
    let expected = fixture("error-400-EXEG-0113-invalid-config-overrides.json");
    let body = r.json();
    for key in ["type", "status", "title"] {
        assert_eq!(body[key], expected[key], "{key}");
    }
}

#[test]
fn checks_run_in_edge_order() {
    let emu = start(Options {
        require_auth: true,
        datastreams: vec![DS.into()],
        ..Options::default()
    });
    let base = emu.base_url();
    // Hint before everything: an unknown hint with no datastream and no auth.
    let r = post(&format!("{base}/ee/zz9/v2/interact"), "");
    assert_eq!((r.status, r.body.as_str()), (404, ""));
    // Method before datastream.
    assert_eq!(get(&format!("{base}/ee/v2/interact")).status, 405);
    // Datastream before auth and body.
    assert_eq!(
        post(&format!("{base}/ee/v2/interact"), "").exeg(),
        "EXEG-0002-400"
    );
    assert_eq!(
        post(&format!("{base}/ee/v2/interact?dataStreamId=x"), "").exeg(),
        "EXEG-0003-400"
    );
    // Auth before body.
    assert_eq!(
        post(&format!("{base}/ee/v2/interact?dataStreamId={DS}"), "").exeg(),
        "EXEG-0500-401"
    );
}

#[test]
fn request_id_from_header_or_generated() {
    let emu = start(Options::default());
    let r = post_with(&interact_url(&emu), EVENT, &[("x-request-id", "hdr-1")]);
    assert!(r.json()["requestId"]
        .as_str()
        .unwrap()
        .starts_with("hdr-1-"));
    // The query wins over the header.
    let url = format!("{}&requestId=q-1", interact_url(&emu));
    let r = post_with(&url, EVENT, &[("x-request-id", "hdr-1")]);
    assert!(r.json()["requestId"].as_str().unwrap().starts_with("q-1-"));
    let r = post(&interact_url(&emu), EVENT);
    let id = r.json()["requestId"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36 + 1 + 16, "{id}");
    assert_eq!(id.as_bytes()[14], b'4', "a UUID v4 prefix: {id}");
}

#[test]
fn collect_answers() {
    let emu = start(Options::default());
    let base = emu.base_url();
    let batch = fixture("request-collect-v2-batch-two-events.json");
    let r = post_json(
        &format!("{base}/ee/v2/collect?dataStreamId={DS}&requestId=c1"),
        &batch,
    );
    assert_eq!(r.status, 202);
    assert_eq!(r.header("x-adobe-edge"), Some("or2;35"));
    let body = r.json();
    assert_same_keys(&body, &fixture("response-collect-v2-202.json"), "collect");
    assert!(body["requestId"].as_str().unwrap().starts_with("c1-"));

    let r = post_json(
        &format!("{base}/ee/va6/v2/collect?dataStreamId={DS}&silent=true"),
        &batch,
    );
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    assert_eq!(r.header("x-adobe-edge"), Some("va6;35"));

    let v1 = fixture("request-collect-proposition-display-notification.json");
    let r = post_json(&format!("{base}/ee/v1/collect?configId={DS}"), &v1);
    assert_eq!((r.status, r.body.as_str()), (204, ""), "{r:?}");
}

#[test]
fn v1_interact_batch_with_per_event_scopes() {
    let emu = start(Options::default());
    let url = format!("{}/ee/v1/interact?configId={DS}", emu.base_url());
    let r = post_json(
        &url,
        &fixture("request-interact-v1-mobile-sdk-android.json"),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.handle_types(), ["locationHint:result", "state:store"]);

    let batch = json!({
        "events": [
            {"xdm": {}},
            {"xdm": {}, "query": {"personalization": {"decisionScopes": ["second"]}}},
        ],
        "query": {"identity": {"fetch": ["ECID"]}},
    });
    let r = post_json(&url, &batch);
    let body = r.json();
    assert_eq!(r.handle_types()[0], "identity:result");
    assert_eq!(body["handle"][1]["type"], "personalization:decisions");
    assert_eq!(body["handle"][1]["eventIndex"], 1);
    assert_eq!(body["handle"][1]["payload"][0]["scope"], "second");
}

fn consent_url(emu: &aep_edge_emulator::Emulator) -> String {
    format!("{}/ee/v1/privacy/set-consent?configId={DS}", emu.base_url())
}

#[test]
fn set_consent_adobe_1_0() {
    let emu = start(Options::default());
    let body = |general: &str| json!({"consent": [{"standard": "Adobe", "version": "1.0", "value": {"general": general}}]});
    let r = post_json(&consent_url(&emu), &body("in"));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("x-adobe-edge"), Some("or2;35"));
    assert_eq!(
        r.handle_types(),
        ["consent:preferences", "state:store", "locationHint:result"]
    );
    let expected = fixture("response-set-consent-200-consent-preferences.json");
    assert_eq!(
        r.handle("consent:preferences"),
        expected["handle"][0]["payload"]
    );
    assert_eq!(
        r.handle("state:store"),
        json!([
            {"key": format!("{ORG_PREFIX}_consent"), "value": "general=in", "maxAge": 15_552_000},
            {"key": format!("{ORG_PREFIX}_consent_check"), "value": "1", "maxAge": 7200},
            {"key": format!("{ORG_PREFIX}_cluster"), "value": "or2", "maxAge": 1800},
        ])
    );
    let out = post_json(&consent_url(&emu), &body("out"));
    assert_eq!(
        out.handle("consent:preferences"),
        json!([{"collect": {"val": "n"}}])
    );
    assert_eq!(out.handle("state:store")[0]["value"], "general=out");
    let pending = post_json(&consent_url(&emu), &body("pending"));
    assert_eq!(
        pending.handle("consent:preferences"),
        json!([{"collect": {"val": "p"}}])
    );
    let r = post_json(&consent_url(&emu), &body("maybe"));
    assert_eq!(r.exeg(), "EXEG-0102-400");
}

#[test]
fn set_consent_adobe_2_0_and_iab() {
    let emu = start(Options::default());
    let req = fixture("request-set-consent-v1-mobile-adobe-2.0.json");
    let r = post_json(&consent_url(&emu), &req);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.handle("consent:preferences"),
        json!([req["consent"][0]["value"]])
    );
    assert_eq!(r.handle("state:store")[0]["value"], "general=out");

    let iab = fixture("request-set-consent-consent-iab-tcf-web.json");
    let r = post_json(
        &format!(
            "{}/ee/jpn3/v1/privacy/set-consent?configId={DS}",
            emu.base_url()
        ),
        &iab,
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.handle("consent:preferences"),
        json!([{"collect": {"val": "y"}}])
    );
    assert_eq!(r.handle("locationHint:result")[2]["hint"], "jpn3");
}

#[test]
fn set_consent_errors() {
    let emu = start(Options::default());
    let cases = [
        (
            json!({"consent": [{"standard": "Adobe", "version": "3.0", "value": {}}]}),
            "EXEG-0104-422",
        ),
        (
            json!({"consent": [{"standard": "TCF", "version": "2.0", "value": "x"}]}),
            "EXEG-0102-400",
        ),
        (
            json!({"consent": [{"standard": "Adobe", "version": "2.0"}]}),
            "EXEG-0103-400",
        ),
        (json!({"consent": []}), "EXEG-0103-400"),
        (json!({"identityMap": {}}), "EXEG-0103-400"),
        (
            json!({"consent": [{"standard": "IAB TCF", "version": "2.0", "value": ""}]}),
            "EXEG-0104-422",
        ),
    ];
    for (body, code) in cases {
        let r = post_json(&consent_url(&emu), &body);
        assert_eq!(r.exeg(), code, "{body}");
    }
    let r = post_json(
        &consent_url(&emu),
        &json!({"consent": [{"standard": "IAB TCF", "version": "2.0", "value": ""}]}),
    );
    assert_eq!(r.status, 422);
    assert!(r.json()["report"]["errors"].is_array());
}

//! Adobe's own server-side sample client against the emulator: the exact request shapes
//! of adobe/alloy-samples `common/aepEdgeClient.js` (`edgeRequest`, `getPropositions`),
//! `common/personalization.js` (`requestAepEdgePersonalization`, `sendDisplayEvent`),
//! `common/collection.js` (`collect`) and `common/cookies.js` (the visitor's `kndctr_*`
//! cookies passed back as state entries), as `target/personalization-server-side`
//! uses them. Each answer is checked the way the sample reads it.

mod common;

use std::collections::BTreeMap;

use aep_edge_emulator::{Emulator, Options};
use common::*;
use serde_json::{json, Value};

const ORG: &str = "53A16ACB5CC1D3760A495C99@AdobeOrg";
const DATASTREAM: &str = "sample-datastream";
const SCOPE: &str = "sample-json-offer";
const SCHEMAS: [&str; 5] = [
    "https://ns.adobe.com/personalization/default-content-item",
    "https://ns.adobe.com/personalization/html-content-item",
    "https://ns.adobe.com/personalization/json-content-item",
    "https://ns.adobe.com/personalization/redirect-item",
    "https://ns.adobe.com/personalization/dom-action",
];
const PAGE: &str = "https://localhost/";

/// `getAepCookieName(organizationId, name)`.
fn cookie_name(name: &str) -> String {
    format!("kndctr_{}_{name}", ORG.replace('@', "_"))
}

/// What the sample's browser holds between page requests: the cookies its server set.
type Cookies = BTreeMap<String, String>;

/// `getAepEdgeCookies(req)`: every `kndctr_*` cookie as a `{key, value}` state entry.
fn state_entries(cookies: &Cookies) -> Value {
    cookies
        .iter()
        .filter(|(k, _)| k.starts_with("kndctr"))
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect()
}

/// `saveAepEdgeCookies`: every `state:store` entry becomes a cookie.
fn save_cookies(cookies: &mut Cookies, body: &Value) {
    for handle in body["handle"].as_array().unwrap() {
        if handle["type"] == "state:store" {
            for entry in handle["payload"].as_array().unwrap() {
                cookies.insert(
                    entry["key"].as_str().unwrap().into(),
                    entry["value"].as_str().unwrap().into(),
                );
            }
        }
    }
}

/// `createAepEdgeClient(dataStreamId, aepEdgeCluster, edgeDomain)`: its `edgeRequest`.
struct SampleClient<'a> {
    emu: &'a Emulator,
    cluster: String,
    server_domain: bool,
    extra_headers: Vec<(String, String)>,
}

/// One answer as `convertHeadersToSimpleJson` gives it: status, headers, body.
struct Answer {
    status: u16,
    headers: RawResp,
    body: Value,
}

impl SampleClient<'_> {
    /// `edgeRequest(endpoint, requestBody, requestHeaders)`: the URL and headers the sample
    /// builds, then `checkForErrors`, then `extractEdgeCluster`.
    fn edge_request(&mut self, endpoint: &str, body: &Value, headers: &[(&str, &str)]) -> Answer {
        let request_id = "d81c0e07-5ba3-4f5b-8f0e-1c2d3e4f5a6b";
        // On server.adobedc.net the cluster is a subdomain and the path has none.
        let (host, region) = match (self.server_domain, self.cluster.is_empty()) {
            (true, false) => (
                format!("{}.server.adobedc.net", self.cluster),
                String::new(),
            ),
            (true, true) => ("server.adobedc.net".to_string(), String::new()),
            (false, _) => ("edge.adobedc.net".to_string(), self.cluster.clone()),
        };
        let path: Vec<&str> = ["", "ee", &region, "v2"]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        let path = format!(
            "/{}/{endpoint}?dataStreamId={DATASTREAM}&requestId={request_id}",
            path.join("/")
        );
        // DEFAULT_REQUEST_HEADERS, then the caller's.
        let mut all: Vec<(String, String)> = [
            ("accept", "*/*"),
            ("accept-language", "en-US,en;q=0.9"),
            ("cache-control", "no-cache"),
            ("content-type", "text/plain; charset=UTF-8"),
            ("pragma", "no-cache"),
            ("sec-fetch-dest", "empty"),
            ("sec-fetch-mode", "cors"),
            ("sec-fetch-site", "cross-site"),
            ("sec-gpc", "1"),
            ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        all.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        all.extend(self.extra_headers.iter().cloned());
        let text = body.to_string();
        let mut raw = format!("POST {path} HTTP/1.1\r\nHost: {host}\r\n");
        for (k, v) in &all {
            raw.push_str(&format!("{k}: {v}\r\n"));
        }
        raw.push_str(&format!("Content-Length: {}\r\n\r\n{text}", text.len()));
        let mut conn = connect(self.emu.addr());
        send(&mut conn, raw.as_bytes());
        let resp = read_response(&mut conn).unwrap();
        let answer = Answer {
            status: resp.status,
            body: resp.json(),
            headers: resp,
        };
        // checkForErrors: a 2xx with a body, and a `handle` array unless it is a 202.
        assert!(
            (200..300).contains(&answer.status)
                && (answer.body["handle"].is_array() || answer.status == 202),
            "the sample would throw: {} {}",
            answer.status,
            answer.body
        );
        // extractEdgeCluster: the EdgeNetwork hint serves the client's next calls.
        if let Some(hint) = answer.body["handle"].as_array().and_then(|handles| {
            handles
                .iter()
                .find(|h| h["type"] == "locationHint:result")?["payload"]
                .as_array()?
                .iter()
                .find(|p| p["scope"] == "EdgeNetwork")?["hint"]
                .as_str()
        }) {
            self.cluster = hint.to_string();
        }
        answer
    }

    /// `requestAepEdgePersonalization(client, req, [SCOPE], identityMap, cookieEntries)`.
    fn get_propositions(&mut self, identity_map: Value, cookies: &Cookies) -> Answer {
        let body = json!({
            "event": {
                "xdm": {
                    "eventType": "decisioning.propositionFetch",
                    "web": {"webPageDetails": {"URL": PAGE}, "webReferrer": {"URL": ""}},
                    "identityMap": identity_map,
                    "implementationDetails": {"name": "server-side"},
                    "timestamp": "2024-05-02T10:00:00.000Z",
                },
                "data": {},
            },
            "query": {
                "identity": {"fetch": ["ECID"]},
                "personalization": {
                    "schemas": SCHEMAS,
                    "decisionScopes": ["__view__", SCOPE],
                    "surfaces": [],
                },
            },
            "meta": {
                "state": {"domain": "localhost", "cookiesEnabled": true, "entries": state_entries(cookies)},
            },
        });
        self.edge_request("interact", &body, &[("Referer", PAGE)])
    }

    /// `sendDisplayEvent(client, req, propositions, cookieEntries)`.
    fn send_display_event(&mut self, propositions: &[Value], cookies: &Cookies) -> Answer {
        let shown: Vec<Value> = propositions
            .iter()
            .map(|p| json!({"id": p["id"], "scope": p["scope"], "scopeDetails": p["scopeDetails"]}))
            .collect();
        let body = json!({
            "event": {
                "xdm": {
                    "web": {"webPageDetails": {"URL": PAGE}, "webReferrer": {"URL": ""}},
                    "timestamp": "2024-05-02T10:00:01.000Z",
                    "eventType": "decisioning.propositionDisplay",
                    "_experience": {"decisioning": {"propositions": shown}},
                },
            },
            "query": {"identity": {"fetch": ["ECID"]}},
            "meta": {"state": {"domain": "", "cookiesEnabled": true, "entries": state_entries(cookies)}},
        });
        self.edge_request("interact", &body, &[("Referer", PAGE)])
    }

    /// `collect(aepEdgeClient, req, identity, xdm, authInfo)` from `common/collection.js`.
    fn collect(&mut self, fpid: &str, xdm: Value) -> Answer {
        let mut event_xdm = json!({
            "web": {"webPageDetails": {"URL": PAGE}, "webReferrer": {"URL": ""}},
            "timestamp": "2024-05-02T10:00:02.000Z",
            "identityMap": {"FPID": [{"id": fpid, "primary": true}]},
        });
        for (k, v) in xdm.as_object().unwrap() {
            event_xdm[k] = v.clone();
        }
        self.edge_request(
            "collect",
            &json!({"events": [{"xdm": event_xdm}]}),
            &[("Referer", PAGE)],
        )
    }
}

/// `getPersonalizationPayloads`: the payload of the first decisions handle, as the
/// sample reads it (`handle.find(...)`).
fn propositions(answer: &Answer) -> Vec<Value> {
    answer.body["handle"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["type"] == "personalization:decisions")
        .map(|h| h["payload"].as_array().unwrap().clone())
        .unwrap_or_default()
}

fn ecid(answer: &Answer) -> String {
    let handle = answer.body["handle"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["type"] == "identity:result")
        .expect("identity:result");
    assert_eq!(handle["payload"][0]["namespace"]["code"], "ECID");
    handle["payload"][0]["id"].as_str().unwrap().to_string()
}

fn stored_keys(answer: &Answer) -> Vec<String> {
    let mut cookies = Cookies::new();
    save_cookies(&mut cookies, &answer.body);
    cookies.into_keys().collect()
}

/// The sample's own content for its form-based activity (`prepareTemplateVariables` reads
/// `items[0].data.content.heroImageName` and `buttonActions`).
fn sample_decisions() -> Options {
    let decisions = json!({
        SCOPE: {
            "heroImageName": "demo-marketing-offer1-exp-B.png",
            "buttonActions": [{"id": 1, "text": "Buy now", "content": "Thank you!"}],
        },
    });
    Options {
        decisions: decisions.as_object().unwrap().clone(),
        default_hint: "va6".into(),
        ..Options::default()
    }
}

#[test]
fn personalization_server_side_sample_over_two_visits() {
    let emu = start(sample_decisions());
    let mut cookies = Cookies::new();

    // Visit 1: no cookies, no FPID configured (the sample then sends an empty identityMap).
    let mut client = SampleClient {
        emu: &emu,
        cluster: String::new(),
        server_domain: false,
        extra_headers: Vec::new(),
    };
    let first = client.get_propositions(json!({}), &cookies);
    assert_eq!(first.status, 200);
    let props = propositions(&first);
    let scopes: Vec<&str> = props.iter().map(|p| p["scope"].as_str().unwrap()).collect();
    assert_eq!(scopes, ["__view__", SCOPE]);
    // getPersonalizationOffer(result, SCOPE) and what the page renders from it.
    let offer = props.iter().find(|p| p["scope"] == SCOPE).unwrap();
    assert_eq!(offer["scopeDetails"]["decisionProvider"], "TGT");
    assert!(
        offer["id"].is_string()
            && offer["scopeDetails"]["characteristics"]["eventToken"].is_string()
    );
    let content = &offer["items"][0]["data"]["content"];
    assert_eq!(content["heroImageName"], "demo-marketing-offer1-exp-B.png");
    assert_eq!(content["buttonActions"][0]["text"], "Buy now");
    assert_eq!(
        offer["items"][0]["schema"],
        "https://ns.adobe.com/personalization/json-content-item"
    );
    // The page-wide scope: Target's default content, which the sample skips.
    assert_eq!(
        props[0]["items"][0]["schema"],
        "https://ns.adobe.com/personalization/default-content-item"
    );
    // The answer a server needs for the visitor: ECID, identity and cluster cookies.
    let visitor = ecid(&first);
    assert_eq!(
        stored_keys(&first),
        [cookie_name("cluster"), cookie_name("identity")]
    );
    assert_eq!(
        client.cluster, "va6",
        "extractEdgeCluster found the EdgeNetwork hint"
    );

    // The display notification, sent by the same client: to /ee/va6/, honoured there.
    // (Its entries are the cookies of the page request: none on a first visit.)
    let display = client.send_display_event(std::slice::from_ref(offer), &cookies);
    assert_eq!(display.status, 200);
    assert_eq!(
        display.headers.header("x-adobe-edge").as_deref(),
        Some("va6;35")
    );
    // Without cookies yet, Edge gives the display call an ECID of its own.
    assert_eq!(ecid(&display).len(), 38);
    let sent = emu.requests();
    assert_eq!(sent[1].path, "/ee/va6/v2/interact");
    assert_eq!(
        sent[1].json().unwrap()["event"]["xdm"]["_experience"]["decisioning"]["propositions"][0]
            ["id"],
        offer["id"]
    );
    assert_eq!(
        sent[1].header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    save_cookies(&mut cookies, &first.body);

    // Visit 2: the browser brings the cookies back; a new client starts from the cluster
    // cookie (getAepEdgeClusterCookie), as the sample's route handler does.
    let mut client = SampleClient {
        emu: &emu,
        cluster: cookies[&cookie_name("cluster")].clone(),
        server_domain: false,
        extra_headers: Vec::new(),
    };
    let second = client.get_propositions(json!({}), &cookies);
    assert_eq!(emu.requests()[2].path, "/ee/va6/v2/interact");
    assert_eq!(
        ecid(&second),
        visitor,
        "the identity cookie keeps the visitor"
    );
    assert_eq!(
        stored_keys(&second),
        [cookie_name("cluster")],
        "no new identity"
    );
    let again = propositions(&second);
    assert_eq!(again, props, "the same decisions for the same scopes");
    let display = client.send_display_event(&again[1..], &cookies);
    assert_eq!(ecid(&display), visitor);
    assert_eq!(stored_keys(&display), [cookie_name("cluster")]);
}

#[test]
fn a_cluster_cookie_routes_the_visitor_in_both_forms() {
    // The visitor's cookie says irl1; the emulator's own default is va6.
    let emu = start(sample_decisions());
    let mut cookies = Cookies::new();
    cookies.insert(cookie_name("cluster"), "irl1".into());
    for server_domain in [false, true] {
        let mut client = SampleClient {
            emu: &emu,
            cluster: "irl1".into(),
            server_domain,
            extra_headers: Vec::new(),
        };
        let r = client.get_propositions(json!({}), &cookies);
        assert_eq!(r.headers.header("x-adobe-edge").as_deref(), Some("irl1;35"));
        let mut stored = Cookies::new();
        save_cookies(&mut stored, &r.body);
        assert_eq!(stored[&cookie_name("cluster")], "irl1");
        assert_eq!(client.cluster, "irl1");
    }
    let sent = emu.requests();
    assert_eq!(sent[0].path, "/ee/irl1/v2/interact");
    assert_eq!(sent[1].path, "/ee/v2/interact");
    assert_eq!(sent[1].header("host"), Some("irl1.server.adobedc.net"));
}

#[test]
fn collect_with_auth_headers_on_the_server_domain() {
    let emu = start(Options {
        require_auth: true,
        validate_tokens: true,
        static_tokens: vec!["sample-token".into()],
        ..Options::default()
    });
    // collect(..., authInfo): Authorization, x-gw-ims-org-id and x-api-key.
    let mut client = SampleClient {
        emu: &emu,
        cluster: "or2".into(),
        server_domain: true,
        extra_headers: vec![
            ("Authorization".into(), "Bearer sample-token".into()),
            ("x-gw-ims-org-id".into(), ORG.into()),
            ("x-api-key".into(), "sample-client-id".into()),
        ],
    };
    let r = client.collect(
        "3f9a2b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b",
        json!({"eventType": "web.webpagedetails.pageViews"}),
    );
    assert_eq!(r.status, 202);
    let keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["requestId"]);
    assert!(r.body["requestId"]
        .as_str()
        .unwrap()
        .starts_with("d81c0e07-5ba3-4f5b-8f0e-1c2d3e4f5a6b-"));
    assert_eq!(r.headers.header("x-adobe-edge").as_deref(), Some("or2;35"));
    assert_eq!(
        emu.requests()[0].header("host"),
        Some("or2.server.adobedc.net")
    );
}

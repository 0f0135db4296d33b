//! OAuth server-to-server against the emulator's IMS stand-in, static token
//! replacement, and consent: gating, pending, and persistence across a restart.
#![allow(clippy::result_large_err)]

mod common;

use aep_edge::ErrorKind;
use aep_edge_emulator::{Emulator, Fault, Options};
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ORG: &str = "53A16ACB5CC1D3760A495C99@AdobeOrg";

fn ims_emulator(token_ttl_secs: u64) -> Emulator {
    emulator_with(Options {
        require_auth: true,
        validate_tokens: true,
        token_ttl_secs,
        ims_clients: vec![("my-client".into(), "my-secret".into())],
        ..Options::default()
    })
}

fn oauth_client(edge: &Emulator, secret: &str) -> aep_edge::Client {
    client(
        &edge.base_url(),
        json!({"orgId": ORG, "auth": {
            "type": "oauth", "clientId": "my-client", "clientSecret": secret,
            "scopes": "openid,AdobeID,read_organizations",
            "tokenUrl": format!("{}/ims/token/v3", edge.base_url())
        }}),
    )
}

fn token_fetches(edge: &Emulator) -> Vec<aep_edge_emulator::RecordedRequest> {
    edge.requests()
        .into_iter()
        .filter(|r| r.path == "/ims/token/v3")
        .collect()
}

#[test]
fn one_token_fetch_serves_a_hundred_calls_across_threads() {
    let edge = ims_emulator(86_399);
    let client = oauth_client(&edge, "my-secret");
    assert!(
        token_fetches(&edge).is_empty(),
        "no token is fetched before the first call"
    );
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..25 {
                    client.interact(source_request()).unwrap();
                }
            });
        }
    });
    let fetches = token_fetches(&edge);
    assert_eq!(fetches.len(), 1);
    let form = String::from_utf8(fetches[0].body.clone()).unwrap();
    assert!(form.contains("grant_type=client_credentials"), "{form}");
    assert!(form.contains("client_id=my-client") && form.contains("client_secret=my-secret"));
    assert!(
        form.contains("scope=openid%2CAdobeID%2Cread_organizations"),
        "{form}"
    );
    let edge_call = edge
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/v2/interact"))
        .unwrap();
    assert_eq!(edge_call.header("x-api-key"), Some("my-client"));
    assert_eq!(edge_call.header("x-gw-ims-org-id"), Some(ORG));
}

#[test]
fn the_token_is_refreshed_when_it_expires() {
    let edge = ims_emulator(1);
    let client = oauth_client(&edge, "my-secret");
    client.interact(source_request()).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    client.interact(source_request()).unwrap();
    assert_eq!(token_fetches(&edge).len(), 2, "a new token after expiry");
}

#[test]
fn an_expired_token_answer_refreshes_and_retries_once() {
    let edge = ims_emulator(86_399);
    let client = oauth_client(&edge, "my-secret");
    client.interact(source_request()).unwrap();
    let expired = json!({"type": "https://ns.adobe.com/aep/errors/EXEG-0503-401", "status": 401, "title": "Token expired"});
    edge.inject(Fault {
        status: Some(401),
        body: Some(expired.to_string()),
        content_type: Some("application/problem+json".into()),
        ..Fault::default().on_path("/v2/interact")
    });
    let result = client.interact(source_request()).unwrap();
    assert_eq!(result["client"]["attempts"], 2);
    assert_eq!(token_fetches(&edge).len(), 2);

    // A second expiry in the same call is not retried again.
    edge.inject(Fault {
        status: Some(401),
        body: Some(expired.to_string()),
        content_type: Some("application/problem+json".into()),
        count: 2,
        ..Fault::default().on_path("/v2/interact")
    });
    let e = client.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    assert_eq!(e.code.as_deref(), Some("EXEG-0503-401"));
    assert_eq!(e.attempts, 2);
}

#[test]
fn refused_client_credentials_are_an_auth_error_without_the_secret() {
    let edge = ims_emulator(86_399);
    let client = oauth_client(&edge, "wrong-secret-value");
    let e = client.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    assert_eq!(e.http_status, Some(401));
    // design.md §3.3: `code` is for EXEG codes; IMS's `error` is in the message
    // and its body under `problem`. Nothing was sent to the Edge Network.
    assert_eq!(e.code, None);
    assert!(e.message.contains("invalid_client"), "{}", e.message);
    assert_eq!(e.problem.as_ref().unwrap()["error"], "invalid_client");
    assert!(!e.retryable, "the same credentials will be refused again");
    assert_eq!((e.attempts, e.request_id.as_deref()), (0, None));
    assert!(!e.to_json_string().contains("wrong-secret-value"));
    assert!(!format!("{client:?}").contains("wrong-secret-value"));
    assert_eq!(
        edge.requests().len(),
        1,
        "nothing reached the Edge endpoint"
    );
}

#[test]
fn a_static_token_can_be_replaced_without_a_new_client() {
    let edge = emulator_with(Options {
        require_auth: true,
        validate_tokens: true,
        static_tokens: vec!["first".into(), "second".into()],
        ..Options::default()
    });
    let client = client(
        &edge.base_url(),
        json!({"orgId": ORG, "auth": {"type": "token", "accessToken": "first", "apiKey": "key"}}),
    );
    client.interact(source_request()).unwrap();
    client.set_access_token("second").unwrap();
    client.interact(source_request()).unwrap();
    let sent: Vec<String> = edge
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap().to_string())
        .collect();
    assert_eq!(sent, ["Bearer first", "Bearer second"]);
    client.set_access_token("revoked").unwrap();
    let e = client.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    assert_eq!(e.code.as_deref(), Some("EXEG-0502-401"));
}

fn adobe_consent(val: &str) -> Value {
    json!({"consent": [{"standard": "Adobe", "version": "2.0", "value": {"collect": {"val": val}, "metadata": {"time": "2026-11-29T00:00:00Z"}}}]})
}

#[test]
fn consent_n_stops_calls_and_survives_a_restart() {
    let edge = emulator();
    let dir = std::env::temp_dir().join(format!("aep-edge-consent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = json!({"statePath": dir.join("s.json").to_str().unwrap()});

    let first = client(&edge.base_url(), config.clone());
    let result = first.set_consent(adobe_consent("n")).unwrap();
    assert_eq!(handles(&result, "consent:preferences").len(), 1);
    let sent = edge.requests().pop().unwrap();
    assert_eq!(sent.path, "/ee/v1/privacy/set-consent");
    assert_eq!(sent.query_param("configId"), Some("demo-datastream"));
    assert_eq!(first.session()["consent"], "n");

    let before = edge.requests().len();
    let e = first.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::ConsentDenied);
    assert_eq!(e.to_json()["error"]["status"], 14);
    assert_eq!(e.attempts, 0);
    assert_eq!(
        first.collect(json!({"events": [{}]})).unwrap_err().kind,
        ErrorKind::ConsentDenied
    );
    assert_eq!(edge.requests().len(), before, "nothing was sent");
    drop(first);

    let restarted = client(&edge.base_url(), config);
    assert_eq!(
        restarted.interact(source_request()).unwrap_err().kind,
        ErrorKind::ConsentDenied
    );
    restarted.set_consent(adobe_consent("y")).unwrap();
    let consent_call = edge.requests().pop().unwrap();
    assert!(
        consent_call.path.starts_with("/ee/or2/"),
        "set-consent is hint-routed: {}",
        consent_call.path
    );
    restarted.interact(source_request()).unwrap();
}

#[test]
fn pending_consent_waits_for_a_decision() {
    let edge = emulator();
    let client = client(
        &edge.base_url(),
        json!({"defaultConsent": "pending", "timeouts": {"totalMs": 5000}}),
    );
    assert_eq!(client.session()["consent"], "p");
    std::thread::scope(|s| {
        let started = Instant::now();
        let waiting = s.spawn(|| client.interact(source_request()));
        std::thread::sleep(Duration::from_millis(300));
        assert!(edge.requests().is_empty(), "nothing goes out while pending");
        client
            .set_consent(json!({"consent": [{"standard": "Adobe", "version": "1.0", "value": {"general": "in"}}]}))
            .unwrap();
        waiting.join().unwrap().unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300));
    });

    let impatient = self::client(
        &edge.base_url(),
        json!({"defaultConsent": "pending", "timeouts": {"totalMs": 300}}),
    );
    let e = impatient.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(e.message.contains("pending"), "{}", e.message);
}

#[test]
fn consent_bodies_are_validated_before_sending() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    for (body, needle) in [
        (json!({}), "consent is required"),
        (json!({"consent": []}), "non-empty array"),
        (
            json!({"consent": [{"standard": "Adobe", "version": "3.0", "value": {}}]}),
            "standard and version",
        ),
        (
            json!({"consent": [{"standard": "IAB TCF", "version": "2.0", "value": ""}]}),
            "TC string",
        ),
    ] {
        let e = client.set_consent(body).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert!(e.message.contains(needle), "{}", e.message);
    }
    assert!(edge.requests().is_empty());
    let iab = client
        .set_consent(json!({"consent": [{"standard": "IAB TCF", "version": "2.0", "value": "CO052l-O052l-DGAMBFRACBgAIBAAAAAAIYgEawAQEagAAAA", "gdprApplies": true}]}))
        .unwrap();
    assert_eq!(iab["client"]["httpStatus"], 200);
}

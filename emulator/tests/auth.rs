//! Authentication on the Edge endpoints and the IMS token stand-in.

mod common;

use aep_edge_emulator::{Emulator, Options};
use common::*;
use serde_json::Value;

fn with_auth(token: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("authorization", token),
        ("x-api-key", "client-id"),
        ("x-gw-ims-org-id", "53A16ACB5CC1D3760A495C99@AdobeOrg"),
    ]
}

fn ims(emu: &Emulator, form: &str) -> Resp {
    let mut req = agent()
        .post(&format!("{}/ims/token/v3", emu.base_url()))
        .header("content-type", "application/x-www-form-urlencoded");
    req = req.header("accept", "application/json");
    let mut r = req.send(form).unwrap();
    Resp {
        status: r.status().as_u16(),
        headers: Vec::new(),
        body: r.body_mut().read_to_string().unwrap(),
    }
}

fn issue(emu: &Emulator) -> String {
    let r = ims(
        emu,
        "grant_type=client_credentials&client_id=id&client_secret=secret&scope=openid%2CAdobeID",
    );
    assert_eq!(r.status, 200, "{r:?}");
    format!("Bearer {}", r.json()["access_token"].as_str().unwrap())
}

#[test]
fn no_auth_needed_by_default() {
    let emu = start(Options::default());
    assert_eq!(post(&interact_url(&emu), EVENT).status, 200);
}

#[test]
fn require_auth_names_the_missing_header() {
    let emu = start(Options {
        require_auth: true,
        ..Options::default()
    });
    let url = interact_url(&emu);
    let r = post(&url, EVENT);
    assert_eq!((r.status, r.exeg()), (401, "EXEG-0500-401".to_string()));
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("Authorization"));

    let mut headers = with_auth("Bearer anything");
    for missing in ["x-api-key", "x-gw-ims-org-id"] {
        let partial: Vec<_> = headers
            .iter()
            .copied()
            .filter(|(k, _)| *k != missing)
            .collect();
        let r = post_with(&url, EVENT, &partial);
        assert_eq!(r.exeg(), "EXEG-0500-401");
        assert!(
            r.json()["detail"].as_str().unwrap().contains(missing),
            "{r:?}"
        );
    }
    headers[0].1 = "Basic dXNlcjpwYXNz";
    assert_eq!(post_with(&url, EVENT, &headers).exeg(), "EXEG-0500-401");
    // Without token validation any Bearer token passes.
    let r = post_with(&url, EVENT, &with_auth("Bearer anything"));
    assert_eq!(r.status, 200, "{r:?}");
    // Collect and consent are guarded too.
    let collect = format!("{}/ee/v2/collect?dataStreamId=x", emu.base_url());
    assert_eq!(post(&collect, BATCH).exeg(), "EXEG-0500-401");
    assert_eq!(
        post_with(&collect, BATCH, &with_auth("Bearer t")).status,
        202
    );
}

#[test]
fn validated_tokens_from_ims_and_static_list() {
    let emu = start(Options {
        require_auth: true,
        validate_tokens: true,
        static_tokens: vec!["always-good".into()],
        ..Options::default()
    });
    let url = interact_url(&emu);
    let r = post_with(&url, EVENT, &with_auth("Bearer made-up"));
    assert_eq!((r.status, r.exeg()), (401, "EXEG-0502-401".to_string()));
    assert_eq!(
        post_with(&url, EVENT, &with_auth("Bearer always-good")).status,
        200
    );
    let token = issue(&emu);
    assert_eq!(post_with(&url, EVENT, &with_auth(&token)).status, 200);
    // reset forgets issued tokens but not static ones.
    emu.reset();
    assert_eq!(
        post_with(&url, EVENT, &with_auth(&token)).exeg(),
        "EXEG-0502-401"
    );
    assert_eq!(
        post_with(&url, EVENT, &with_auth("Bearer always-good")).status,
        200
    );
}

#[test]
fn expired_token_is_exeg_0503() {
    let emu = start(Options {
        require_auth: true,
        validate_tokens: true,
        token_ttl_secs: 0,
        ..Options::default()
    });
    let token = issue(&emu);
    let r = post_with(&interact_url(&emu), EVENT, &with_auth(&token));
    assert_eq!((r.status, r.exeg()), (401, "EXEG-0503-401".to_string()));
    assert!(r.body.contains("expired"));
}

#[test]
fn token_with_ttl_one_second_expires() {
    let emu = start(Options {
        require_auth: true,
        validate_tokens: true,
        token_ttl_secs: 1,
        ..Options::default()
    });
    let token = issue(&emu);
    assert_eq!(
        post_with(&interact_url(&emu), EVENT, &with_auth(&token)).status,
        200
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(
        post_with(&interact_url(&emu), EVENT, &with_auth(&token)).exeg(),
        "EXEG-0503-401"
    );
}

#[test]
fn ims_success_shape() {
    let emu = start(Options {
        token_ttl_secs: 1234,
        ..Options::default()
    });
    let r = ims(
        &emu,
        "grant_type=client_credentials&client_id=a&client_secret=b&scope=openid",
    );
    assert_eq!(r.status, 200);
    let body = r.json();
    let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["access_token", "token_type", "expires_in"]);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 1234);
    let second = ims(
        &emu,
        "grant_type=client_credentials&client_id=a&client_secret=b&scope=openid",
    );
    assert_ne!(second.json()["access_token"], body["access_token"]);
    let recorded = emu.requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].path, "/ims/token/v3");
    assert_eq!(recorded[0].response_status, 200);
}

#[test]
fn ims_errors() {
    let emu = start(Options {
        ims_clients: vec![("id".into(), "secret".into())],
        ..Options::default()
    });
    let error = |form: &str| {
        let r = ims(&emu, form);
        let body: Value = r.json();
        (
            r.status,
            body["error"].as_str().unwrap().to_string(),
            body["error_description"].clone(),
        )
    };
    let (status, err, desc) =
        error("grant_type=client_credentials&client_id=id&client_secret=secret");
    assert_eq!((status, err.as_str()), (400, "invalid_request"));
    assert_eq!(desc, "missing scope");
    let (_, _, desc) = error("client_id=id&client_secret=secret&scope=s");
    assert_eq!(desc, "missing grant_type");
    let (status, err, _) = error("grant_type=password&client_id=id&client_secret=secret&scope=s");
    assert_eq!((status, err.as_str()), (400, "unsupported_grant_type"));
    let (status, err, _) =
        error("grant_type=client_credentials&client_id=id&client_secret=wrong&scope=s");
    assert_eq!((status, err.as_str()), (401, "invalid_client"));
    let (status, err, _) =
        error("grant_type=client_credentials&client_id=other&client_secret=secret&scope=s");
    assert_eq!((status, err.as_str()), (401, "invalid_client"));
    let ok = ims(
        &emu,
        "grant_type=client_credentials&client_id=id&client_secret=secret&scope=s",
    );
    assert_eq!(ok.status, 200);
}

#[test]
fn ims_fields_in_the_query() {
    let emu = start(Options::default());
    let url = format!(
        "{}/ims/token/v3?grant_type=client_credentials&client_id=a&client_secret=b&scope=openid",
        emu.base_url()
    );
    let mut r = agent().post(&url).send("").unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert!(body["access_token"].is_string());
    let r = agent().get(&url).call().unwrap();
    assert_eq!(r.status().as_u16(), 405);
}

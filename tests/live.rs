//! Opt-in smoke test against the real Edge Network. Skipped (with a message)
//! unless AEP_EDGE_DATASTREAM_ID is set; for the authenticated host also set
//! AEP_EDGE_ORG_ID, AEP_EDGE_ACCESS_TOKEN and AEP_EDGE_API_KEY.

mod common;

use serde_json::json;

#[test]
fn live_interact_with_the_source_documents_event() {
    let Ok(datastream) = std::env::var("AEP_EDGE_DATASTREAM_ID") else {
        eprintln!("live smoke test skipped: set AEP_EDGE_DATASTREAM_ID to run it against the real Edge Network");
        return;
    };
    let mut config = json!({"datastreamId": datastream});
    if let Ok(token) = std::env::var("AEP_EDGE_ACCESS_TOKEN") {
        config["orgId"] = json!(std::env::var("AEP_EDGE_ORG_ID").expect("AEP_EDGE_ORG_ID"));
        config["auth"] = json!({
            "type": "token",
            "accessToken": token,
            "apiKey": std::env::var("AEP_EDGE_API_KEY").expect("AEP_EDGE_API_KEY"),
        });
    }
    let client = aep_edge::Client::from_json(&config.to_string()).expect("client");
    let result = client
        .interact(common::source_request())
        .expect("live interact");
    assert!(result["requestId"].is_string());
    assert!(result["handle"].is_array());
    println!("{result:#}");
}

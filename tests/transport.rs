//! The direct transport (src/direct.rs): a request goes out whole however
//! large, and a connection the server dropped is not used again.

mod common;

use aep_edge_emulator::Fault;
use common::*;
use serde_json::json;

#[test]
fn a_request_near_the_size_limit_arrives_whole() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({"session": "none"}));
    let big = "x".repeat(60 * 1024);
    let mut request = source_request();
    request["event"]["data"]["big"] = json!(big);
    let result = client.interact(request).unwrap();
    assert_eq!(result["client"]["httpStatus"], 200);
    let sent = edge.requests().pop().unwrap().json().unwrap();
    assert_eq!(
        sent["event"]["data"]["big"].as_str().unwrap().len(),
        big.len()
    );
    // And the connection still serves a small one after it.
    assert_eq!(
        client.interact(source_request()).unwrap()["client"]["attempts"],
        1
    );
}

#[test]
fn a_connection_the_server_dropped_is_replaced() {
    let edge = emulator();
    let client = client(
        &edge.base_url(),
        json!({"session": "none", "retry": {"maxAttempts": 1}}),
    );
    for _ in 0..5 {
        client.interact(source_request()).unwrap();
    }
    edge.inject(Fault::reset());
    assert!(
        client.interact(source_request()).is_err(),
        "the reset reaches the call"
    );
    let result = client.interact(source_request()).unwrap();
    assert_eq!(result["client"]["attempts"], 1, "a new connection, at once");
}

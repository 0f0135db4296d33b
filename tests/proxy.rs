//! A proxy is used only when configured: the environment's proxy variables
//! are ignored unless `proxy.fromEnv` is true. One test in this binary, because
//! it sets environment variables.

mod common;

use aep_edge::ErrorKind;
use common::*;
use serde_json::json;

#[test]
fn environment_proxies_are_ignored_unless_asked_for() {
    let edge = emulator();
    // A proxy that refuses every connection.
    let dead = emulator();
    let dead_url = dead.base_url();
    dead.shutdown();
    for var in [
        "ALL_PROXY",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "http_proxy",
        "https_proxy",
    ] {
        std::env::set_var(var, &dead_url);
    }
    for var in ["NO_PROXY", "no_proxy"] {
        std::env::remove_var(var);
    }

    let direct = client(&edge.base_url(), json!({"retry": {"maxAttempts": 1}}));
    direct
        .interact(source_request())
        .expect("no proxy unless configured");

    let from_env = client(
        &edge.base_url(),
        json!({"retry": {"maxAttempts": 1}, "proxy": {"fromEnv": true}}),
    );
    let e = from_env.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{e}");

    let configured = client(
        &edge.base_url(),
        json!({"retry": {"maxAttempts": 1}, "proxy": {"url": dead_url}}),
    );
    assert_eq!(
        configured.interact(source_request()).unwrap_err().kind,
        ErrorKind::Transport
    );
    assert_eq!(
        edge.requests().len(),
        1,
        "only the direct call reached the server"
    );
}

//! HTTPS to the emulator with a CA made at test time, trusted through `tls.caFile`.

mod common;

use aep_edge::ErrorKind;
use aep_edge_emulator::{Options, TlsIdentity};
use common::*;
use serde_json::json;

fn https_emulator() -> (aep_edge_emulator::Emulator, tempfile_path::TempPath) {
    let (ca, chain, key) = test_pki();
    let edge = emulator_with(Options {
        tls: Some(TlsIdentity {
            cert_chain_pem: chain,
            key_pem: key,
        }),
        ..Options::default()
    });
    (edge, tempfile_path::TempPath::with_contents("ca.pem", &ca))
}

#[test]
fn a_trusted_ca_file_gives_a_verified_https_call() {
    let (edge, ca) = https_emulator();
    assert!(edge.base_url().starts_with("https://127.0.0.1:"));
    let client = client(&edge.base_url(), json!({"tls": {"caFile": ca.path()}}));
    let result = client.interact(source_request()).unwrap();
    assert_eq!(result["client"]["httpStatus"], 200);
}

#[test]
fn an_untrusted_certificate_is_refused_and_not_retried() {
    let (edge, _ca) = https_emulator();
    let client = client(&edge.base_url(), json!({}));
    let e = client.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport);
    assert!(e.message.contains("certificate"), "{}", e.message);
    assert_eq!(e.attempts, 1);
    assert!(edge.requests().is_empty(), "no request got through");
}

#[test]
fn a_bad_ca_file_is_a_config_error() {
    let missing = aep_edge::Config::from_value(&config(
        "https://127.0.0.1:1",
        json!({"tls": {"caFile": "/nonexistent/ca.pem"}}),
    ))
    .unwrap();
    let e = aep_edge::Client::new(missing).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidConfig);
    assert!(e.message.contains("tls.caFile"), "{}", e.message);

    let not_pem = tempfile_path::TempPath::with_contents("x.pem", "hello");
    let config = aep_edge::Config::from_value(&config(
        "https://127.0.0.1:1",
        json!({"tls": {"caFile": not_pem.path()}}),
    ))
    .unwrap();
    assert!(aep_edge::Client::new(config)
        .unwrap_err()
        .message
        .contains("no PEM certificate"));
}

#[test]
fn system_roots_take_the_ca_file_too() {
    let (edge, ca) = https_emulator();
    let client = client(
        &edge.base_url(),
        json!({"tls": {"roots": "system", "caFile": ca.path()}}),
    );
    let result = client.interact(source_request()).unwrap();
    assert_eq!(result["client"]["httpStatus"], 200);
}

/// An emulator serving a certificate for `edge.aep-edge.test` only, and the
/// config that reaches it under that name through `resolve`.
fn emulator_by_name(
    name_in_url: &str,
) -> (
    aep_edge_emulator::Emulator,
    tempfile_path::TempPath,
    serde_json::Value,
) {
    let (ca, chain, key) = test_pki_for(&["edge.aep-edge.test"]);
    let edge = emulator_with(Options {
        tls: Some(TlsIdentity {
            cert_chain_pem: chain,
            key_pem: key,
        }),
        ..Options::default()
    });
    let ca = tempfile_path::TempPath::with_contents("ca.pem", &ca);
    let address = edge.base_url().trim_start_matches("https://").to_string();
    let config = config(
        &format!("https://{name_in_url}"),
        json!({"tls": {"caFile": ca.path()}, "resolve": {name_in_url: address}}),
    );
    (edge, ca, config)
}

#[test]
fn resolve_reaches_a_made_up_host_name_with_verification_on() {
    let (edge, _ca, config) = emulator_by_name("edge.aep-edge.test");
    let client = aep_edge::Client::new(aep_edge::Config::from_value(&config).unwrap()).unwrap();
    for _ in 0..3 {
        let result = client.interact(source_request()).unwrap();
        assert_eq!(result["client"]["httpStatus"], 200);
    }
    assert_eq!(edge.requests().len(), 3);
}

#[test]
fn resolve_does_not_turn_off_name_verification() {
    // Pinned to the same server, but the certificate is not for this name.
    let (edge, _ca, config) = emulator_by_name("other.aep-edge.test");
    let client = aep_edge::Client::new(aep_edge::Config::from_value(&config).unwrap()).unwrap();
    let e = client.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport);
    assert!(e.message.contains("certificate"), "{}", e.message);
    assert!(edge.requests().is_empty(), "no request got through");
}

#[test]
fn an_unpinned_made_up_name_does_not_resolve() {
    let client = client(
        "https://nonexistent.invalid",
        json!({"retry": {"maxAttempts": 1}}),
    );
    let e = client.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport);
    assert!(e.message.contains("resolve"), "{}", e.message);
}

/// A file in a fresh temporary directory, removed on drop.
mod tempfile_path {
    use std::path::PathBuf;

    pub struct TempPath(PathBuf);

    impl TempPath {
        pub fn with_contents(name: &str, contents: &str) -> TempPath {
            let dir = std::env::temp_dir().join(format!(
                "aep-edge-test-{}-{}",
                std::process::id(),
                aep_edge_test_counter()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(name);
            std::fs::write(&path, contents).unwrap();
            TempPath(path)
        }

        pub fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    fn aep_edge_test_counter() -> usize {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }
}

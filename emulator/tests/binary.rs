//! The `aep-edge-emulator` binary, as the C, C++ and Python tests start it.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_aep-edge-emulator");

/// A started binary, killed when dropped so a failing test leaves no process behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

fn auth_headers(token: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("authorization", token),
        ("x-api-key", "id"),
        ("x-gw-ims-org-id", "ABC@AdobeOrg"),
    ]
}

/// Starts the binary and returns it with the first line it printed.
fn spawn(args: &[&str]) -> (Running, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Running(child), line.trim_end().to_string())
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let t = Instant::now();
    while t.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn prints_the_base_url_first_and_serves() {
    let (_server, url) = spawn(&["--port", "0", "--datastream", "known"]);
    let port = url.strip_prefix("http://127.0.0.1:").expect(&url);
    assert!(port.parse::<u16>().unwrap() > 0);
    assert_eq!(get(&format!("{url}/__emulator/health")).status, 200);
    let r = post(&format!("{url}/ee/v2/interact?dataStreamId=nope"), EVENT);
    assert_eq!(r.exeg(), "EXEG-0003-400");
    let r = post(&format!("{url}/ee/v2/interact?dataStreamId=known"), EVENT);
    assert_eq!(r.status, 200);
}

#[test]
fn fidelity_flags() {
    let decisions =
        std::env::temp_dir().join(format!("emu-bin-decisions-{}.json", std::process::id()));
    std::fs::write(&decisions, r#"{"hero": {"heroImageName": "b.png"}}"#).unwrap();
    let (_server, url) = spawn(&[
        "--lenient-identity",
        "--rate-limit",
        "50/s",
        "--decisions",
        decisions.to_str().unwrap(),
    ]);
    std::fs::remove_file(&decisions).unwrap();
    let interact = format!("{url}/ee/v2/interact?dataStreamId=d");
    let body = r#"{"event":{},"query":{"personalization":{"decisionScopes":["hero"]}}}"#;
    let r = post(&interact, body);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("x-rate-limit-remaining"), Some("49"));
    let decisions = r.handle("personalization:decisions");
    assert_eq!(
        decisions[0]["items"][0]["data"]["content"]["heroImageName"],
        "b.png"
    );

    // Strict by default.
    let (_strict, url) = spawn(&[]);
    let r = post(&format!("{url}/ee/v2/interact?dataStreamId=d"), body);
    assert_eq!(r.exeg(), "EXEG-0306-400");
}

#[test]
fn auth_flags() {
    let (_server, url) = spawn(&[
        "--require-auth",
        "--validate-tokens",
        "--static-token=tok",
        "--ims-client",
        "id:secret",
        "--token-ttl",
        "0",
        "--org-id",
        "ABC@AdobeOrg",
    ]);
    let interact = format!("{url}/ee/v2/interact?dataStreamId=d");
    assert_eq!(post(&interact, EVENT).exeg(), "EXEG-0500-401");
    assert_eq!(
        post_with(&interact, EVENT, &auth_headers("Bearer x")).exeg(),
        "EXEG-0502-401"
    );
    let r = post_with(&interact, EVENT, &auth_headers("Bearer tok"));
    assert_eq!(r.status, 200);
    let store = r.handle("state:store");
    assert_eq!(store[0]["key"], "kndctr_ABC_AdobeOrg_identity");

    let ims = format!("{url}/ims/token/v3");
    let bad = post(
        &ims,
        "grant_type=client_credentials&client_id=id&client_secret=no&scope=s",
    );
    assert_eq!(bad.status, 401);
    let good = post(
        &ims,
        "grant_type=client_credentials&client_id=id&client_secret=secret&scope=s",
    );
    assert_eq!(good.json()["expires_in"], 0);
    let token = format!("Bearer {}", good.json()["access_token"].as_str().unwrap());
    assert_eq!(
        post_with(&interact, EVENT, &auth_headers(&token)).exeg(),
        "EXEG-0503-401"
    );
}

#[test]
fn https_from_pem_files() {
    let dir = std::env::temp_dir().join(format!("edge-emulator-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, chain, key) = test_pki();
    std::fs::write(dir.join("cert.pem"), chain).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
    let cert = dir.join("cert.pem").display().to_string();
    let key = dir.join("key.pem").display().to_string();
    let (_server, url) = spawn(&["--tls-cert", &cert, "--tls-key", &key]);
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let r = tls_agent(&ca)
        .get(&format!("{url}/__emulator/health"))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn exits_on_stdin_eof_when_asked() {
    let (mut child, url) = spawn(&["--exit-on-stdin-eof"]);
    assert_eq!(get(&format!("{url}/__emulator/health")).status, 200);
    drop(child.stdin.take());
    let status = wait_with_timeout(&mut child, Duration::from_secs(10)).expect("exits");
    assert!(status.success());
}

#[test]
fn keeps_serving_without_the_flag_after_stdin_closes() {
    let (mut child, url) = spawn(&[]);
    drop(child.stdin.take());
    std::thread::sleep(Duration::from_millis(200));
    assert!(child.try_wait().unwrap().is_none());
    assert_eq!(get(&format!("{url}/__emulator/health")).status, 200);
}

#[test]
fn help_and_bad_flags() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Usage: aep-edge-emulator"));
    for flag in [
        "--port",
        "--require-auth",
        "--tls-cert",
        "--exit-on-stdin-eof",
        "--ims-client",
    ] {
        assert!(text.contains(flag), "{flag}");
    }
    for args in [
        &["--bogus"][..],
        &["--port", "nope"],
        &["--tls-key", "k.pem"],
    ] {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = wait_with_timeout(&mut child, Duration::from_secs(10)).expect("exits");
        assert_eq!(status.code(), Some(2), "{args:?}");
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(stderr.contains("aep-edge-emulator:"), "{stderr}");
        let mut stdout = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        assert!(stdout.is_empty());
    }
}

#[test]
fn a_port_in_use_fails_to_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(BIN).args(["--port", &port]).output().unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot start"));
}

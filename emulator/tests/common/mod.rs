//! Helpers shared by the integration tests: a ureq client that keeps non-2xx bodies, a raw
//! socket client for what ureq hides, and a test CA.

#![allow(dead_code)] // each test file uses a different subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use aep_edge_emulator::{Emulator, Options};
use serde_json::Value;

pub const DS: &str = "ds-test";

/// A v2 interact body whose event has an identity (an FPID), so the identity rule passes.
pub const EVENT: &str =
    r#"{"event":{"xdm":{"identityMap":{"FPID":[{"id":"emulator-test-visitor","primary":true}]}}}}"#;
/// A collect body with one such event.
pub const BATCH: &str = r#"{"events":[{"xdm":{"identityMap":{"FPID":[{"id":"emulator-test-visitor","primary":true}]}}}]}"#;

/// Options for a test that is not about identity: events without one are served.
pub fn lenient() -> Options {
    Options {
        lenient_identity: true,
        ..Options::default()
    }
}

pub fn start(options: Options) -> Emulator {
    Emulator::start(options).expect("emulator starts")
}

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The problem `type`'s EXEG code, asserting the problem+json shape on the way.
    pub fn exeg(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        let body = self.json();
        assert_eq!(body["status"], self.status, "{body}");
        for key in ["title", "detail"] {
            assert!(body[key].is_string(), "problem without {key}: {body}");
        }
        assert!(body["report"]["requestId"].is_string(), "{body}");
        let t = body["type"].as_str().unwrap();
        t.strip_prefix("https://ns.adobe.com/aep/errors/")
            .unwrap_or_else(|| panic!("type {t}"))
            .to_string()
    }

    pub fn handle_types(&self) -> Vec<String> {
        self.json()["handle"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["type"].as_str().unwrap().to_string())
            .collect()
    }

    /// The payload of the one handle of that type.
    pub fn handle(&self, kind: &str) -> Value {
        let body = self.json();
        let found: Vec<&Value> = body["handle"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["type"] == kind)
            .collect();
        assert_eq!(found.len(), 1, "{kind} handles in {body}");
        found[0]["payload"].clone()
    }
}

fn to_resp(mut r: ureq::http::Response<ureq::Body>) -> Resp {
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string().expect("body reads");
    Resp {
        status,
        headers,
        body,
    }
}

pub fn post_with(url: &str, body: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = agent().post(url);
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        req = req.header("content-type", "application/json");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    to_resp(req.send(body).expect("request succeeds"))
}

pub fn post(url: &str, body: &str) -> Resp {
    post_with(url, body, &[])
}

pub fn post_json(url: &str, body: &Value) -> Resp {
    post(url, &body.to_string())
}

pub fn get(url: &str) -> Resp {
    to_resp(agent().get(url).call().expect("request succeeds"))
}

pub fn interact_url(emu: &Emulator) -> String {
    format!("{}/ee/v2/interact?dataStreamId={DS}", emu.base_url())
}

/// A response read off a raw socket.
#[derive(Debug)]
pub struct RawResp {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

pub fn connect(addr: SocketAddr) -> BufReader<TcpStream> {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    BufReader::new(s)
}

pub fn send(conn: &mut BufReader<TcpStream>, bytes: &[u8]) {
    conn.get_mut().write_all(bytes).unwrap();
}

/// A request with a JSON body, as raw bytes.
pub fn raw_post(path: &str, body: &str, extra: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads one response (head and Content-Length body) from a kept-alive connection.
pub fn read_response(conn: &mut BufReader<TcpStream>) -> std::io::Result<RawResp> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if conn.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status = head[9..12].parse().unwrap();
    let mut resp = RawResp {
        status,
        head,
        body: Vec::new(),
    };
    let length: usize = resp
        .header("content-length")
        .map_or(0, |v| v.parse().unwrap());
    resp.body.resize(length, 0);
    conn.read_exact(&mut resp.body)?;
    Ok(resp)
}

/// A test CA and a leaf for 127.0.0.1 and localhost signed by it: (ca_pem, chain_pem, key_pem).
pub fn test_pki() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "emulator test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    (ca_cert.pem(), leaf.pem(), leaf_key.serialize_pem())
}

pub fn tls_agent(ca_pem: &str) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let ca = Certificate::from_pem(ca_pem.as_bytes()).unwrap();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::new_with_certs(&[ca]))
                .build(),
        )
        .build()
        .into()
}

/// Sends one request with the given Host header (ureq sets its own) on a new connection
/// and reads the answer.
pub fn post_on_host(emu: &Emulator, host: &str, path: &str, body: &str) -> RawResp {
    let mut conn = connect(emu.addr());
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    send(&mut conn, req.as_bytes());
    read_response(&mut conn).unwrap()
}

impl RawResp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

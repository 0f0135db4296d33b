//! Shared by the integration tests: an emulator per test, configs pointing at
//! it, the source document's event, and a test CA for HTTPS.
#![allow(dead_code)]

use aep_edge::{Client, Config};
use aep_edge_emulator::{Emulator, Options};
use serde_json::{json, Value};

/// The event of the product's source document (Adobe's `/ee/v2/interact` page).
pub fn source_event() -> Value {
    json!({
        "xdm": {
            "identityMap": {"Email_LC_SHA256": [{
                "id": "0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b",
                "primary": true
            }]},
            "eventType": "web.webpagedetails.pageViews",
            "web": {"webPageDetails": {"URL": "https://alloystore.dev/", "name": "home-demo-Home Page"}},
            "timestamp": "2021-08-09T14:09:20.859Z"
        },
        "data": {"prop1": "custom value"}
    })
}

pub fn source_request() -> Value {
    json!({ "event": source_event() })
}

/// The members every error object carries (design.md §3.3), in its order.
pub const ERROR_KEYS: [&str; 10] = [
    "kind",
    "status",
    "message",
    "httpStatus",
    "code",
    "problem",
    "retryable",
    "retryAfterMs",
    "attempts",
    "requestId",
];

pub fn emulator() -> Emulator {
    Emulator::start(Options::default()).expect("emulator starts")
}

pub fn emulator_with(options: Options) -> Emulator {
    Emulator::start(options).expect("emulator starts")
}

/// A config for `base_url` with fast retries, merged with `extra`.
pub fn config(base_url: &str, extra: Value) -> Value {
    let mut c = json!({
        "datastreamId": "demo-datastream",
        "baseUrl": base_url,
        "retry": {"baseDelayMs": 10, "maxDelayMs": 200},
        "timeouts": {"connectMs": 2000, "requestMs": 5000, "totalMs": 20000}
    });
    merge(&mut c, extra);
    c
}

pub fn client(base_url: &str, extra: Value) -> Client {
    Client::new(Config::from_value(&config(base_url, extra)).expect("valid config"))
        .expect("client builds")
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The handles of one type in a result.
pub fn handles<'a>(result: &'a Value, kind: &str) -> Vec<&'a Value> {
    result["handle"]
        .as_array()
        .expect("handle is an array")
        .iter()
        .filter(|h| h["type"] == kind)
        .collect()
}

/// A test CA and a leaf for 127.0.0.1 and localhost signed by it:
/// (CA PEM, leaf chain PEM, leaf key PEM).
pub fn test_pki() -> (String, String, String) {
    test_pki_for(&["127.0.0.1", "localhost"])
}

/// Like [`test_pki`], with a leaf for the given names.
#[allow(dead_code)]
pub fn test_pki_for(names: &[&str]) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "aep-edge test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    (ca_cert.pem(), leaf.pem(), leaf_key.serialize_pem())
}

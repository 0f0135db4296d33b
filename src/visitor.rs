//! Server-side visitors (design.md §3.8): a server calls the Edge Network for
//! many visitors, so each call carries that visitor's context headers, hint
//! and state, and each result says what to keep for the visitor next time.
//!
//! - context headers: an allowlist, refused by name otherwise;
//! - the per-call hint: `options.locationHint`, else the visitor's
//!   `kndctr_<org>_cluster` state entry;
//! - the passed state with its expiry, and the next state after a response;
//! - where a hint goes in the URL (host or path form) and the base path;
//! - the response headers reported in `client.headers`.

use crate::config::Origin;
use crate::json_fields::{type_name, Fields};
use crate::request::StateEntry;
use serde_json::{json, Map, Value};
use std::net::IpAddr;

/// The longest header value accepted (8 KiB).
pub const MAX_HEADER_VALUE_BYTES: usize = 8 * 1024;
/// More context headers than this in one object is a mistake, not a visitor.
const MAX_HEADERS: usize = 64;

/// The headers the Edge Network reads for device, geo and validation
/// (edge-api.md §1.3), lower-case. `sec-ch-ua-*` is allowed by prefix.
const ALLOWED_HEADERS: &[&str] = &[
    "user-agent",
    "accept-language",
    "referer",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
    "x-real-ip",
    "sec-ch-ua",
    "x-adobe-aep-validation-token",
    "x-sandbox-name",
];

/// Response headers copied into `client.headers`, lower-case.
pub const FACT_HEADERS: [&str; 4] = [
    "x-request-id",
    "x-rate-limit-remaining",
    "retry-after",
    "x-adobe-edge",
];

/// Context headers as given: names as the caller spelt them, unique ignoring case.
pub type Headers = Vec<(String, String)>;

fn is_allowed(lower: &str) -> bool {
    ALLOWED_HEADERS.contains(&lower)
        || lower.strip_prefix("sec-ch-ua-").is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Reads a `headers` object (`path` is `headers` or `options.headers`):
/// allowed names only, string values of printable ASCII (tab allowed) of at
/// most 8 KiB. Every refusal names the header.
pub(crate) fn parse_headers(path: &str, value: &Value) -> Result<Headers, String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "{path} must be an object of header names to strings, not {}",
            type_name(value)
        ));
    };
    if map.len() > MAX_HEADERS {
        return Err(format!(
            "{path} has {} headers; at most {MAX_HEADERS} are accepted",
            map.len()
        ));
    }
    let mut headers: Headers = Vec::with_capacity(map.len());
    for (name, v) in map {
        let lower = name.to_ascii_lowercase();
        if !is_allowed(&lower) {
            return Err(format!(
                "{path}.{name} is not a visitor context header; allowed are User-Agent, \
                 Accept-Language, Referer, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, \
                 Forwarded, X-Real-IP, Sec-CH-UA, Sec-CH-UA-*, X-Adobe-AEP-Validation-Token \
                 and x-sandbox-name"
            ));
        }
        if headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Err(format!(
                "{path}.{name} is given twice (names are case-insensitive)"
            ));
        }
        let Value::String(text) = v else {
            return Err(format!(
                "{path}.{name} must be a string, not {}",
                type_name(v)
            ));
        };
        if text.len() > MAX_HEADER_VALUE_BYTES {
            return Err(format!(
                "{path}.{name} is {} bytes; at most {MAX_HEADER_VALUE_BYTES} are accepted",
                text.len()
            ));
        }
        if text.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(format!(
                "{path}.{name} contains CR, LF or NUL, which would split the HTTP request"
            ));
        }
        if !text
            .bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
        {
            return Err(format!(
                "{path}.{name} must be printable ASCII (percent-encode URLs and other text)"
            ));
        }
        headers.push((name.clone(), text.clone()));
    }
    Ok(headers)
}

/// The config's headers with the call's on top: per-call wins, name by name.
pub fn merge_headers<'a>(config: &'a Headers, call: &'a Headers) -> Vec<(&'a str, &'a str)> {
    let mut out: Vec<(&str, &str)> = call.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    for (name, value) in config {
        if !call.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            out.push((name, value));
        }
    }
    out
}

/// One entry of `options.state` that is still alive, with its expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassedEntry {
    pub key: String,
    pub value: Option<String>,
    /// Milliseconds since the Unix epoch; `None`: no expiry was given.
    pub expires_at_ms: Option<u64>,
}

/// What a call says about its visitor: `options.headers`,
/// `options.locationHint` and `options.state`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallOptions {
    pub headers: Headers,
    pub location_hint: Option<String>,
    /// The live entries of `options.state`; `None` when it was not passed.
    pub state: Option<Vec<PassedEntry>>,
}

impl CallOptions {
    /// Takes `headers`, `locationHint` and `state` from the `options` object.
    pub(crate) fn take(f: &mut Fields<'_>, now_ms: u64) -> Result<CallOptions, String> {
        let headers = match f.take("headers") {
            None => Vec::new(),
            Some(v) => parse_headers("options.headers", v)?,
        };
        let location_hint = f.string("locationHint")?.map(str::to_string);
        if let Some(hint) = &location_hint {
            if !valid_hint(hint) {
                return Err(format!(
                    "options.locationHint must be 1 to 32 letters and digits (such as or2 or irl1), not {hint:?}"
                ));
            }
        }
        let state = match f.take("state") {
            None => None,
            Some(v) => Some(parse_state("options.state", v, now_ms)?),
        };
        Ok(CallOptions {
            headers,
            location_hint,
            state,
        })
    }

    /// The entries to send in `meta.state.entries`, when `options.state` was passed.
    pub fn entries_to_send(&self) -> Option<Vec<StateEntry>> {
        self.state.as_ref().map(|entries| {
            entries
                .iter()
                .map(|e| StateEntry {
                    key: e.key.clone(),
                    value: e.value.clone(),
                })
                .collect()
        })
    }

    /// The hint this call routes by: `options.locationHint`, else the value of
    /// the visitor's `kndctr_<org>_cluster` entry, else Target's legacy
    /// `mboxEdgeCluster` as `t<value>` (what the Web SDK reads from the same
    /// cookies, alloy `injectGetLocationHint.js`). A value that is not a hint
    /// is ignored.
    pub fn hint(&self, org_id: Option<&str>) -> Option<String> {
        if let Some(hint) = &self.location_hint {
            return Some(hint.clone());
        }
        let wanted = org_id.map(cluster_key);
        let entries = || self.state.iter().flatten();
        entries()
            .filter(|e| match &wanted {
                Some(key) => e.key == *key,
                None => e.key.starts_with("kndctr_") && e.key.ends_with("_cluster"),
            })
            .find_map(|e| e.value.as_deref().and_then(hint_of_cluster_value))
            .or_else(|| {
                entries()
                    .filter(|e| e.key == "mboxEdgeCluster")
                    .filter_map(|e| e.value.as_deref())
                    .map(|v| format!("t{}", v.trim()))
                    .find(|h| valid_hint(h))
            })
    }
}

/// `kndctr_<org with @ as _>_cluster`, the key the Edge Network stores the hint under.
fn cluster_key(org_id: &str) -> String {
    format!("kndctr_{}_cluster", org_id.replace('@', "_"))
}

/// The hint in a cluster entry's value. Adobe documents the value as the hint
/// itself (`or2`); a value carrying more after it (a `;`-, `|`- or
/// `,`-separated suffix, as `x-adobe-edge` has) gives its first part.
fn hint_of_cluster_value(value: &str) -> Option<String> {
    let first = value
        .split([';', '|', ',', ':'])
        .next()
        .unwrap_or_default()
        .trim();
    valid_hint(first).then(|| first.to_string())
}

/// A hint is a host label or path segment: letters and digits only, so it
/// cannot change the URL.
pub fn valid_hint(hint: &str) -> bool {
    !hint.is_empty() && hint.len() <= 32 && hint.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Reads `options.state`: `[{"key", "value"?, "maxAge"?, "expiresAt"?,
/// "attrs"?, "scope"?}]`. Entries already expired, or with `maxAge` ≤ 0 (a
/// deletion), are dropped: they are neither sent nor kept.
fn parse_state(path: &str, value: &Value, now_ms: u64) -> Result<Vec<PassedEntry>, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "{path} must be an array of {{\"key\", \"value\"}} objects, not {}",
            type_name(value)
        ));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let mut f = Fields::new(&at, item)?;
        let key = f.required_string("key")?.to_string();
        let value = f.string("value")?.map(str::to_string);
        let max_age = match f.take("maxAge") {
            None => None,
            Some(v) => Some(v.as_i64().ok_or_else(|| {
                format!("{at}.maxAge must be an integer number of seconds, not {v}")
            })?),
        };
        let expires_at = f.integer("expiresAt", 0, u64::MAX)?;
        f.take("attrs");
        f.take("scope");
        f.finish()?;
        let expires_at_ms = match (max_age, expires_at) {
            (Some(_), Some(_)) => {
                return Err(format!("{at} has both maxAge and expiresAt; give one"));
            }
            (Some(age), None) if age <= 0 => continue,
            (Some(age), None) => Some(now_ms.saturating_add((age as u64).saturating_mul(1000))),
            (None, Some(at_ms)) if at_ms <= now_ms => continue,
            (None, at_ms) => at_ms,
        };
        out.retain(|e: &PassedEntry| e.key != key); // a later duplicate wins
        out.push(PassedEntry {
            key,
            value,
            expires_at_ms,
        });
    }
    Ok(out)
}

/// The visitor's next state (`client.state`): `passed` updated by the
/// response's `state:store` entries (same key replaced, `maxAge` ≤ 0 removed),
/// as `[{"key", "value"?, "expiresAt"?}]`.
pub fn next_state(passed: &[PassedEntry], body: &Value, now_ms: u64) -> Value {
    let mut entries: Vec<PassedEntry> = passed.to_vec();
    for handle in body["handle"].as_array().into_iter().flatten() {
        if handle["type"] != "state:store" {
            continue;
        }
        for item in handle["payload"].as_array().into_iter().flatten() {
            let Some(key) = item["key"].as_str().filter(|k| !k.is_empty()) else {
                continue;
            };
            entries.retain(|e| e.key != key);
            let expires_at_ms = match item["maxAge"].as_i64() {
                Some(age) if age <= 0 => continue,
                Some(age) => Some(now_ms.saturating_add((age as u64).saturating_mul(1000))),
                None => None,
            };
            entries.push(PassedEntry {
                key: key.to_string(),
                value: item["value"].as_str().map(str::to_string),
                expires_at_ms,
            });
        }
    }
    Value::Array(
        entries
            .into_iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("key".into(), Value::String(e.key));
                if let Some(v) = e.value {
                    m.insert("value".into(), Value::String(v));
                }
                if let Some(at) = e.expires_at_ms {
                    m.insert("expiresAt".into(), json!(at));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

/// Sets `meta.sdkConfig.datastream.original` unless the caller set it (or
/// made a part of that path something other than an object).
pub(crate) fn add_original_datastream(body: &mut Map<String, Value>, configured: &str) {
    let mut node = body;
    for key in ["meta", "sdkConfig", "datastream"] {
        let next = node.entry(key).or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(map) = next else { return };
        node = map;
    }
    node.entry("original")
        .or_insert_with(|| Value::String(configured.to_string()));
}

/// The EdgeNetwork hint of a response's `locationHint:result`, or `None`.
pub fn edge_hint_of(body: &Value) -> Option<String> {
    body["handle"]
        .as_array()?
        .iter()
        .filter(|h| h["type"] == "locationHint:result")
        .flat_map(|h| h["payload"].as_array().into_iter().flatten())
        .find(|item| {
            item["scope"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case("EdgeNetwork"))
        })
        .and_then(|item| item["hint"].as_str())
        .map(str::to_string)
}

/// `client.headers`: the [`FACT_HEADERS`] the response carried.
pub fn headers_fact(facts: &crate::response::HeaderFacts) -> Value {
    let mut m = Map::new();
    for (name, value) in facts.iter() {
        m.insert(name.to_string(), Value::String(value.to_string()));
    }
    Value::Object(m)
}

/// Where a location hint goes in the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HintForm {
    /// `/ee/{hint}/v2/...`
    Path,
    /// `https://{hint}.{domain}/ee/v2/...`
    Host,
    /// Hints are never used.
    Off,
}

/// The authenticated host, where Adobe routes a hint as a sub-domain.
const SERVER_HOST: &str = "server.adobedc.net";

/// Resolves config `hintRouting` (`auto` by default): the host form on
/// `server.adobedc.net`, the path form on any other edge domain or a `baseUrl`.
pub(crate) fn hint_form(
    setting: Option<&str>,
    origin: &Origin,
    from_base_url: bool,
) -> Result<HintForm, String> {
    let host = origin.authority.split(':').next().unwrap_or_default();
    match setting {
        None | Some("auto") if !from_base_url && host.eq_ignore_ascii_case(SERVER_HOST) => {
            Ok(HintForm::Host)
        }
        None | Some("auto") | Some("path") => Ok(HintForm::Path),
        Some("off") => Ok(HintForm::Off),
        Some("host") => {
            let ip = origin.authority.starts_with('[') || host.parse::<IpAddr>().is_ok();
            if origin.scheme == "http" {
                // `{hint}.localhost` is not sure to stay on loopback.
                Err("hintRouting \"host\" needs https: plain http may only reach loopback".into())
            } else if ip {
                Err(format!(
                    "hintRouting \"host\" needs a host name to prefix with the hint, not the address {}",
                    origin.authority
                ))
            } else {
                Ok(HintForm::Host)
            }
        }
        Some(other) => Err(format!(
            "hintRouting must be \"auto\", \"path\", \"host\" or \"off\", not {other:?}"
        )),
    }
}

/// Config `edgeBasePath`: `ee` (production, the default) or `ee-pre-prd`.
pub(crate) fn base_path(setting: Option<&str>) -> Result<&'static str, String> {
    match setting {
        None | Some("ee") => Ok("ee"),
        Some("ee-pre-prd") => Ok("ee-pre-prd"),
        Some(other) => Err(format!(
            "edgeBasePath must be \"ee\" or \"ee-pre-prd\", not {other:?}"
        )),
    }
}

/// `scheme://[hint.]authority/base[/hint]/path`, without the query.
pub fn edge_url(
    origin: &Origin,
    base_path: &str,
    form: HintForm,
    hint: Option<&str>,
    path: &str,
) -> String {
    // Pushed piece by piece (this runs on every attempt; `format!` cost more).
    let mut url = String::with_capacity(128);
    url.push_str(&origin.scheme);
    url.push_str("://");
    if let (HintForm::Host, Some(h)) = (form, hint) {
        url.push_str(h);
        url.push('.');
    }
    url.push_str(&origin.authority);
    url.push('/');
    url.push_str(base_path);
    url.push('/');
    if let (HintForm::Path, Some(h)) = (form, hint) {
        url.push_str(h);
        url.push('/');
    }
    url.push_str(path);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(authority: &str) -> Origin {
        Origin {
            scheme: "https".into(),
            authority: authority.into(),
        }
    }

    #[test]
    fn only_allowlisted_headers_pass_and_refusals_name_them() {
        let ok = json!({"user-agent": "UA", "Sec-CH-UA-Platform": "\"Linux\"", "X-Forwarded-For": "203.0.113.7"});
        assert_eq!(parse_headers("options.headers", &ok).unwrap().len(), 3);
        for (bad, needle) in [
            (
                json!({"Authorization": "x"}),
                "options.headers.Authorization is not",
            ),
            (json!({"Host": "x"}), "options.headers.Host is not"),
            (
                json!({"Sec-CH-UA-": "x"}),
                "options.headers.Sec-CH-UA- is not",
            ),
            (
                json!({"Referer": "a\r\nX: y"}),
                "options.headers.Referer contains CR",
            ),
            (
                json!({"Referer": "a\u{0}"}),
                "options.headers.Referer contains CR",
            ),
            (
                json!({"Referer": "é"}),
                "options.headers.Referer must be printable",
            ),
            (
                json!({"Referer": 1}),
                "options.headers.Referer must be a string",
            ),
            (
                json!({"Referer": "x".repeat(8193)}),
                "options.headers.Referer is 8193 bytes",
            ),
            (json!({"referer": "a", "Referer": "b"}), "given twice"),
            (json!([]), "must be an object"),
        ] {
            let e = parse_headers("options.headers", &bad).unwrap_err();
            assert!(e.contains(needle), "{e} lacks {needle}");
        }
        assert!(parse_headers("h", &json!({"Referer": "x".repeat(8192)})).is_ok());
    }

    #[test]
    fn per_call_headers_win_ignoring_case() {
        let config: Headers = vec![
            ("User-Agent".into(), "config".into()),
            ("Accept-Language".into(), "fr".into()),
        ];
        let call: Headers = vec![("user-agent".into(), "call".into())];
        assert_eq!(
            merge_headers(&config, &call),
            [("user-agent", "call"), ("Accept-Language", "fr")]
        );
    }

    #[test]
    fn expired_and_deleted_entries_are_dropped() {
        let v = json!([
            {"key": "a", "value": "1", "expiresAt": 5_000},
            {"key": "b", "value": "2", "expiresAt": 500},
            {"key": "c", "value": "3", "maxAge": 0},
            {"key": "d", "value": "4", "maxAge": -1},
            {"key": "e", "value": "5", "maxAge": 10, "attrs": {"SameSite": "None"}},
            {"key": "f"}
        ]);
        let got = parse_state("options.state", &v, 1_000).unwrap();
        let keys: Vec<&str> = got.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["a", "e", "f"]);
        assert_eq!(got[1].expires_at_ms, Some(11_000));
        let both = json!([{"key": "a", "maxAge": 1, "expiresAt": 9}]);
        assert!(parse_state("options.state", &both, 0)
            .unwrap_err()
            .contains("options.state[0] has both"));
        let neg = json!([{"key": "a", "expiresAt": -1}]);
        assert!(parse_state("options.state", &neg, 0)
            .unwrap_err()
            .contains("options.state[0].expiresAt"));
    }

    #[test]
    fn next_state_replaces_by_key_and_removes_deletions() {
        let passed = vec![
            PassedEntry {
                key: "kndctr_O_AdobeOrg_identity".into(),
                value: Some("id".into()),
                expires_at_ms: Some(9_000_000),
            },
            PassedEntry {
                key: "kndctr_O_AdobeOrg_cluster".into(),
                value: Some("or2".into()),
                expires_at_ms: Some(2_000),
            },
            PassedEntry {
                key: "gone".into(),
                value: Some("x".into()),
                expires_at_ms: None,
            },
        ];
        let body = json!({"handle": [{"type": "state:store", "payload": [
            {"key": "kndctr_O_AdobeOrg_cluster", "value": "irl1", "maxAge": 1800},
            {"key": "gone", "maxAge": 0},
            {"key": "session", "value": "s"}
        ]}]});
        assert_eq!(
            next_state(&passed, &body, 1_000),
            json!([
                {"key": "kndctr_O_AdobeOrg_identity", "value": "id", "expiresAt": 9_000_000},
                {"key": "kndctr_O_AdobeOrg_cluster", "value": "irl1", "expiresAt": 1_801_000},
                {"key": "session", "value": "s"}
            ])
        );
    }

    #[test]
    fn the_hint_comes_from_the_option_or_the_cluster_entry() {
        let entry = |key: &str, value: &str| PassedEntry {
            key: key.into(),
            value: Some(value.into()),
            expires_at_ms: None,
        };
        let mut o = CallOptions {
            state: Some(vec![
                entry("kndctr_OTHER_AdobeOrg_cluster", "va6"),
                entry("kndctr_ORG_AdobeOrg_cluster", "irl1"),
            ]),
            ..CallOptions::default()
        };
        assert_eq!(o.hint(Some("ORG@AdobeOrg")).as_deref(), Some("irl1"));
        assert_eq!(o.hint(None).as_deref(), Some("va6"));
        o.state = Some(vec![entry("kndctr_ORG_AdobeOrg_cluster", "or2;35")]);
        assert_eq!(o.hint(Some("ORG@AdobeOrg")).as_deref(), Some("or2"));
        o.state = Some(vec![entry("kndctr_ORG_AdobeOrg_cluster", "../x")]);
        assert_eq!(o.hint(Some("ORG@AdobeOrg")), None);
        o.state = Some(vec![entry("mboxEdgeCluster", "35")]);
        assert_eq!(o.hint(Some("ORG@AdobeOrg")).as_deref(), Some("t35"));
        o.state = Some(vec![
            entry("mboxEdgeCluster", "35"),
            entry("kndctr_ORG_AdobeOrg_cluster", "va6"),
        ]);
        assert_eq!(o.hint(Some("ORG@AdobeOrg")).as_deref(), Some("va6"));
        o.location_hint = Some("jpn3".into());
        assert_eq!(o.hint(Some("ORG@AdobeOrg")).as_deref(), Some("jpn3"));
    }

    #[test]
    fn routing_forms_and_urls() {
        let server = origin("server.adobedc.net");
        let edge = origin("edge.adobedc.net");
        assert_eq!(hint_form(None, &server, false), Ok(HintForm::Host));
        assert_eq!(hint_form(Some("auto"), &server, true), Ok(HintForm::Path));
        assert_eq!(hint_form(None, &edge, false), Ok(HintForm::Path));
        assert_eq!(hint_form(Some("host"), &edge, false), Ok(HintForm::Host));
        assert_eq!(hint_form(Some("off"), &server, false), Ok(HintForm::Off));
        assert!(hint_form(Some("host"), &origin("127.0.0.1:8080"), true)
            .unwrap_err()
            .contains("host name"));
        let local = Origin {
            scheme: "http".into(),
            authority: "localhost:8080".into(),
        };
        assert!(hint_form(Some("host"), &local, true)
            .unwrap_err()
            .contains("https"));
        assert!(hint_form(Some("sideways"), &edge, false)
            .unwrap_err()
            .contains("hintRouting"));
        assert_eq!(
            edge_url(&server, "ee", HintForm::Host, Some("irl1"), "v2/interact"),
            "https://irl1.server.adobedc.net/ee/v2/interact"
        );
        assert_eq!(
            edge_url(
                &edge,
                "ee-pre-prd",
                HintForm::Path,
                Some("or2"),
                "v2/collect"
            ),
            "https://edge.adobedc.net/ee-pre-prd/or2/v2/collect"
        );
        assert_eq!(
            edge_url(&edge, "ee", HintForm::Off, Some("or2"), "v2/collect"),
            "https://edge.adobedc.net/ee/v2/collect"
        );
        assert!(base_path(Some("ee-prod"))
            .unwrap_err()
            .contains("edgeBasePath"));
    }
}

//! Reading an Edge Network response (design.md §3.3): a success envelope with
//! `handle`, `errors` and `warnings` always present, or an [`Error`] carrying the
//! HTTP status, the EXEG code and the RFC 7807 problem.

use crate::error::{Error, ErrorKind, Result};
use crate::json_fields::type_name;
use crate::request::Endpoint;
use crate::visitor::FACT_HEADERS;
use serde_json::{Map, Value};
use smallvec::SmallVec;

/// One HTTP response as the transport read it.
#[derive(Clone, Debug, Default)]
pub struct RawResponse {
    pub status: u16,
    pub body: Vec<u8>,
    /// The `Retry-After` header, verbatim.
    pub retry_after: Option<String>,
    /// The `x-adobe-edge` header (`cluster;region`).
    pub region: Option<String>,
    /// The response headers of `client.headers` that were present.
    pub facts: HeaderFacts,
}

/// The [`FACT_HEADERS`] a response carried (the first of repeated ones), in
/// that order. Their values sit one after another in one buffer, inline when
/// short (the usual few dozen bytes): no allocation per response.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HeaderFacts {
    /// The values, as text. 96 bytes hold an Edge response's usual three
    /// (a request id of 36 to 53 bytes, the rate limit, the region); a
    /// larger buffer costs its copying each time the response is moved.
    text: SmallVec<[u8; 96]>,
    /// Where each header's value is in `text`, by its place in FACT_HEADERS.
    spans: [Option<(u32, u32)>; FACT_HEADERS.len()],
}

impl HeaderFacts {
    /// Keeps `value` for the header at `index` in [`FACT_HEADERS`], unless
    /// one came first.
    pub fn keep_first(&mut self, index: usize, value: &str) {
        let Some(slot @ None) = self.spans.get_mut(index) else {
            return;
        };
        let start = self.text.len();
        self.text.extend_from_slice(value.as_bytes());
        *slot = Some((start as u32, self.text.len() as u32));
    }

    /// The headers present, in FACT_HEADERS order, with their values.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        FACT_HEADERS
            .iter()
            .zip(&self.spans)
            .filter_map(|(name, span)| {
                let (start, end) = (*span)?;
                let bytes = &self.text[start as usize..end as usize];
                // SAFETY: every span covers exactly one `&str` pushed whole
                // by `keep_first`, so it is valid UTF-8.
                Some((*name, unsafe { std::str::from_utf8_unchecked(bytes) }))
            })
    }

    /// The total length of the names and values present.
    pub fn text_len(&self) -> usize {
        self.iter().map(|(n, v)| n.len() + v.len()).sum()
    }
}

impl std::fmt::Debug for HeaderFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl RawResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The success envelope of a 2xx response, or the error a non-2xx one means.
///
/// The error's `attempts`, `request_id` and `retryable` are left for the caller,
/// which knows the call's history.
pub fn interpret(endpoint: Endpoint, raw: &RawResponse) -> Result<Map<String, Value>> {
    if raw.is_success() {
        success_envelope(endpoint, raw)
    } else {
        Err(http_error(raw))
    }
}

fn success_envelope(endpoint: Endpoint, raw: &RawResponse) -> Result<Map<String, Value>> {
    let empty = raw.body.iter().all(u8::is_ascii_whitespace);
    let mut body = if empty && endpoint == Endpoint::Collect {
        // 202 may be empty in practice and 204 always is.
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(&raw.body) {
            Ok(Value::Object(map)) => map,
            Ok(other) => {
                return Err(invalid_response(
                    raw,
                    format!("the body is {}, not a JSON object", type_name(&other)),
                ))
            }
            Err(_) if empty => return Err(invalid_response(raw, "the body is empty".into())),
            Err(e) => {
                return Err(invalid_response(
                    raw,
                    format!("the body is not JSON ({e}): {}", excerpt(&raw.body)),
                ))
            }
        }
    };
    for key in ["handle", "errors", "warnings"] {
        match body.get(key) {
            None | Some(Value::Null) => {
                body.insert(key.into(), Value::Array(Vec::new()));
            }
            Some(Value::Array(_)) => {}
            Some(other) => {
                return Err(invalid_response(
                    raw,
                    format!("{key} is {}, not an array", type_name(other)),
                ))
            }
        }
    }
    Ok(body)
}

fn invalid_response(raw: &RawResponse, what: String) -> Error {
    let mut e = Error::new(
        ErrorKind::InvalidResponse,
        format!(
            "the Edge Network answered {} but the response is unusable: {what}",
            raw.status
        ),
    );
    e.http_status = Some(raw.status);
    e
}

/// The error for a non-2xx response: `AUTH_ERROR` for 401/403 with an
/// EXEG-05xx code, `HTTP_ERROR` otherwise.
fn http_error(raw: &RawResponse) -> Error {
    let problem = match serde_json::from_slice::<Value>(&raw.body) {
        Ok(v @ Value::Object(_)) => Some(v),
        _ => None,
    };
    let code = problem
        .as_ref()
        .and_then(|p| p.get("type"))
        .and_then(Value::as_str)
        .and_then(code_from_type);
    let is_auth = matches!(raw.status, 401 | 403)
        && code.as_deref().is_some_and(|c| c.starts_with("EXEG-05"));
    let kind = if is_auth {
        ErrorKind::Auth
    } else {
        ErrorKind::Http
    };

    let mut message = format!("the Edge Network answered HTTP {}", raw.status);
    if let Some(code) = &code {
        message.push_str(&format!(" {code}"));
    }
    match &problem {
        Some(p) => {
            let text = |k: &str| p.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
            if let Some(title) = text("title") {
                message.push_str(&format!(": {title}"));
            }
            if let Some(detail) = text("detail") {
                message.push_str(&format!(" ({detail})"));
            }
        }
        None if raw.body.is_empty() => message.push_str(" with an empty body"),
        None => message.push_str(&format!(" with a non-JSON body: {}", excerpt(&raw.body))),
    }

    let mut e = Error::new(kind, message);
    e.http_status = Some(raw.status);
    e.code = code;
    e.problem = problem;
    e
}

/// `https://ns.adobe.com/aep/errors/EXEG-0003-400` → `EXEG-0003-400`; also
/// media codes such as `va-edge-0400-400`.
pub fn code_from_type(problem_type: &str) -> Option<String> {
    let last = problem_type.rsplit('/').next()?;
    let mut parts = last.rsplitn(3, '-');
    let status = parts.next()?;
    let number = parts.next()?;
    let prefix = parts.next()?;
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    (digits(status, 3) && digits(number, 4) && !prefix.is_empty()).then(|| last.to_string())
}

/// The start of a body, for an error message: printable, at most 200 characters.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn raw(status: u16, body: &[u8]) -> RawResponse {
        RawResponse {
            status,
            body: body.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn success_keeps_unknown_keys_and_adds_empty_lists() {
        let body = fixture("response-interact-200-target-json-offer.json");
        let env = interpret(Endpoint::Interact, &raw(200, &body)).unwrap();
        assert_eq!(env["handle"].as_array().unwrap().len(), 2);
        assert_eq!(env["errors"], Value::Array(vec![]));
        assert_eq!(env["warnings"], Value::Array(vec![]));

        let env = interpret(
            Endpoint::Interact,
            &raw(200, br#"{"handle":[],"newKey":{"a":1}}"#),
        )
        .unwrap();
        assert_eq!(env["newKey"]["a"], 1);
    }

    #[test]
    fn multi_status_is_a_success_with_errors() {
        let body = fixture("response-interact-207-errors-warnings-docs.json");
        let env = interpret(Endpoint::Interact, &raw(207, &body)).unwrap();
        assert_eq!(env["errors"].as_array().unwrap().len(), 1);
        assert_eq!(env["warnings"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn collect_accepts_empty_bodies_but_interact_does_not() {
        assert!(interpret(Endpoint::Collect, &raw(204, b"")).unwrap()["handle"].is_array());
        let e = interpret(Endpoint::Interact, &raw(200, b"")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidResponse);
        let e = interpret(Endpoint::Interact, &raw(200, b"<html>")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidResponse);
        assert!(e.message.contains("<html>"));
        let e = interpret(Endpoint::Interact, &raw(200, b"[1]")).unwrap_err();
        assert!(e.message.contains("not a JSON object"));
        let e = interpret(Endpoint::Interact, &raw(200, br#"{"handle": 3}"#)).unwrap_err();
        assert!(e.message.contains("handle is a number"));
    }

    #[test]
    fn problem_bodies_give_code_and_problem() {
        let body = fixture("error-400-EXEG-0003-invalid-datastream.json");
        let e = interpret(Endpoint::Interact, &raw(400, &body)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Http);
        assert_eq!(e.http_status, Some(400));
        assert_eq!(e.code.as_deref(), Some("EXEG-0003-400"));
        assert_eq!(
            e.problem.as_ref().unwrap()["title"],
            "Invalid datastream ID"
        );
        assert!(
            e.message.contains("EXEG-0003-400: Invalid datastream ID"),
            "{}",
            e.message
        );
    }

    #[test]
    fn auth_codes_are_auth_errors() {
        let body = br#"{"type":"https://ns.adobe.com/aep/errors/EXEG-0503-401","status":401,"title":"Token expired"}"#;
        assert_eq!(
            interpret(Endpoint::Interact, &raw(401, body))
                .unwrap_err()
                .kind,
            ErrorKind::Auth
        );
        // A 401 without an EXEG-05xx code is an HTTP error.
        assert_eq!(
            interpret(Endpoint::Interact, &raw(401, b""))
                .unwrap_err()
                .kind,
            ErrorKind::Http
        );
    }

    #[test]
    fn non_json_error_bodies_are_quoted() {
        let e = interpret(Endpoint::Interact, &raw(502, b"Bad Gateway\n")).unwrap_err();
        assert!(e.problem.is_none() && e.code.is_none());
        assert!(
            e.message.contains("non-JSON body: Bad Gateway"),
            "{}",
            e.message
        );
    }

    #[test]
    fn codes_are_parsed_from_types() {
        assert_eq!(
            code_from_type("https://ns.adobe.com/aep/errors/va-edge-0400-400").as_deref(),
            Some("va-edge-0400-400")
        );
        assert_eq!(
            code_from_type("https://ns.adobe.com/aep/errors/EXEG-0113-400").as_deref(),
            Some("EXEG-0113-400")
        );
        assert_eq!(code_from_type("about:blank"), None);
        assert_eq!(code_from_type("global"), None);
    }
}

//! A stand-in for Adobe IMS `POST /ims/token/v3` (OAuth Server-to-Server,
//! client_credentials; edge-api.md §1.4), and the memory of the tokens it issued.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::http::{parse_form, Request, Response};
use crate::ids;
use crate::Options;

/// What a bearer token is worth to the Edge endpoints.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenStatus {
    Valid,
    Unknown,
    Expired,
}

#[derive(Default)]
pub(crate) struct TokenStore {
    issued: Mutex<HashMap<String, Instant>>,
}

impl TokenStore {
    pub fn issue(&self, ttl: Duration) -> String {
        let token = ids::access_token();
        let expiry = Instant::now() + ttl;
        self.lock().insert(token.clone(), expiry);
        token
    }

    pub fn check(&self, token: &str, static_tokens: &[String]) -> TokenStatus {
        if static_tokens.iter().any(|t| t == token) {
            return TokenStatus::Valid;
        }
        match self.lock().get(token) {
            None => TokenStatus::Unknown,
            // A token with ttl 0 is expired at once, which tests use.
            Some(&expiry) if Instant::now() >= expiry => TokenStatus::Expired,
            Some(_) => TokenStatus::Valid,
        }
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.issued.lock().unwrap_or_else(|e| e.into_inner())
    }
}

const FIELDS: [&str; 4] = ["grant_type", "client_id", "client_secret", "scope"];

/// Answers a token request. The four fields may come in the body, as
/// `application/x-www-form-urlencoded` or `multipart/form-data`, or in the query (IMS
/// accepts all three); the body wins.
pub(crate) fn token(options: &Options, tokens: &TokenStore, req: &Request) -> Response {
    if req.method != "POST" {
        return oauth_error(405, "invalid_request", Some("use POST")).with_header("allow", "POST");
    }
    let form = match multipart_boundary(req.header("content-type")) {
        Some(boundary) => parse_multipart(&req.body, &boundary),
        None => parse_form(&String::from_utf8_lossy(&req.body)),
    };
    let field = |name: &str| {
        form.iter()
            .chain(req.query.iter())
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    for name in FIELDS {
        if field(name).is_none() {
            return oauth_error(400, "invalid_request", Some(&format!("missing {name}")));
        }
    }
    let grant = field("grant_type").unwrap_or_default();
    if grant != "client_credentials" {
        return oauth_error(
            400,
            "unsupported_grant_type",
            Some(&format!("grant_type {grant} is not supported")),
        );
    }
    let id = field("client_id").unwrap_or_default();
    let secret = field("client_secret").unwrap_or_default();
    let known = options.ims_clients.is_empty()
        || options
            .ims_clients
            .iter()
            .any(|(i, s)| i == id && s == secret);
    if !known {
        return oauth_error(401, "invalid_client", None);
    }
    let access_token = tokens.issue(Duration::from_secs(options.token_ttl_secs));
    Response::json(
        200,
        &json!({
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": options.token_ttl_secs,
        }),
    )
}

/// The boundary of a `multipart/form-data` Content-Type (RFC 7578), quoted or not.
fn multipart_boundary(content_type: Option<&str>) -> Option<String> {
    let mut parts = content_type?.split(';');
    if !parts
        .next()?
        .trim()
        .eq_ignore_ascii_case("multipart/form-data")
    {
        return None;
    }
    parts.find_map(|p| {
        let (name, value) = p.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty())
    })
}

/// The text fields of a `multipart/form-data` body: each part's
/// `Content-Disposition: form-data; name="..."` and its content. Malformed parts are skipped.
fn parse_multipart(body: &[u8], boundary: &str) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    text.split(delimiter.as_str())
        .skip(1)
        .take_while(|part| !part.starts_with("--"))
        .filter_map(|part| {
            let part = part.strip_prefix("\r\n").unwrap_or(part);
            let (head, content) = part
                .split_once("\r\n\r\n")
                .or_else(|| part.split_once("\n\n"))?;
            let name = head.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                if !key.trim().eq_ignore_ascii_case("content-disposition") {
                    return None;
                }
                value.split(';').find_map(|p| {
                    let (k, v) = p.trim().split_once('=')?;
                    (k == "name").then(|| v.trim_matches('"').to_string())
                })
            })?;
            let content = content
                .strip_suffix("\r\n")
                .or_else(|| content.strip_suffix('\n'))
                .unwrap_or(content);
            Some((name, content.to_string()))
        })
        .collect()
}

fn oauth_error(status: u16, error: &str, description: Option<&str>) -> Response {
    let mut body = json!({ "error": error });
    if let Some(d) = description {
        body["error_description"] = json!(d);
    }
    Response::json(status, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_fields() {
        let ct = Some("multipart/form-data; boundary=\"XyZ\"");
        let boundary = multipart_boundary(ct).unwrap();
        assert_eq!(boundary, "XyZ");
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\nabc\r\n--XyZ\r\ncontent-disposition: form-data; name=scope\r\nContent-Type: text/plain\r\n\r\na,b\r\n--XyZ--\r\n";
        assert_eq!(
            parse_multipart(body.as_bytes(), &boundary),
            [
                ("client_id".into(), "abc".into()),
                ("scope".into(), "a,b".into())
            ]
        );
        assert_eq!(
            multipart_boundary(Some("application/x-www-form-urlencoded")),
            None
        );
        assert_eq!(multipart_boundary(Some("multipart/form-data")), None);
    }

    #[test]
    fn token_lifecycle() {
        let store = TokenStore::default();
        let live = store.issue(Duration::from_secs(60));
        let dead = store.issue(Duration::ZERO);
        let statics = vec!["static".to_string()];
        assert_eq!(store.check(&live, &statics), TokenStatus::Valid);
        assert_eq!(store.check(&dead, &statics), TokenStatus::Expired);
        assert_eq!(store.check("static", &statics), TokenStatus::Valid);
        assert_eq!(store.check("other", &statics), TokenStatus::Unknown);
        store.clear();
        assert_eq!(store.check(&live, &statics), TokenStatus::Unknown);
    }
}

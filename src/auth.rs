//! Request authentication (edge-api.md §1.3, §1.4): none, a static IMS access
//! token (replaceable while the client runs), or OAuth server-to-server, where
//! tokens are fetched from IMS at the first call that needs one, cached,
//! refreshed ahead of expiry by one thread at a time, and refreshed at once
//! when the Edge Network says a token expired. Tokens are never logged.

use crate::config::AuthConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::secret::Secret;
use crate::transport::{percent_encode, Transport};
use serde_json::Value;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// The headers of one request and the token they carry (to name it when the
/// Edge Network answers that it expired).
pub type AuthHeaders = (Vec<(&'static str, String)>, Option<Secret>);

pub struct Auth {
    kind: Kind,
    org_id: String,
}

enum Kind {
    None,
    Token {
        access_token: RwLock<Secret>,
        api_key: String,
    },
    OAuth(OAuth),
}

struct OAuth {
    client_id: String,
    client_secret: Secret,
    scopes: String,
    token_url: String,
    cached: RwLock<Option<Cached>>,
    /// Held by the one thread fetching a token.
    refreshing: Mutex<()>,
}

#[derive(Clone)]
struct Cached {
    token: Secret,
    expires_at: Instant,
    /// When to fetch a new one: a tenth of its life (at most 5 minutes) early.
    refresh_at: Instant,
}

impl Auth {
    pub fn new(config: &AuthConfig, org_id: Option<&str>) -> Auth {
        let kind = match config {
            AuthConfig::None => Kind::None,
            AuthConfig::Token {
                access_token,
                api_key,
            } => Kind::Token {
                access_token: RwLock::new(access_token.clone()),
                api_key: api_key.clone(),
            },
            AuthConfig::OAuth {
                client_id,
                client_secret,
                scopes,
                token_url,
            } => Kind::OAuth(OAuth {
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                scopes: scopes.clone(),
                token_url: token_url.clone(),
                cached: RwLock::new(None),
                refreshing: Mutex::new(()),
            }),
        };
        Auth {
            kind,
            // Config validation requires an org id whenever auth is set.
            org_id: org_id.unwrap_or_default().to_string(),
        }
    }

    pub fn is_oauth(&self) -> bool {
        matches!(self.kind, Kind::OAuth(_))
    }

    /// The headers that authenticate a request (empty without auth). With
    /// OAuth this may fetch a token; `expired` is a token the Edge Network
    /// just refused as expired, which forces a new one.
    pub fn headers(
        &self,
        transport: &Transport,
        deadline: Instant,
        expired: Option<&Secret>,
    ) -> Result<AuthHeaders> {
        let (token, api_key) = match &self.kind {
            Kind::None => return Ok((Vec::new(), None)),
            Kind::Token {
                access_token,
                api_key,
            } => (
                access_token
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
                api_key.as_str(),
            ),
            Kind::OAuth(oauth) => (
                oauth.token(transport, deadline, expired)?,
                oauth.client_id.as_str(),
            ),
        };
        let headers = vec![
            ("authorization", format!("Bearer {}", token.expose())),
            ("x-api-key", api_key.to_string()),
            ("x-gw-ims-org-id", self.org_id.clone()),
        ];
        Ok((headers, Some(token)))
    }

    /// Replaces the static token of `token` auth.
    pub fn set_access_token(&self, token: &str) -> Result<()> {
        let Kind::Token { access_token, .. } = &self.kind else {
            return Err(Error::invalid_request(
                "the access token can only be replaced when auth.type is \"token\"",
            ));
        };
        if token.is_empty() || token.len() > 4096 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::invalid_request(
                "the access token must be 1 to 4096 printable ASCII characters without spaces",
            ));
        }
        *access_token.write().unwrap_or_else(|p| p.into_inner()) = Secret::new(token);
        Ok(())
    }
}

impl OAuth {
    fn cached(&self) -> Option<Cached> {
        self.cached
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn token(
        &self,
        transport: &Transport,
        deadline: Instant,
        expired: Option<&Secret>,
    ) -> Result<Secret> {
        let now = Instant::now();
        let usable = |c: &Cached| Some(&c.token) != expired && c.expires_at > now;
        if let Some(c) = self.cached().filter(usable) {
            if now < c.refresh_at {
                return Ok(c.token);
            }
            // Due for refresh but still valid: one thread refreshes, the
            // others keep using the current token meanwhile.
            let Ok(_refreshing) = self.refreshing.try_lock() else {
                return Ok(c.token);
            };
            return self.fetch(transport, deadline).or(Ok(c.token));
        }
        let _refreshing = self.refreshing.lock().unwrap_or_else(|p| p.into_inner());
        // Another thread may have fetched one while this one waited.
        if let Some(c) = self.cached().filter(usable) {
            return Ok(c.token);
        }
        self.fetch(transport, deadline)
    }

    /// Asks IMS for a token with the client credentials (form body, as IMS
    /// recommends) and caches it.
    fn fetch(&self, transport: &Transport, deadline: Instant) -> Result<Secret> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Error::new(
                ErrorKind::Timeout,
                "the call ran past timeouts.totalMs before a token could be fetched",
            ));
        }
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
            percent_encode(&self.client_id),
            percent_encode(self.client_secret.expose()),
            percent_encode(&self.scopes)
        );
        let raw = transport
            .post(
                &self.token_url,
                "application/x-www-form-urlencoded",
                &[],
                form.as_bytes(),
                remaining,
            )
            .map_err(|failure| {
                let mut e = auth_error(format!(
                    "no token could be obtained from IMS: {}",
                    failure.describe()
                ));
                e.retryable = true;
                e
            })?;
        let body: Option<Value> = serde_json::from_slice(&raw.body).ok();
        if !raw.is_success() {
            let code = body
                .as_ref()
                .and_then(|b| b["error"].as_str())
                .map(str::to_string);
            let mut e = auth_error(format!(
                "IMS refused the token request with HTTP {}{}",
                raw.status,
                code.as_deref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ));
            e.http_status = Some(raw.status);
            e.code = code;
            e.problem = body;
            e.retryable = crate::retry::is_retryable_status(raw.status) || raw.status >= 500;
            return Err(e);
        }
        let token = body.as_ref().and_then(|b| b["access_token"].as_str());
        let expires_in = body.as_ref().and_then(|b| b["expires_in"].as_u64());
        let (Some(token), Some(expires_in)) = (token, expires_in) else {
            return Err(auth_error(
                "IMS answered without access_token and expires_in".to_string(),
            ));
        };
        let lifetime = Duration::from_secs(expires_in);
        let now = Instant::now();
        let cached = Cached {
            token: Secret::new(token),
            expires_at: now + lifetime,
            refresh_at: now + lifetime - (lifetime / 10).min(Duration::from_secs(300)),
        };
        *self.cached.write().unwrap_or_else(|p| p.into_inner()) = Some(cached.clone());
        Ok(cached.token)
    }
}

fn auth_error(message: String) -> Error {
    Error::new(ErrorKind::Auth, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_static_token_can_be_replaced_and_only_then() {
        let auth = Auth::new(
            &AuthConfig::Token {
                access_token: Secret::new("tok"),
                api_key: "key".into(),
            },
            Some("ORG@AdobeOrg"),
        );
        auth.set_access_token("new-token").unwrap();
        assert!(auth.set_access_token("has space").is_err());
        let none = Auth::new(&AuthConfig::None, None);
        assert_eq!(
            none.set_access_token("x").unwrap_err().kind,
            ErrorKind::InvalidRequest
        );
    }
}

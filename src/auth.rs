//! Request authentication (edge-api.md §1.3, §1.4): none, a static IMS access
//! token (replaceable while the client runs), or OAuth server-to-server, where
//! tokens are fetched from IMS at the first call that needs one, cached,
//! refreshed ahead of expiry by one thread at a time, and refreshed at once
//! when the Edge Network says a token expired. Tokens are never logged.

use crate::config::{AuthConfig, Config, RetryPolicy};
use crate::error::{Error, ErrorKind, Result};
use crate::lifecycle::{later, Deadline, Lifecycle, Stop};
use crate::response::RawResponse;
use crate::retry;
use crate::secret::Secret;
use crate::transport::{percent_encode, Transport};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

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
    OAuth(Box<OAuth>),
}

struct OAuth {
    client_id: String,
    client_secret: Secret,
    scopes: String,
    token_url: String,
    retry: RetryPolicy,
    attempt_timeout: Duration,
    cached: RwLock<Option<Cached>>,
    /// Set while one thread fetches a token; the others wait for it (bounded
    /// by their deadline and `close`) instead of blocking on a lock.
    fetching: AtomicBool,
    /// How many fetches have ended, and how the last one failed: a thread
    /// that waited for a failed fetch gets its error rather than trying again
    /// in turn (an IMS outage must not serialise every call).
    fetches: Mutex<(u64, Option<Error>)>,
}

#[derive(Clone)]
struct Cached {
    token: Secret,
    expires_at: Instant,
    /// When to fetch a new one: a tenth of its life (at most 5 minutes) early.
    refresh_at: Instant,
}

/// The longest token life believed: an `expires_in` beyond it is clamped, so
/// that a token claiming to live for ever is still refreshed now and then.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

impl Auth {
    pub fn new(config: &Config) -> Auth {
        let kind = match &config.auth {
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
            } => Kind::OAuth(Box::new(OAuth {
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                scopes: scopes.clone(),
                token_url: token_url.clone(),
                retry: config.retry,
                attempt_timeout: config.timeouts.request,
                cached: RwLock::new(None),
                fetching: AtomicBool::new(false),
                fetches: Mutex::new((0, None)),
            })),
        };
        Auth {
            kind,
            // Config validation requires an org id whenever auth is set.
            org_id: config.org_id.clone().unwrap_or_default(),
        }
    }

    pub fn is_oauth(&self) -> bool {
        matches!(self.kind, Kind::OAuth(_))
    }

    /// The headers that authenticate a request (empty without auth). With
    /// OAuth this may fetch a token, or wait for another thread's fetch, until
    /// the call's deadline or `close`; `expired` is a token the Edge Network
    /// just refused as expired, which forces a new one.
    pub fn headers(
        &self,
        transport: &Transport,
        deadline: &Deadline<'_>,
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

/// Held by the one thread fetching a token; dropping it wakes the waiters.
struct Fetching<'a> {
    oauth: &'a OAuth,
    lifecycle: &'a Lifecycle,
    failure: Option<Error>,
}

impl Drop for Fetching<'_> {
    fn drop(&mut self) {
        {
            let mut fetches = self.oauth.fetches.lock().unwrap_or_else(|p| p.into_inner());
            fetches.0 = fetches.0.wrapping_add(1);
            fetches.1 = self.failure.take();
        }
        self.oauth.fetching.store(false, SeqCst);
        self.lifecycle.notify();
    }
}

impl OAuth {
    fn cached(&self) -> Option<Cached> {
        self.cached
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn begin_fetch<'a>(&'a self, lifecycle: &'a Lifecycle) -> Option<Fetching<'a>> {
        self.fetching
            .compare_exchange(false, true, SeqCst, SeqCst)
            .ok()
            .map(|_| Fetching {
                oauth: self,
                lifecycle,
                failure: None,
            })
    }

    fn fetch_count(&self) -> u64 {
        self.fetches.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    /// Fetches as the one fetching thread, recording a failure for the waiters.
    fn fetch_as(
        &self,
        mut fetching: Fetching<'_>,
        transport: &Transport,
        deadline: &Deadline<'_>,
    ) -> Result<Secret> {
        let result = self.fetch(transport, deadline);
        if let Err(e) = &result {
            fetching.failure = Some(e.clone());
        }
        result
    }

    fn token(
        &self,
        transport: &Transport,
        deadline: &Deadline<'_>,
        expired: Option<&Secret>,
    ) -> Result<Secret> {
        let lifecycle = deadline.lifecycle();
        let mut waited_for: Option<u64> = None;
        loop {
            let now = Instant::now();
            let usable = |c: &Cached| Some(&c.token) != expired && c.expires_at > now;
            if let Some(c) = self.cached().filter(usable) {
                if now < c.refresh_at {
                    return Ok(c.token);
                }
                // Due for refresh but still valid: one thread refreshes, the
                // others keep using the current token meanwhile.
                return match self.begin_fetch(lifecycle) {
                    Some(fetching) => self.fetch_as(fetching, transport, deadline).or(Ok(c.token)),
                    None => Ok(c.token),
                };
            }
            if let Some(round) = waited_for {
                let fetches = self.fetches.lock().unwrap_or_else(|p| p.into_inner());
                if fetches.0 != round {
                    if let Some(failure) = &fetches.1 {
                        return Err(failure.clone());
                    }
                }
            }
            if let Some(fetching) = self.begin_fetch(lifecycle) {
                return self.fetch_as(fetching, transport, deadline);
            }
            // Another thread is fetching: wait for it to end.
            let round = self.fetch_count();
            waited_for = Some(round);
            let waited = deadline.wait_until(
                || !self.fetching.load(SeqCst) || self.fetch_count() != round,
                None,
            );
            match waited {
                Ok(()) => {}
                Err(Stop::Closed) => {
                    return Err(Error::new(
                        ErrorKind::Closed,
                        "the client was closed while waiting for an access token",
                    ))
                }
                Err(Stop::Deadline) => {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        "the call ran past timeouts.totalMs waiting for an access token",
                    ))
                }
            }
        }
    }

    /// Asks IMS for a token with the client credentials (form body, as IMS
    /// recommends) and caches it. Retried as the retry table says (429, 5xx
    /// but 500, connect failures), within the call's deadline and until `close`.
    fn fetch(&self, transport: &Transport, deadline: &Deadline<'_>) -> Result<Secret> {
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
            percent_encode(&self.client_id),
            percent_encode(self.client_secret.expose()),
            percent_encode(&self.scopes)
        );
        let mut attempt: u32 = 0;
        loop {
            match deadline.check() {
                Ok(()) => {}
                Err(Stop::Closed) => {
                    return Err(Error::new(
                        ErrorKind::Closed,
                        "the client was closed before an access token could be fetched",
                    ))
                }
                Err(Stop::Deadline) => return Err(token_timeout()),
            }
            attempt += 1;
            let timeout = self.attempt_timeout.min(deadline.remaining());
            let outcome = transport.post(
                &self.token_url,
                "application/x-www-form-urlencoded",
                &[],
                form.as_bytes(),
                timeout,
            );
            let (error, server_wait) = match outcome {
                Ok(raw) if raw.is_success() => return self.accept(&raw.body),
                Ok(raw) => {
                    let wait = raw
                        .retry_after
                        .as_deref()
                        .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
                    let mut e = ims_refusal(&raw);
                    e.retry_after_ms = wait.map(retry::millis);
                    (e, wait)
                }
                Err(failure) if failure.is_timeout() && timeout < self.attempt_timeout => {
                    return Err(token_timeout());
                }
                Err(failure) => {
                    let mut e = auth_error(format!(
                        "no token could be obtained from IMS: {}",
                        failure.describe()
                    ));
                    e.retryable = retry::is_retryable_failure(&failure, &self.retry);
                    (e, None)
                }
            };
            if !error.retryable || attempt >= self.retry.max_attempts {
                return Err(error);
            }
            let wait = match server_wait {
                Some(asked) if asked > self.retry.max_delay => return Err(error),
                Some(asked) => asked,
                None => retry::backoff(&self.retry, attempt),
            };
            if wait >= deadline.remaining() {
                return Err(error);
            }
            match deadline.sleep(wait) {
                Ok(()) => {}
                Err(Stop::Closed) => return Err(Error::new(
                    ErrorKind::Closed,
                    format!("the client was closed; the token request was not retried (last failure: {})", error.message),
                )),
                Err(Stop::Deadline) => return Err(token_timeout()),
            }
        }
    }

    /// Reads and caches a token answer, refusing values that make no sense.
    fn accept(&self, body: &[u8]) -> Result<Secret> {
        let body: Value = serde_json::from_slice(body)
            .map_err(|_| auth_error("IMS answered 2xx with a body that is not JSON".into()))?;
        let Some(token) = body["access_token"].as_str().filter(|t| !t.is_empty()) else {
            return Err(auth_error("IMS answered without an access_token".into()));
        };
        if token.len() > 16 * 1024 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(auth_error(
                "IMS answered an access_token that cannot be sent in a header".into(),
            ));
        }
        let lifetime = match &body["expires_in"] {
            Value::Number(n) => match n.as_u64() {
                Some(0) | None => None,
                Some(secs) => Some(Duration::from_secs(secs).min(MAX_TOKEN_LIFETIME)),
            },
            _ => None,
        };
        let Some(lifetime) = lifetime else {
            return Err(auth_error(format!(
                "IMS answered an expires_in that is not a positive whole number of seconds: {}",
                excerpt(&body["expires_in"])
            )));
        };
        let now = Instant::now();
        let cached = Cached {
            token: Secret::new(token),
            expires_at: later(now, lifetime),
            refresh_at: later(
                now,
                lifetime - (lifetime / 10).min(Duration::from_secs(300)),
            ),
        };
        *self.cached.write().unwrap_or_else(|p| p.into_inner()) = Some(cached.clone());
        Ok(cached.token)
    }
}

/// IMS said no: `kind: "auth"`, the IMS status, its body under `problem`, and
/// its `error` (`invalid_client`, ...) in the message. `code` stays for the
/// Edge Network's EXEG codes.
fn ims_refusal(raw: &RawResponse) -> Error {
    let body: Option<Value> = serde_json::from_slice::<Value>(&raw.body)
        .ok()
        .filter(Value::is_object);
    let said = body.as_ref().and_then(|b| {
        let error = b["error"].as_str()?;
        Some(match b["error_description"].as_str() {
            Some(d) => format!(" ({error}: {d})"),
            None => format!(" ({error})"),
        })
    });
    let mut e = auth_error(format!(
        "IMS refused the token request with HTTP {}{}",
        raw.status,
        said.unwrap_or_default()
    ));
    e.http_status = Some(raw.status);
    e.problem = body;
    e.retryable = retry::is_retryable_status(raw.status);
    e
}

fn token_timeout() -> Error {
    let mut e = Error::new(
        ErrorKind::Timeout,
        "the call ran past timeouts.totalMs before an access token could be fetched",
    );
    e.retryable = true;
    e
}

/// A JSON value for a message: at most 40 characters of it.
fn excerpt(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
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
        let config = |extra: Value| {
            let mut c = serde_json::json!({"datastreamId": "ds", "orgId": "ORG@AdobeOrg"});
            c["auth"] = extra;
            Config::from_value(&c).unwrap()
        };
        let auth = Auth::new(&config(
            serde_json::json!({"type": "token", "accessToken": "tok", "apiKey": "key"}),
        ));
        auth.set_access_token("new-token").unwrap();
        assert!(auth.set_access_token("has space").is_err());
        let none = Auth::new(&config(serde_json::json!({"type": "none"})));
        assert_eq!(
            none.set_access_token("x").unwrap_err().kind,
            ErrorKind::InvalidRequest
        );
    }
}

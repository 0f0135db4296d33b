//! The client: validate → enrich → route → send with retries → parse → return
//! (design.md §2). `Send + Sync`; one instance serves every thread of a host.

use crate::auth::Auth;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::lifecycle::{CloseReport, Lifecycle};
use crate::log::{Level, LogFn, Logger};
use crate::request::{Draft, Endpoint, Prepared, StateEntry};
use crate::response::{self, RawResponse};
use crate::retry;
use crate::transport::{Failure, Transport};
use serde_json::{json, Value};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// A client for one datastream. Cloning is cheap and shares everything.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    transport: Transport,
    auth: Auth,
    logger: Logger,
    lifecycle: Lifecycle,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .field("closed", &self.inner.lifecycle.is_closed())
            .finish()
    }
}

impl Client {
    /// Builds a client; does no network I/O (tokens are fetched lazily).
    pub fn new(config: Config) -> Result<Client> {
        let transport = Transport::new(&config)?;
        let auth = Auth::new(&config.auth, config.org_id.as_deref());
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                transport,
                auth,
                logger: Logger::default(),
                lifecycle: Lifecycle::default(),
            }),
        })
    }

    /// Parses a config JSON string and builds a client.
    pub fn from_json(config_json: &str) -> Result<Client> {
        Client::new(Config::from_json(config_json)?)
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Sends one event to `/ee/v2/interact` and returns the result JSON of
    /// design.md §3.3 (the response body plus the `client` facts).
    pub fn interact(&self, request: Value) -> Result<Value> {
        self.call(Endpoint::Interact, || {
            Draft::from_value(Endpoint::Interact, request)
        })
    }

    /// As [`Client::interact`], from a JSON string (at most 1 MiB).
    pub fn interact_json(&self, request: &str) -> Result<Value> {
        self.call(Endpoint::Interact, || {
            Draft::from_json(Endpoint::Interact, request)
        })
    }

    /// Posts a batch of events to `/ee/v2/collect` at once.
    pub fn collect(&self, request: Value) -> Result<Value> {
        self.call(Endpoint::Collect, || {
            Draft::from_value(Endpoint::Collect, request)
        })
    }

    /// As [`Client::collect`], from a JSON string (at most 1 MiB).
    pub fn collect_json(&self, request: &str) -> Result<Value> {
        self.call(Endpoint::Collect, || {
            Draft::from_json(Endpoint::Collect, request)
        })
    }

    /// Refuses new calls, stops retries in flight, and waits up to `timeout`
    /// for running calls. Idempotent and safe from any thread.
    pub fn close(&self, timeout: Duration) -> CloseReport {
        let report = self.inner.lifecycle.close(timeout);
        self.log(Level::Info, || {
            format!(
                "client closed after {} ms with {} call(s) in flight",
                report.waited.as_millis(),
                report.in_flight
            )
        });
        report
    }

    /// A new client with the same config and log callback but its own
    /// connection pool and open state: what a child process needs after
    /// `fork()`, where inherited connections and locks must not be used.
    pub fn reopen(&self) -> Result<Client> {
        let fresh = Client::new(self.inner.config.clone())?;
        let (min_level, sink) = self.inner.logger.current();
        fresh.inner.logger.set(min_level, sink);
        Ok(fresh)
    }

    pub fn is_closed(&self) -> bool {
        self.inner.lifecycle.is_closed()
    }

    /// Installs the log callback (`None` removes it). Messages whose level is
    /// at most `min_level` (1 error … 5 trace) are delivered.
    pub fn set_logger(&self, min_level: u32, sink: Option<LogFn>) {
        self.inner.logger.set(min_level, sink);
    }

    fn log(&self, level: Level, message: impl FnOnce() -> String) {
        self.inner.logger.log(level, message);
    }

    fn call(&self, endpoint: Endpoint, draft: impl FnOnce() -> Result<Draft>) -> Result<Value> {
        let _in_flight = self.inner.lifecycle.enter()?;
        let started = Instant::now();
        let prepared = draft()?.finish(&self.stored_state())?;
        let result = self.send(&prepared, started);
        match &result {
            Ok(_) => self.log(Level::Debug, || {
                format!(
                    "{} {} succeeded in {} ms",
                    endpoint.path(),
                    prepared.request_id,
                    started.elapsed().as_millis()
                )
            }),
            Err(e) => self.log(Level::Warn, || {
                format!("{} {} failed: {e}", endpoint.path(), prepared.request_id)
            }),
        }
        result
    }

    /// The state entries this client sends with every request. Session state
    /// is kept by the session layer; until it exists, only per-call state is sent.
    fn stored_state(&self) -> Vec<StateEntry> {
        Vec::new()
    }

    fn url(&self, prepared: &Prepared) -> String {
        let config = &self.inner.config;
        let datastream = prepared
            .datastream_override
            .as_deref()
            .unwrap_or(&config.datastream_id);
        format!(
            "{}/ee/{}?dataStreamId={}&requestId={}",
            config.origin.url(),
            prepared.endpoint.path(),
            percent_encode(datastream),
            percent_encode(&prepared.request_id)
        )
    }

    /// Sends with the retries of design.md §3.4 until success, a final
    /// failure, the attempt limit, the total deadline, or `close`.
    fn send(&self, prepared: &Prepared, started: Instant) -> Result<Value> {
        let config = &self.inner.config;
        let policy = &config.retry;
        let deadline = started + config.timeouts.total;
        let url = self.url(prepared);
        let auth_headers = self.inner.auth.headers();
        let headers: Vec<(&str, &str)> =
            auth_headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut attempts: u32 = 0;

        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.total_timeout(prepared, attempts));
            }
            let attempt_timeout = config.timeouts.request.min(remaining);
            attempts += 1;
            self.log(Level::Debug, || {
                format!(
                    "POST {} {} attempt {attempts}",
                    prepared.endpoint.path(),
                    prepared.request_id
                )
            });
            let outcome = self.inner.transport.post(
                &url,
                "application/json",
                &headers,
                &prepared.body,
                attempt_timeout,
            );

            let (mut error, server_wait) = match outcome {
                Ok(raw) if raw.is_success() => {
                    return self.success(prepared, &raw, attempts, started);
                }
                Ok(raw) => {
                    let mut e = response::interpret(prepared.endpoint, &raw)
                        .expect_err("a non-2xx response is an error");
                    e.retryable = retry::is_retryable_status(raw.status);
                    let wait = raw
                        .retry_after
                        .as_deref()
                        .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
                    e.retry_after_ms = wait.map(|w| w.as_millis() as u64);
                    (e, wait)
                }
                Err(failure) => {
                    let cut_by_deadline = attempt_timeout < config.timeouts.request;
                    if cut_by_deadline
                        && matches!(failure, Failure::ReadTimeout | Failure::ConnectTimeout)
                    {
                        return Err(self.total_timeout(prepared, attempts));
                    }
                    let mut e = failure_error(&failure);
                    e.retryable = retry::is_retryable_failure(&failure, policy);
                    (e, None)
                }
            };
            error.attempts = attempts;
            error.request_id = Some(prepared.request_id.clone());

            if !error.retryable || attempts >= policy.max_attempts {
                return Err(error);
            }
            let wait = match server_wait {
                Some(asked) if asked > policy.max_delay => {
                    error.message.push_str(&format!(
                        "; the server asked to wait {} ms, more than retry.maxDelayMs",
                        asked.as_millis()
                    ));
                    return Err(error);
                }
                Some(asked) => asked,
                None => retry::backoff(policy, attempts),
            };
            if wait >= deadline.saturating_duration_since(Instant::now()) {
                error.message.push_str(&format!(
                    "; not retried: waiting {} ms would pass timeouts.totalMs",
                    wait.as_millis()
                ));
                return Err(error);
            }
            self.log(Level::Warn, || {
                format!(
                    "{} {} attempt {attempts} failed ({}); retrying in {} ms",
                    prepared.endpoint.path(),
                    prepared.request_id,
                    error.message,
                    wait.as_millis()
                )
            });
            if !self.inner.lifecycle.sleep(wait) {
                let mut closed = Error::new(
                    ErrorKind::Closed,
                    format!(
                        "the client was closed; the retry after attempt {attempts} was skipped (last failure: {})",
                        error.message
                    ),
                );
                closed.attempts = attempts;
                closed.request_id = Some(prepared.request_id.clone());
                closed.http_status = error.http_status;
                closed.code = error.code;
                closed.problem = error.problem;
                return Err(closed);
            }
        }
    }

    fn success(
        &self,
        prepared: &Prepared,
        raw: &RawResponse,
        attempts: u32,
        started: Instant,
    ) -> Result<Value> {
        let mut body = response::interpret(prepared.endpoint, raw).map_err(|mut e| {
            e.attempts = attempts;
            e.request_id = Some(prepared.request_id.clone());
            e
        })?;
        body.insert(
            "client".into(),
            json!({
                "httpStatus": raw.status,
                "attempts": attempts,
                "requestId": prepared.request_id,
                "region": raw.region,
                "elapsedMs": started.elapsed().as_millis() as u64,
            }),
        );
        Ok(Value::Object(body))
    }

    fn total_timeout(&self, prepared: &Prepared, attempts: u32) -> Error {
        let mut e = Error::new(
            ErrorKind::Timeout,
            format!(
                "the call ran past timeouts.totalMs ({} ms) after {attempts} attempt(s)",
                self.inner.config.timeouts.total.as_millis()
            ),
        );
        e.attempts = attempts;
        e.request_id = Some(prepared.request_id.clone());
        e.retryable = true;
        e
    }
}

/// The error for an attempt that got no HTTP response.
fn failure_error(failure: &Failure) -> Error {
    let kind = match failure {
        Failure::ReadTimeout | Failure::ConnectTimeout => ErrorKind::Timeout,
        Failure::TooLarge(_) => ErrorKind::InvalidResponse,
        _ => ErrorKind::Transport,
    };
    Error::new(kind, failure.describe())
}

/// Percent-encodes a query value: everything but RFC 3986 unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(percent_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(percent_encode("Ab-1._~"), "Ab-1._~");
    }

    #[test]
    fn client_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Client>();
    }
}

//! The client: validate → enrich → route → send with retries → parse →
//! update the session → return (design.md §2). `Send + Sync`; one instance
//! serves every thread of a host.

use crate::answer;
use crate::auth::Auth;
use crate::config::{Config, SessionMode};
use crate::error::{Error, ErrorKind, Result};
use crate::lifecycle::{later, CloseReport, Deadline, Lifecycle, Stop};
use crate::log::{Level, LogFn, Logger};
use crate::request::{CallTimeouts, Draft, Endpoint, Prepared};
use crate::response::{self, RawResponse};
use crate::retry;
use crate::secret::Secret;
use crate::session::{ConsentGate, Session};
use crate::transport::{push_percent_encoded, Failure, Transport};
use crate::visitor;
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
    session: Session,
    logger: Logger,
    lifecycle: Lifecycle,
    /// Each endpoint's URL up to its `requestId`, without a hint or a
    /// datastream override: the same every such call, so built once.
    plain_urls: [String; 3],
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
    /// Builds a client and loads its session file, if any. Does no network
    /// I/O: tokens are fetched at the first call that needs one.
    pub fn new(config: Config) -> Result<Client> {
        let transport = Transport::new(&config)?;
        let auth = Auth::new(&config);
        let session = Session::new(&config)?;
        let plain_urls =
            Endpoint::ALL.map(|endpoint| url_head(&config, endpoint, None, &config.datastream_id));
        Ok(Client {
            inner: Arc::new(Inner {
                plain_urls,
                config,
                transport,
                auth,
                session,
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

    /// As [`Client::interact_json`], returning the result JSON as text (what
    /// the C ABI hands out): written from the response body without building
    /// a `Value` where the body allows it (`answer`).
    pub fn interact_json_text(&self, request: &str) -> Result<String> {
        self.interact_json_text_facts(request, None)
            .map(|(text, _)| text)
    }

    /// As [`Client::interact_json_text`], with the result's scalar `client`
    /// facts beside the text (for a binding that reads `httpStatus` without
    /// parsing the text). `request_id`, when given, is the id sent unless
    /// the request names one in `options.requestId` (a binding that tags
    /// the call's log lines with it chooses it before the call).
    pub fn interact_json_text_facts(
        &self,
        request: &str,
        request_id: Option<String>,
    ) -> Result<(String, ResultFacts)> {
        self.call_text(Endpoint::Interact, || {
            Draft::from_json_with_id(Endpoint::Interact, request, request_id)
        })
    }

    /// As [`Client::interact_json_text_facts`] for the request
    /// `{"event": …}` a binding encoded itself, as
    /// [`Draft::from_event_body`] says (the bytes are sent as they are).
    #[doc(hidden)]
    pub fn interact_event_body_facts(
        &self,
        body: Vec<u8>,
        own_identity: bool,
        request_id: Option<String>,
    ) -> Result<(String, ResultFacts)> {
        self.call_text(Endpoint::Interact, || {
            Ok(Draft::from_event_body(body, own_identity, request_id))
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

    /// As [`Client::collect_json`], returning the result JSON as text.
    pub fn collect_json_text(&self, request: &str) -> Result<String> {
        self.collect_json_text_facts(request, None)
            .map(|(text, _)| text)
    }

    /// As [`Client::collect_json_text`], with the result's scalar `client`
    /// facts and the `request_id` of [`Client::interact_json_text_facts`].
    pub fn collect_json_text_facts(
        &self,
        request: &str,
        request_id: Option<String>,
    ) -> Result<(String, ResultFacts)> {
        self.call_text(Endpoint::Collect, || {
            Draft::from_json_with_id(Endpoint::Collect, request, request_id)
        })
    }

    /// Posts a consent decision to `/ee/v1/privacy/set-consent`
    /// (`{"consent": [{"standard", "version", "value"}], "identityMap"?: ...}`)
    /// and keeps what it returns: state, and the collect consent that gates
    /// interact and collect.
    pub fn set_consent(&self, request: Value) -> Result<Value> {
        self.call(Endpoint::Consent, || {
            Draft::from_value(Endpoint::Consent, request)
        })
    }

    /// As [`Client::set_consent`], from a JSON string.
    pub fn set_consent_json(&self, request: &str) -> Result<Value> {
        self.call(Endpoint::Consent, || {
            Draft::from_json(Endpoint::Consent, request)
        })
    }

    /// As [`Client::set_consent_json`], returning the result JSON as text.
    pub fn set_consent_json_text(&self, request: &str) -> Result<String> {
        self.set_consent_json_text_facts(request, None)
            .map(|(text, _)| text)
    }

    /// As [`Client::set_consent_json_text`], with the result's scalar `client`
    /// facts and the `request_id` of [`Client::interact_json_text_facts`].
    pub fn set_consent_json_text_facts(
        &self,
        request: &str,
        request_id: Option<String>,
    ) -> Result<(String, ResultFacts)> {
        self.call_text(Endpoint::Consent, || {
            Draft::from_json_with_id(Endpoint::Consent, request, request_id)
        })
    }

    /// The session as JSON: `ecid`, `locationHint`, `consent`, `entries`,
    /// `session`, `hintRouting`, `statePath`, `storageWarning`.
    pub fn session(&self) -> Value {
        self.inner.session.view()
    }

    /// Forgets the visitor (kiosk: the next one starts fresh): state entries,
    /// location hint, ECID, consent, and the state file's copy. Responses to
    /// requests sent before the reset are ignored.
    pub fn reset_session(&self) -> Result<()> {
        self.inner.lifecycle.check_open()?;
        self.inner.session.reset()?;
        self.inner.lifecycle.notify(); // consent may have changed
        self.log(Level::Info, || "session reset".into());
        Ok(())
    }

    /// Replaces the access token of `token` auth for the calls that follow.
    pub fn set_access_token(&self, token: &str) -> Result<()> {
        self.inner.lifecycle.check_open()?;
        self.inner.auth.set_access_token(token)
    }

    /// Refuses new calls, wakes every waiting call (they end with `CLOSED`;
    /// no new attempt starts), and waits up to `timeout` for running calls.
    /// Idempotent and safe from any thread; from inside a callback it does not
    /// wait for the calling thread's own call.
    pub fn close(&self, timeout: Duration) -> CloseReport {
        let close_by = crate::lifecycle::later(Instant::now(), timeout);
        let report = self.inner.lifecycle.close(timeout);
        // Expiries refreshed since the last write reach the state file now.
        if let Some(warning) = self.inner.session.flush(close_by) {
            self.log(Level::Error, || warning);
        }
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
    /// The session carries over (and is reloaded from `statePath` when there is one).
    pub fn reopen(&self) -> Result<Client> {
        let fresh = Client::new(self.inner.config.clone())?;
        fresh.inner.session.adopt_from(&self.inner.session);
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

    pub(crate) fn log(&self, level: Level, message: impl FnOnce() -> String) {
        self.inner.logger.log(level, message);
    }

    /// Whether collect consent lets events out now (for the durable queue).
    pub(crate) fn consent_gate(&self) -> ConsentGate {
        self.inner.session.consent_gate()
    }

    /// Whether a device session still has no ECID (the queue then sends its
    /// oldest event through interact first).
    pub(crate) fn needs_ecid(&self) -> bool {
        self.inner.session.keeps_state() && self.inner.session.snapshot().needs_ecid
    }

    /// What an async call does before it is queued (design.md §3.6): refuses
    /// at once what the blocking call would refuse before sending (a closed
    /// client, an invalid or oversized request, collect consent "n") and
    /// returns the draft for [`Client::run_draft`].
    pub(crate) fn check_async(
        &self,
        endpoint: Endpoint,
        draft: impl FnOnce() -> Result<Draft>,
    ) -> Result<Draft> {
        self.inner.lifecycle.check_open()?;
        let draft = draft()?;
        draft.check_body_size()?;
        if endpoint != Endpoint::Consent
            && matches!(self.inner.session.consent_gate(), ConsentGate::Deny)
        {
            return Err(consent_denied());
        }
        Ok(draft)
    }

    /// Runs a draft that [`Client::check_async`] accepted as the blocking call
    /// would. Its `timeouts.totalMs` counts from `accepted`: the wait for a
    /// worker is part of the call (design.md §3.10).
    pub(crate) fn run_draft(&self, draft: Draft, accepted: Instant) -> Result<Value> {
        self.call_from(draft.endpoint, accepted, Want::Value, || Ok(draft))
            .map(Output::into_value)
    }

    fn call(&self, endpoint: Endpoint, draft: impl FnOnce() -> Result<Draft>) -> Result<Value> {
        self.call_from(endpoint, Instant::now(), Want::Value, draft)
            .map(Output::into_value)
    }

    /// A call from its draft to result text with its scalar facts.
    fn call_text(
        &self,
        endpoint: Endpoint,
        draft: impl FnOnce() -> Result<Draft>,
    ) -> Result<(String, ResultFacts)> {
        self.call_from(endpoint, Instant::now(), Want::Text, draft)
            .map(Output::into_text_facts)
    }

    fn call_from(
        &self,
        endpoint: Endpoint,
        started: Instant,
        want: Want,
        draft: impl FnOnce() -> Result<Draft>,
    ) -> Result<Output> {
        let _in_flight = self.inner.lifecycle.enter()?;
        if let Some(warning) = self.inner.session.take_warning() {
            self.log(Level::Warn, || warning);
        }
        let mut draft = draft()?;
        let total = self.total_timeout_of(&draft.timeouts);
        // From `started` (no later than from now: one clock read fewer).
        let deadline = self.inner.lifecycle.deadline_at(later(started, total));
        draft.note_datastream_override(&self.inner.config.datastream_id);
        if endpoint != Endpoint::Consent {
            self.wait_for_consent(&deadline, &draft)?;
        }
        let session = &self.inner.session;
        let _identity_ticket = match endpoint {
            Endpoint::Interact if !draft.has_own_identity() => session.identity_gate(&deadline)?,
            _ => None,
        };
        let snapshot = session.snapshot();
        if endpoint == Endpoint::Interact && snapshot.needs_ecid {
            draft.ask_for_ecid();
        }
        let requested_consent = match endpoint {
            Endpoint::Consent => draft.requested_consent(),
            _ => None,
        };
        let mut prepared = draft.finish(&snapshot.entries)?;
        let hint = self.hint_for(&prepared, snapshot.hint);
        let mut result = self.send(&prepared, hint, started, &deadline, want);
        if let Ok(output) = &mut result {
            // The id sent is the result's: moved, not copied (nothing after
            // this reads it from `prepared`).
            output.facts.request_id = std::mem::take(&mut prepared.request_id);
        }
        match &result {
            Ok(output) => {
                // What the session applies: the result, or its `handle` alone
                // (all it reads) beside a text result; nothing when it keeps no state.
                let applied = match &output.form {
                    Form::Value(value) => Some(value),
                    Form::Text(_, handle) => handle.as_ref(),
                };
                if let Some(value) = applied {
                    // State-file locks are tried until the call's deadline at most.
                    let lock_by = Instant::now() + deadline.remaining();
                    let mut warning = session.apply(value, snapshot.generation, lock_by);
                    let answered_consent = value["handle"]
                        .as_array()
                        .is_some_and(|h| h.iter().any(|h| h["type"] == "consent:preferences"));
                    if let (Some(consent), false) = (requested_consent, answered_consent) {
                        warning =
                            warning.or(session.set_consent(&consent, snapshot.generation, lock_by));
                    }
                    if let Some(w) = warning {
                        self.log(Level::Error, || w);
                    }
                }
                // Calls waiting for consent or an identity look again.
                self.inner.lifecycle.notify();
                self.log(Level::Debug, || {
                    format!(
                        "{} {} succeeded in {} ms",
                        endpoint.path(),
                        output.facts.request_id,
                        started.elapsed().as_millis()
                    )
                });
            }
            Err(e) => self.log(Level::Warn, || {
                format!("{} {} failed: {e}", endpoint.path(), prepared.request_id)
            }),
        }
        result
    }

    /// Collect consent gates interact and collect: "n" refuses at once,
    /// pending waits for a decision until the call's deadline or `close`.
    fn wait_for_consent(&self, deadline: &Deadline<'_>, draft: &Draft) -> Result<()> {
        let session = &self.inner.session;
        // Another process's decision arrives through the state file, which
        // nothing announces: look at it now and then.
        let recheck = session.has_file().then_some(Duration::from_millis(50));
        let mut gate = ConsentGate::Pending;
        let waited = deadline.wait_until(
            || {
                gate = session.consent_gate();
                gate != ConsentGate::Pending
            },
            recheck,
        );
        match (waited, gate) {
            (Ok(()), ConsentGate::Deny) => Err(consent_denied()),
            (Ok(()), _) => Ok(()),
            (Err(Stop::Closed), _) => Err(Error::new(
                ErrorKind::Closed,
                format!(
                    "the client was closed while collect consent was pending; {} was not sent",
                    draft.request_id
                ),
            )),
            (Err(Stop::Deadline), _) => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "collect consent stayed pending until timeouts.totalMs passed; {} was not sent",
                    draft.request_id
                ),
            )),
        }
    }

    /// The hint a call routes by: its own (`options.locationHint` or the
    /// visitor's cluster entry), else the session's; none when routing is off.
    fn hint_for(&self, prepared: &Prepared, session_hint: Option<String>) -> Option<String> {
        let config = &self.inner.config;
        if config.hint_form == visitor::HintForm::Off {
            return None;
        }
        prepared
            .visitor
            .hint(config.org_id.as_deref())
            .or(session_hint)
    }

    fn url(&self, prepared: &Prepared, hint: Option<&str>) -> String {
        let config = &self.inner.config;
        let mut url = match (hint, prepared.datastream_override.as_deref()) {
            (None, None) => {
                let head = &self.inner.plain_urls[prepared.endpoint as usize];
                let mut url = String::with_capacity(head.len() + 16 + prepared.request_id.len());
                url.push_str(head);
                url
            }
            (hint, datastream) => url_head(
                config,
                prepared.endpoint,
                hint,
                datastream.unwrap_or(&config.datastream_id),
            ),
        };
        url.push_str("&requestId=");
        push_percent_encoded(&mut url, &prepared.request_id);
        url
    }

    /// Sends with the retries of design.md §3.4 until success, a final
    /// failure, the attempt limit, the total deadline, or `close`. Every
    /// attempt, the first and every re-send, starts only while the client is
    /// open and the deadline has not passed.
    fn send(
        &self,
        prepared: &Prepared,
        mut hint: Option<String>,
        started: Instant,
        deadline: &Deadline<'_>,
        want: Want,
    ) -> Result<Output> {
        let config = &self.inner.config;
        let policy = &config.retry;
        let mut attempts: u32 = 0;
        // Attempts that count against maxAttempts: the re-send without a hint
        // and the one after a token refresh do not.
        let mut counted: u32 = 0;
        let mut expired_token: Option<Secret> = None;
        let mut refreshed_token = false;
        let mut last_failure: Option<Error> = None;
        let stamp = |e: Error, attempts: u32| stamped(e, prepared, attempts);
        let context_headers = visitor::merge_headers(&config.headers, &prepared.visitor.headers);

        loop {
            let before_attempt = |attempts: u32, last: &Option<Error>| match deadline.check_left() {
                Ok(left) => Ok(left),
                Err(Stop::Closed) => {
                    Err(stamp(skipped_by_close(attempts, last.as_ref()), attempts))
                }
                Err(Stop::Deadline) => Err(self.total_timeout(prepared, attempts)),
            };
            before_attempt(attempts, &last_failure)?;
            let (auth_headers, token) = self
                .inner
                .auth
                .headers(&self.inner.transport, deadline, expired_token.as_ref())
                .map_err(|e| stamp(e, attempts))?;
            self.log(Level::Debug, || {
                format!(
                    "POST {} {} attempt {}{}",
                    prepared.endpoint.path(),
                    prepared.request_id,
                    attempts + 1,
                    hint.as_deref()
                        .map(|h| format!(" via {h}"))
                        .unwrap_or_default()
                )
            });
            // The token, or a log callback, may have taken a while (and may
            // have closed the client): look again right before sending.
            let left = before_attempt(attempts, &last_failure)?;
            let headers: Vec<(&str, &str)> = auth_headers
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .chain(context_headers.iter().copied())
                .collect();
            let request_timeout = prepared.timeouts.request.unwrap_or(config.timeouts.request);
            let attempt_timeout = request_timeout.min(left);
            attempts = attempts.saturating_add(1);
            counted = counted.saturating_add(1);
            let url = self.url(prepared, hint.as_deref());
            let outcome = self.inner.transport.post(
                &url,
                "application/json",
                &headers,
                &prepared.body,
                attempt_timeout,
            );

            let (mut error, server_wait) = match outcome {
                Ok(raw) if raw.is_success() => {
                    return self.success(prepared, raw, attempts, started, want);
                }
                Ok(raw) if raw.status == 404 && raw.body.is_empty() && hint.is_some() => {
                    // An unknown location hint: send again at once without
                    // it, even past maxAttempts. A visitor's own hint (from
                    // options) is dropped for this call only, so one bad
                    // cookie cannot turn routing off for every visitor; the
                    // session's hint is off for this client's life.
                    let per_call = prepared.visitor.hint(config.org_id.as_deref()).is_some();
                    self.log(Level::Warn, || {
                        format!(
                            "location hint {} answered 404; {}",
                            hint.as_deref().unwrap_or_default(),
                            if per_call {
                                "this call is sent again without it"
                            } else {
                                "hint routing is off for this client"
                            }
                        )
                    });
                    if !per_call {
                        self.inner.session.disable_hint();
                    }
                    hint = None;
                    counted -= 1;
                    last_failure = response::interpret(prepared.endpoint, &raw).err();
                    continue;
                }
                Ok(raw) => {
                    let e = response::interpret(prepared.endpoint, &raw)
                        .expect_err("a non-2xx response is an error");
                    if e.code.as_deref() == Some("EXEG-0503-401")
                        && self.inner.auth.is_oauth()
                        && !refreshed_token
                    {
                        // The token expired: refresh it and send again, once.
                        self.log(Level::Info, || {
                            "the access token expired; fetching a new one".into()
                        });
                        refreshed_token = true;
                        expired_token = token;
                        counted -= 1;
                        last_failure = Some(e);
                        continue;
                    }
                    let mut e = e;
                    e.retryable = retry::is_retryable_status(raw.status);
                    let wait = raw
                        .retry_after
                        .as_deref()
                        .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
                    e.retry_after_ms = wait.map(retry::millis);
                    (e, wait)
                }
                Err(failure) => {
                    let cut_by_deadline = attempt_timeout < request_timeout;
                    if cut_by_deadline && failure.is_timeout() {
                        return Err(self.total_timeout(prepared, attempts));
                    }
                    let mut e = failure_error(&failure);
                    e.retryable = retry::is_retryable_failure(&failure, policy);
                    (e, None)
                }
            };
            error = stamp(error, attempts);

            if !error.retryable || counted >= policy.max_attempts {
                return Err(error);
            }
            let wait = match server_wait {
                Some(asked) if asked > policy.max_delay => {
                    error.message.push_str(&format!(
                        "; the server asked to wait {} ms, more than retry.maxDelayMs",
                        retry::millis(asked)
                    ));
                    return Err(error);
                }
                Some(asked) => asked,
                None => retry::backoff(policy, counted),
            };
            if wait >= deadline.remaining() {
                error.message.push_str(&format!(
                    "; not retried: waiting {} ms would pass timeouts.totalMs",
                    retry::millis(wait)
                ));
                return Err(error);
            }
            self.log(Level::Warn, || {
                format!(
                    "{} {} attempt {attempts} failed ({}); retrying in {} ms",
                    prepared.endpoint.path(),
                    prepared.request_id,
                    error.message,
                    retry::millis(wait)
                )
            });
            match deadline.sleep(wait) {
                Ok(()) => {}
                Err(Stop::Closed) => {
                    return Err(stamp(skipped_by_close(attempts, Some(&error)), attempts))
                }
                Err(Stop::Deadline) => return Err(self.total_timeout(prepared, attempts)),
            }
            last_failure = Some(error);
        }
    }

    fn success(
        &self,
        prepared: &Prepared,
        mut raw: RawResponse,
        attempts: u32,
        started: Instant,
        want: Want,
    ) -> Result<Output> {
        let passed = prepared.visitor.state.as_deref();
        let state_fact = passed.is_some() || self.inner.config.session == SessionMode::None;
        let elapsed_ms = retry::millis(started.elapsed());
        // `request_id` is filled by `call_from`, which owns the id; the region
        // is moved out once the result is written.
        let scalars = |raw: &mut RawResponse| ResultFacts {
            http_status: raw.status,
            attempts,
            request_id: String::new(),
            region: raw.region.take(),
            elapsed_ms,
        };
        if want == Want::Text {
            let facts = answer::Facts {
                http_status: raw.status,
                attempts,
                request_id: &prepared.request_id,
                region: raw.region.as_deref(),
                elapsed_ms,
                headers: &raw.facts,
                passed_state: state_fact.then(|| passed.unwrap_or_default()),
                now_ms: crate::session::now_ms(),
            };
            let keeps_state = self.inner.session.keeps_state();
            if let Some((text, handle)) = answer::result_text(&raw.body, &facts, keeps_state) {
                return Ok(Output {
                    form: Form::Text(text, handle),
                    facts: scalars(&mut raw),
                });
            }
        }
        let body = response::interpret(prepared.endpoint, &raw)
            .map_err(|e| stamped(e, prepared, attempts))?;
        let mut body = Value::Object(body);
        let mut facts = json!({
            "httpStatus": raw.status,
            "attempts": attempts,
            "requestId": prepared.request_id,
            "region": raw.region,
            "elapsedMs": elapsed_ms,
            "locationHint": visitor::edge_hint_of(&body),
            "headers": visitor::headers_fact(&raw.facts),
        });
        if state_fact {
            let now = crate::session::now_ms();
            facts["state"] = visitor::next_state(passed.unwrap_or_default(), &body, now);
        }
        body["client"] = facts;
        Ok(Output {
            form: Form::Value(body),
            facts: scalars(&mut raw),
        })
    }

    /// The call's `options.timeouts.totalMs`, else the config's.
    fn total_timeout_of(&self, timeouts: &CallTimeouts) -> Duration {
        timeouts.total.unwrap_or(self.inner.config.timeouts.total)
    }

    fn total_timeout(&self, prepared: &Prepared, attempts: u32) -> Error {
        let mut e = Error::new(
            ErrorKind::Timeout,
            format!(
                "the call ran past timeouts.totalMs ({} ms) after {attempts} attempt(s)",
                self.total_timeout_of(&prepared.timeouts).as_millis()
            ),
        );
        e.retryable = true;
        stamped(e, prepared, attempts)
    }
}

/// The form a caller wants its result in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Value,
    /// JSON text (the C ABI), written from the body where it can be.
    Text,
}

/// The scalar `client` facts of a result (design.md §3.3), exactly as its
/// `client` object states them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultFacts {
    pub http_status: u16,
    pub attempts: u32,
    /// The `requestId` sent.
    pub request_id: String,
    pub region: Option<String>,
    pub elapsed_ms: u64,
}

/// A call's result and its scalar facts.
struct Output {
    form: Form,
    facts: ResultFacts,
}

/// A Value, or text when the caller wanted text and the fast path could
/// write it (with `{"handle": [...]}` for a session that keeps state to apply).
enum Form {
    Value(Value),
    Text(String, Option<Value>),
}

impl Output {
    fn into_value(self) -> Value {
        match self.form {
            Form::Value(v) => v,
            Form::Text(t, _) => serde_json::from_str(&t).expect("the result text is JSON"),
        }
    }

    /// The text and the facts, moved out (no copy).
    fn into_text_facts(self) -> (String, ResultFacts) {
        let text = match self.form {
            Form::Value(v) => answer::value_text(&v),
            Form::Text(t, _) => t,
        };
        (text, self.facts)
    }
}

/// An endpoint's URL up to its `requestId`: the edge URL with `hint` and the
/// datastream parameter.
fn url_head(config: &Config, endpoint: Endpoint, hint: Option<&str>, datastream: &str) -> String {
    let mut url = visitor::edge_url(
        &config.origin,
        config.edge_base_path,
        config.hint_form,
        hint,
        endpoint.path(),
    );
    url.push('?');
    url.push_str(endpoint.datastream_param());
    url.push('=');
    push_percent_encoded(&mut url, datastream);
    url
}

fn consent_denied() -> Error {
    Error::new(
        ErrorKind::ConsentDenied,
        "the visitor's collect consent is \"n\": nothing was sent",
    )
}

/// An error of a call: its attempts and, when something was sent, the
/// `requestId` sent (design.md §3.3: `null` when nothing was sent).
fn stamped(mut error: Error, prepared: &Prepared, attempts: u32) -> Error {
    error.attempts = attempts;
    error.request_id = (attempts > 0).then(|| prepared.request_id.clone());
    error
}

/// `CLOSED` for a call whose next attempt `close` stopped, keeping what the
/// last failure said (its HTTP status, code and problem).
fn skipped_by_close(attempts: u32, last: Option<&Error>) -> Error {
    let Some(last) = last else {
        return Error::new(
            ErrorKind::Closed,
            "the client was closed before the request was sent",
        );
    };
    let mut closed = Error::new(
        ErrorKind::Closed,
        format!(
            "the client was closed; the retry after attempt {attempts} was skipped (last failure: {})",
            last.message
        ),
    );
    closed.http_status = last.http_status;
    closed.code = last.code.clone();
    closed.problem = last.problem.clone();
    closed
}

/// The error for an attempt that got no HTTP response.
fn failure_error(failure: &Failure) -> Error {
    let kind = match failure {
        _ if failure.is_timeout() => ErrorKind::Timeout,
        Failure::TooLarge(_) => ErrorKind::InvalidResponse,
        _ => ErrorKind::Transport,
    };
    let mut e = Error::new(kind, failure.describe());
    e.http_status = failure.http_status();
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Client>();
    }
}

//! From a parsed request to what goes back on the wire: control, Edge or IMS, with any
//! injected fault applied and the request recorded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::edge;
use crate::faults::FaultQueue;
use crate::http::{Request, Response};
use crate::ims::{self, TokenStore};
use crate::ratelimit::{RateLimit, Verdict};
use crate::record::Recorder;
use crate::routing::{self, Route};
use crate::{control, problem, reject, Fault, Options};

/// State shared by every connection of one emulator.
pub(crate) struct Shared {
    pub options: Options,
    pub faults: FaultQueue,
    pub recorder: Recorder,
    pub tokens: TokenStore,
    pub rate_limit: RateLimit,
    stopping: AtomicBool,
    // Wakes fault delays early at shutdown, so shutdown never waits out a long delay.
    stop_lock: Mutex<()>,
    stop_signal: Condvar,
}

impl Shared {
    pub fn new(options: Options) -> Shared {
        Shared {
            recorder: Recorder::new(options.max_recorded),
            rate_limit: RateLimit::new(options.rate_limit_per_sec),
            options,
            faults: FaultQueue::default(),
            tokens: TokenStore::default(),
            stopping: AtomicBool::new(false),
            stop_lock: Mutex::new(()),
            stop_signal: Condvar::new(),
        }
    }

    pub fn reset(&self) {
        self.faults.clear();
        self.recorder.clear();
        self.tokens.clear();
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    pub fn stop(&self) {
        let _guard = self.stop_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.stopping.store(true, Ordering::Release);
        self.stop_signal.notify_all();
    }

    /// Sleeps for `duration` or until the emulator stops, whichever comes first.
    fn sleep(&self, duration: Duration) {
        let deadline = Instant::now() + duration;
        let mut guard = self.stop_lock.lock().unwrap_or_else(|e| e.into_inner());
        while !self.is_stopping() {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            guard = self
                .stop_signal
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// What the connection does with a request.
pub(crate) enum Outcome {
    Respond(Response),
    /// Drop the connection with a TCP RST, answering nothing.
    Reset,
    /// Announce the whole body, send only its first half, then close.
    Truncate(Response),
}

pub(crate) fn answer(shared: &Shared, req: &Request) -> Outcome {
    if req.path.starts_with(control::PREFIX) || req.path == control::LIVE_VIEW {
        return Outcome::Respond(control::handle(shared, req));
    }
    // Recorded at arrival so the list keeps arrival order even when answers are delayed.
    let slot = shared.recorder.record(req);
    // One id per request: the body's `requestId` and the `x-request-id` header agree.
    let request_id = edge::response_request_id(req);
    let is_edge = req.path.starts_with("/ee");
    let verdict = is_edge.then(|| shared.rate_limit.check(&req.path));
    let mut outcome = if let Some(Verdict::Limited(retry_after)) = verdict {
        Outcome::Respond(
            problem::for_status(429, &request_id)
                .with_header("retry-after", &retry_after.to_string()),
        )
    } else {
        // Bodies are looked into only while a fault that rejects chosen events waits.
        let event_ids = shared
            .faults
            .wants_event_ids()
            .then(|| reject::event_ids(&req.body));
        match shared.faults.take(&req.path, event_ids.as_deref()) {
            Some(fault) => faulted(
                shared,
                req,
                &request_id,
                fault,
                event_ids.as_deref().unwrap_or(&[]),
            ),
            None => Outcome::Respond(serve(shared, req, &request_id)),
        }
    };
    match &mut outcome {
        Outcome::Respond(resp) | Outcome::Truncate(resp) => {
            if is_edge {
                let remaining = match verdict {
                    Some(Verdict::Allowed(n)) => n,
                    _ => 0,
                };
                resp.set_header("x-request-id", &request_id);
                resp.set_header("x-rate-limit-remaining", &remaining.to_string());
            }
            // Stored before the answer is written, so a client holding it sees it.
            if let Some(slot) = &slot {
                slot.answered(resp);
            }
        }
        Outcome::Reset => {
            if let Some(slot) = &slot {
                slot.reset();
            }
        }
    }
    outcome
}

/// The normal answer.
fn serve(shared: &Shared, req: &Request, request_id: &str) -> Response {
    match routing::route(&shared.options, req.header("host"), &req.path) {
        Route::Edge { endpoint, cluster } => edge::handle(
            &shared.options,
            &shared.tokens,
            req,
            endpoint,
            &cluster,
            request_id,
        ),
        // Edge answers an unknown location hint with a bare 404 (edge-api.md §3.4).
        Route::UnknownHint => Response::new(404),
        Route::Ims => ims::token(&shared.options, &shared.tokens, req),
        Route::NotFound => problem::generic(
            404,
            &format!("There is no endpoint at {}.", req.path),
            Some(request_id),
        ),
    }
}

fn faulted(
    shared: &Shared,
    req: &Request,
    request_id: &str,
    fault: Fault,
    event_ids: &[Option<String>],
) -> Outcome {
    if fault.delay_ms > 0 {
        shared.sleep(Duration::from_millis(fault.delay_ms));
    }
    if fault.reset {
        return Outcome::Reset;
    }
    if fault.truncate {
        let normal = serve(shared, req, request_id);
        let resp = if normal.status == 200 && normal.body.len() >= 2 {
            normal
        } else {
            Response::json(200, &json!({"requestId": request_id, "handle": []}))
        };
        return Outcome::Truncate(resp);
    }
    let mut resp = if !fault.reject_event_ids.is_empty() {
        reject::answer(
            &fault,
            event_ids,
            request_id,
            &shared.options.org_id,
            || serve(shared, req, request_id),
        )
    } else if fault.malformed {
        // Looks like the start of an Edge answer, then stops being JSON.
        let body = format!(
            "{{\"requestId\": \"{request_id}\", \"handle\": [ <html>upstream garbage</html>"
        );
        Response::new(200).with_body("application/json", body.into_bytes())
    } else if fault.status.is_some() || fault.body.is_some() {
        let status = fault.status.unwrap_or(200);
        match &fault.body {
            Some(body) if body.is_empty() => Response::new(status),
            Some(body) => {
                let is_json = serde_json::from_str::<serde_json::Value>(body).is_ok();
                let content_type = match (is_json, status >= 400) {
                    (true, true) => problem::PROBLEM_JSON,
                    (true, false) => "application/json",
                    (false, _) => "text/plain; charset=utf-8",
                };
                Response::new(status).with_body(content_type, body.clone().into_bytes())
            }
            None => problem::for_status(status, request_id),
        }
    } else {
        serve(shared, req, request_id)
    };
    if let Some(content_type) = &fault.content_type {
        resp.set_header("content-type", content_type);
    }
    if let Some(retry_after) = &fault.retry_after {
        resp.set_header("retry-after", retry_after);
    }
    if let Some(location) = &fault.location {
        resp.set_header("location", location);
    }
    for (name, value) in &fault.headers {
        resp.set_header(name, value);
    }
    Outcome::Respond(resp)
}

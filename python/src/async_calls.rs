//! Native asyncio (design.md §4.1): `interact_async` and friends run on the
//! core's worker threads (`aep_edge::workers`), not on a Python thread pool,
//! and complete their `asyncio.Future` on its event loop.
//!
//! A worker that finishes a call puts it in the loop's [`Inbox`] without the
//! GIL; only the one that finds the inbox empty takes the GIL, to schedule
//! `Inbox.drain` with `loop.call_soon_threadsafe`. Under load many calls
//! complete per drain, and the workers do not fight the loop for the GIL.

use crate::errors::CoreError;
use crate::result::NativeResult;
use crate::{request_value, NativeClient};
use aep_edge::request::Endpoint;
use aep_edge::workers::Completion;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use serde_json::Value;
use std::sync::{Mutex, MutexGuard};

/// Finished calls waiting to complete their futures on one event loop.
#[pyclass(frozen, module = "aep_edge._native")]
pub struct Inbox {
    /// A `weakref.ref` to the loop: the inbox must not keep it alive.
    loop_ref: Py<PyAny>,
    state: Mutex<InboxState>,
}

#[derive(Default)]
struct InboxState {
    finished: Vec<(Py<PyAny>, aep_edge::Result<Value>)>,
    /// A drain is scheduled on the loop and has not started yet.
    scheduled: bool,
}

#[pymethods]
impl Inbox {
    /// `loop_ref`: a callable returning the event loop, or `None` once it is gone
    /// (a `weakref.ref`).
    #[new]
    fn new(loop_ref: Py<PyAny>) -> Inbox {
        Inbox {
            loop_ref,
            state: Mutex::new(InboxState::default()),
        }
    }

    /// Runs on the event loop: completes the futures of the finished calls.
    /// A future already done (cancelled) is left alone: its result is abandoned.
    fn drain(&self, py: Python<'_>) {
        let finished = {
            let mut state = self.lock();
            state.scheduled = false;
            std::mem::take(&mut state.finished)
        };
        for (future, result) in finished {
            if let Err(e) = complete(py, future.bind(py), result) {
                e.write_unraisable(py, Some(future.bind(py)));
            }
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "<aep_edge._native.Inbox {} waiting>",
            self.lock().finished.len()
        )
    }
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, InboxState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called on a worker (or on the thread in `close`) when a call ends.
    fn push(inbox: &Py<Inbox>, future: Py<PyAny>, result: aep_edge::Result<Value>) {
        let me = inbox.get();
        let schedule = {
            let mut state = me.lock();
            state.finished.push((future, result));
            !std::mem::replace(&mut state.scheduled, true)
        };
        if !schedule {
            return;
        }
        // None during interpreter shutdown: nobody is left to await the futures.
        Python::try_attach(|py| {
            let scheduled = (|| -> PyResult<bool> {
                let event_loop = me.loop_ref.call0(py)?;
                if event_loop.is_none(py) {
                    return Ok(false);
                }
                let drain = inbox.getattr(py, "drain")?;
                event_loop.call_method1(py, "call_soon_threadsafe", (drain,))?;
                Ok(true)
            })();
            if !matches!(scheduled, Ok(true)) {
                // The loop is closed or gone: nothing awaits these futures any more.
                let abandoned = {
                    let mut state = me.lock();
                    state.scheduled = false;
                    std::mem::take(&mut state.finished)
                };
                drop(abandoned);
            }
        });
    }
}

fn complete(
    py: Python<'_>,
    future: &Bound<'_, PyAny>,
    result: aep_edge::Result<Value>,
) -> PyResult<()> {
    if future.call_method0("done")?.is_truthy()? {
        return Ok(());
    }
    match result {
        Ok(value) => future.call_method1("set_result", (NativeResult::new(value),))?,
        Err(e) => {
            let error = PyErr::from(CoreError(e));
            future.call_method1("set_exception", (error.into_value(py),))?
        }
    };
    Ok(())
}

/// Starts a call on the client's workers and returns its id.
///
/// `endpoint` is "interact", "collect" or "consent". A request the blocking
/// call would refuse before sending raises here, at once. When the call ends
/// (also when `close` ends it before it started: `ClientClosedError`), its
/// result or exception completes `future` on the loop of `inbox`.
#[pyfunction]
pub fn start_call(
    py: Python<'_>,
    client: &NativeClient,
    endpoint: &str,
    request: &Bound<'_, PyAny>,
    inbox: Py<Inbox>,
    future: Py<PyAny>,
) -> PyResult<u64> {
    let endpoint = match endpoint {
        "interact" => Endpoint::Interact,
        "collect" => Endpoint::Collect,
        "consent" => Endpoint::Consent,
        other => {
            return Err(PyValueError::new_err(format!(
                "endpoint must be \"interact\", \"collect\" or \"consent\", not {other:?}"
            )))
        }
    };
    let value = request_value(request)?;
    let completion = Completion::Callback(Box::new(move |_id, result| {
        Inbox::push(&inbox, future, result)
    }));
    // A submit may log, and the log callback takes the GIL: release it.
    let id = py
        .detach(|| client.workers.submit(endpoint, value, completion))
        .map_err(CoreError)?;
    Ok(id)
}

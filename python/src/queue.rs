//! `NativeQueue`: the durable event queue of a `NativeClient` (design.md §3.7,
//! §4.1). The Pythonic face (`send`, `flush`, `stats`, `on_outcome=`) is
//! `aep_edge/_client.py`; this layer converts JSON and releases the GIL for
//! every wait.

use crate::convert;
use crate::errors::CoreError;
use crate::{request_value, NativeClient};
use aep_edge::Queue;
use pyo3::prelude::*;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One client's queue. `in_memory=True` ignores `queue.path`: what a client
/// reopened in a forked child gets, because the file stays the parent's.
#[pyclass(frozen, module = "aep_edge._native")]
pub struct NativeQueue {
    /// Always `Some` until drop, which takes it to drop it without the GIL.
    queue: Option<Queue>,
}

impl NativeQueue {
    fn queue(&self) -> &Queue {
        self.queue.as_ref().expect("taken only by drop")
    }
}

impl Drop for NativeQueue {
    fn drop(&mut self) {
        // Dropping waits for an outcome callback running on the dispatcher,
        // which may be waiting for the GIL this thread holds: release it.
        let queue = self.queue.take();
        let mut queue = Some(queue);
        Python::try_attach(|py| {
            let queue = queue.take();
            py.detach(move || drop(queue));
        });
        drop(queue);
    }
}

#[pymethods]
impl NativeQueue {
    #[new]
    #[pyo3(signature = (client, in_memory = false))]
    fn new(py: Python<'_>, client: &NativeClient, in_memory: bool) -> PyResult<Self> {
        let client = client.client.clone();
        let queue = py
            .detach(move || {
                if in_memory {
                    Queue::open_in_memory(client)
                } else {
                    Queue::open(client)
                }
            })
            .map_err(CoreError)?;
        Ok(NativeQueue { queue: Some(queue) })
    }

    /// Stores one event (`{"event", "meta"?, "options"?}`); returns its id.
    fn send(&self, py: Python<'_>, request: &Bound<'_, PyAny>) -> PyResult<String> {
        let value = request_value(request)?;
        let result = py
            .detach(|| self.queue().send_event(value))
            .map_err(CoreError)?;
        Ok(result["eventId"].as_str().unwrap_or_default().to_string())
    }

    /// Waits up to `timeout` seconds for the queue to empty: `(emptied, stats)`.
    /// Other failures (a closed client) raise.
    fn flush<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<(bool, Bound<'py, PyAny>)> {
        let limit = seconds("timeout", timeout)?;
        let outcome = py.detach(|| self.queue().flush(limit));
        match outcome {
            Ok(stats) => Ok((true, convert::to_python(py, &stats)?)),
            Err((e, stats)) if e.kind == aep_edge::ErrorKind::Timeout => {
                Ok((false, convert::to_python(py, &stats)?))
            }
            Err((e, _)) => Err(CoreError(e).into()),
        }
    }

    /// The counters of `aep_edge_stats`, as a dict.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stats = py.detach(|| self.queue().stats());
        convert::to_python(py, &stats)
    }

    /// Installs `callback(outcome: dict)` (run on the dispatcher thread with
    /// the GIL); `None` removes it.
    fn set_outcome_callback(&self, py: Python<'_>, callback: Option<Py<PyAny>>) {
        let sink = callback.map(|callback| {
            Arc::new(move |outcome: &Value| {
                // Not during interpreter shutdown, and never raising into the core.
                Python::try_attach(|py| {
                    let delivered = convert::to_python(py, outcome)
                        .and_then(|dict| callback.call1(py, (dict,)));
                    if let Err(e) = delivered {
                        e.write_unraisable(py, None);
                    }
                });
            }) as aep_edge::OutcomeFn
        });
        // Waits for a running callback, which may be waiting for the GIL.
        py.detach(|| self.queue().set_outcome_callback(sink));
    }

    /// Stops accepting, delivers until `timeout` seconds pass, keeps the rest
    /// stored: `(undelivered, in_flight, stats)`.
    fn close<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<(u64, u64, Bound<'py, PyAny>)> {
        let limit = seconds("timeout", timeout)?;
        let report = py.detach(|| self.queue().close(Instant::now() + limit));
        Ok((
            report.undelivered,
            report.in_flight,
            convert::to_python(py, &report.stats)?,
        ))
    }

    fn __repr__(&self) -> String {
        "<aep_edge._native.NativeQueue>".to_string()
    }
}

fn seconds(name: &str, value: f64) -> PyResult<Duration> {
    if value.is_finite() && value >= 0.0 {
        Ok(Duration::from_secs_f64(value.min(365.0 * 24.0 * 3600.0)))
    } else {
        Err(pyo3::exceptions::PyValueError::new_err(format!(
            "{name} must be a finite number of seconds >= 0"
        )))
    }
}

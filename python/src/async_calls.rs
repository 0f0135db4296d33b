//! Native asyncio (design.md §4.1): `interact_async` and friends run on the
//! core's worker threads (`aep_edge::workers`), not on a Python thread pool.
//! A worker completes the call's `asyncio.Future` through
//! `loop.call_soon_threadsafe`, so the future is only touched on its loop.

use crate::errors::CoreError;
use crate::{request_value, Json, NativeClient};
use aep_edge::request::Endpoint;
use aep_edge::workers::Completion;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Starts a call on the client's workers and returns its id.
///
/// `endpoint` is "interact", "collect" or "consent". A request the blocking
/// call would refuse before sending raises here, at once. When the call ends
/// (also when `close` ends it before it started: `ClientClosedError`), the
/// worker runs `event_loop.call_soon_threadsafe(resolve, future, error, value)`
/// where `error` is the `aep_edge` exception or `None`, and `value` the result
/// as a `Json` or `None`. `resolve` leaves a future that is already done
/// (cancelled) alone: cancelling abandons the result.
#[pyfunction]
pub fn start_call(
    py: Python<'_>,
    client: &NativeClient,
    endpoint: &str,
    request: &Bound<'_, PyAny>,
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
    resolve: Py<PyAny>,
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
        // None during interpreter shutdown: nobody is left to await the future.
        Python::try_attach(|py| {
            let (error, value) = match result {
                Ok(value) => match Py::new(py, Json { value }) {
                    Ok(json) => (py.None(), json.into_any()),
                    Err(e) => (e.into_value(py).into_any(), py.None()),
                },
                Err(e) => (
                    PyErr::from(CoreError(e)).into_value(py).into_any(),
                    py.None(),
                ),
            };
            // Fails only when the loop is closed: then nothing awaits the future.
            let _ = event_loop.call_method1(
                py,
                "call_soon_threadsafe",
                (resolve, future, error, value),
            );
        });
    }));
    // The workers' locks are never held while waiting for the GIL, but a
    // submit may log, and the log callback takes the GIL: release it.
    let id = py
        .detach(|| client.workers.submit(endpoint, value, completion))
        .map_err(CoreError)?;
    Ok(id)
}

//! `NativeResult`: a call's result JSON (design.md §3.3) kept in Rust until
//! Python reads it.
//!
//! Most callers read a scalar or two (`r.status`, `r.request_id`) and drop
//! the response: building the whole result as dicts and lists, and freeing
//! them again, cost more than the rest of the binding together. So the
//! Python response object holds this, reads scalars straight from the
//! parsed JSON, and asks for `raw()` (built once, then the same dict every
//! time) only when something needs the dicts themselves.

use crate::convert;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use serde_json::Value;

#[pyclass(frozen, module = "aep_edge._native")]
pub struct NativeResult {
    value: Value,
    /// `raw()`'s dict, built at the first call.
    raw: PyOnceLock<Py<PyAny>>,
}

impl NativeResult {
    pub fn new(value: Value) -> NativeResult {
        NativeResult {
            value,
            raw: PyOnceLock::new(),
        }
    }
}

/// A JSON scalar as Python (`None` for what is not a scalar).
fn scalar<'py>(py: Python<'py>, value: Option<&Value>) -> PyResult<Bound<'py, PyAny>> {
    match value {
        Some(v @ (Value::Bool(_) | Value::Number(_) | Value::String(_))) => {
            convert::to_python(py, v)
        }
        _ => Ok(py.None().into_bound(py)),
    }
}

#[pymethods]
impl NativeResult {
    /// The whole result as plain Python objects; the same dict at every call.
    fn raw(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let raw = self.raw.get_or_try_init(py, || {
            Ok::<_, PyErr>(convert::to_python(py, &self.value)?.unbind())
        })?;
        Ok(raw.clone_ref(py))
    }

    /// The scalar at `key` of the result (`None` when absent or not a scalar).
    fn top<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        scalar(py, self.value.get(key))
    }

    /// The scalar at `key` of the result's `client` facts (`None` when
    /// absent or not a scalar).
    fn fact<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        let facts = self.value.get("client").filter(|c| c.is_object());
        scalar(py, facts.and_then(|c| c.get(key)))
    }

    /// `client.httpStatus` (0 when absent): what nearly every caller reads.
    fn http_status(&self) -> u64 {
        self.value
            .get("client")
            .and_then(|facts| facts.get("httpStatus"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    fn __repr__(&self) -> String {
        "<aep_edge._native.NativeResult>".to_string()
    }
}

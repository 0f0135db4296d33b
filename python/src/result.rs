//! `NativeResult`: a call's result JSON (design.md §3.3) kept in Rust until
//! Python reads it.
//!
//! Most callers read a scalar or two (`r.status`, `r.request_id`) and drop
//! the response: building the whole result as dicts and lists, and freeing
//! them again, cost more than the rest of the binding together. A blocking
//! call keeps the result *text* the core wrote, with the scalar `client`
//! facts the core knew when writing it (`ResultFacts`): `status`,
//! `attempts`, `region`, `elapsed` and the request id sent need no parse.
//! The text is parsed once, at the first read of anything else, and `raw()`
//! (built once, then the same dict every time) only when something needs the
//! dicts themselves.

use crate::convert;
use aep_edge::ResultFacts;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;
use serde_json::Value;
use std::sync::OnceLock;

#[pyclass(frozen, module = "aep_edge._native")]
pub struct NativeResult {
    /// The result text (empty for a result given as a Value).
    text: String,
    /// The scalar `client` facts, exactly as `text` states them.
    facts: Option<ResultFacts>,
    /// The result, parsed from `text` at the first need.
    value: OnceLock<Value>,
    /// `raw()`'s dict, built at the first call.
    raw: PyOnceLock<Py<PyAny>>,
}

impl NativeResult {
    pub fn new(value: Value) -> NativeResult {
        NativeResult {
            text: String::new(),
            facts: None,
            value: OnceLock::from(value),
            raw: PyOnceLock::new(),
        }
    }

    pub fn from_text(text: String, facts: ResultFacts) -> NativeResult {
        NativeResult {
            text,
            facts: Some(facts),
            value: OnceLock::new(),
            raw: PyOnceLock::new(),
        }
    }

    fn value(&self) -> &Value {
        self.value.get_or_init(|| {
            // The core wrote the text from a Value or checked it as JSON.
            serde_json::from_str(&self.text).unwrap_or(Value::Null)
        })
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

/// The fact at `key` from the core's facts, or `None` for a key they lack.
fn known_fact<'py>(
    py: Python<'py>,
    facts: &ResultFacts,
    key: &str,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok(Some(match key {
        "httpStatus" => facts.http_status.into_pyobject(py)?.into_any(),
        "attempts" => facts.attempts.into_pyobject(py)?.into_any(),
        "requestId" => PyString::new(py, &facts.request_id).into_any(),
        "region" => match &facts.region {
            Some(region) => PyString::new(py, region).into_any(),
            None => py.None().into_bound(py),
        },
        "elapsedMs" => facts.elapsed_ms.into_pyobject(py)?.into_any(),
        _ => return Ok(None),
    }))
}

#[pymethods]
impl NativeResult {
    /// The whole result as plain Python objects; the same dict at every call.
    fn raw(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let raw = self.raw.get_or_try_init(py, || {
            Ok::<_, PyErr>(convert::to_python(py, self.value())?.unbind())
        })?;
        Ok(raw.clone_ref(py))
    }

    /// The scalar at `key` of the result (`None` when absent or not a scalar).
    fn top<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        scalar(py, self.value().get(key))
    }

    /// The scalar at `key` of the result's `client` facts (`None` when
    /// absent or not a scalar).
    fn fact<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        if let Some(facts) = &self.facts {
            if let Some(fact) = known_fact(py, facts, key)? {
                return Ok(fact);
            }
        }
        let facts = self.value().get("client").filter(|c| c.is_object());
        scalar(py, facts.and_then(|c| c.get(key)))
    }

    /// `client.httpStatus` (0 when absent): what nearly every caller reads.
    pub(crate) fn http_status(&self) -> u64 {
        if let Some(facts) = &self.facts {
            return u64::from(facts.http_status);
        }
        self.value()
            .get("client")
            .and_then(|facts| facts.get("httpStatus"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    fn __repr__(&self) -> String {
        "<aep_edge._native.NativeResult>".to_string()
    }
}

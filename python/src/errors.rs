//! The one place where a core error becomes a Python exception.
//!
//! The exception tree is defined in Python (`aep_edge/_errors.py`, where it
//! is easy to pickle); this module hands it the error JSON of design.md §3.3
//! and raises what `aep_edge._errors._from_native` builds.

use crate::convert::to_python;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// A core error on its way to Python: `?` on `Result<_, CoreError>` raises
/// the matching `aep_edge` exception.
pub struct CoreError(pub aep_edge::Error);

impl From<aep_edge::Error> for CoreError {
    fn from(e: aep_edge::Error) -> CoreError {
        CoreError(e)
    }
}

static FROM_NATIVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

impl From<CoreError> for PyErr {
    fn from(error: CoreError) -> PyErr {
        Python::attach(|py| build(py, &error.0).unwrap_or_else(|failure| failure))
    }
}

fn build(py: Python<'_>, error: &aep_edge::Error) -> PyResult<PyErr> {
    let from_native = FROM_NATIVE.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py
            .import("aep_edge._errors")?
            .getattr("_from_native")?
            .unbind())
    })?;
    let body = error.to_json();
    let fields = to_python(py, &body["error"])?;
    let exception = from_native.bind(py).call1((fields,))?;
    Ok(PyErr::from_value(exception))
}

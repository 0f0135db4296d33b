//! `EdgeClient.interact(event)` without keywords, end to end in Rust: the
//! call nearly every caller makes, without the Python steps around it.
//!
//! It does what the Python path of `EdgeClient.interact` does for a request
//! `{"event": event}` (`aep_edge/_client.py`), step for step: refuses the C
//! request shape given as the event (`_client._event`), keeps the log level
//! in step (`level_cache.get(LEVEL_KEY) != log.installed` → `log.sync()`),
//! sends with the GIL released, rewrites the message of an `EdgeError` or
//! `TypeError` into Python's words (`client._words.apply`), and returns an
//! `InteractResponse` over the result still in Rust (`_raw = None`,
//! `_result = NativeResult`), as `_types._response` builds it, with its
//! status in `_status`.

use crate::result::NativeResult;
use crate::NativeClient;
use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple, PyType};

/// The Python objects the call uses, looked up once (the first call imports
/// nothing new: `aep_edge._client` imported this module's callers).
struct Helpers {
    /// `aep_edge._client._event`: raises for the C request shape.
    check_event: Py<PyAny>,
    /// `aep_edge._logging.level_cache` and `LEVEL_KEY`.
    level_cache: Py<PyDict>,
    level_key: Py<PyString>,
    /// `aep_edge.InteractResponse`.
    response_type: Py<PyType>,
    /// `(EdgeError, TypeError)`: the errors whose message names request keys.
    worded: Py<PyTuple>,
    /// `()`, for the response type's `tp_new`.
    no_args: Py<PyTuple>,
}

static HELPERS: PyOnceLock<Helpers> = PyOnceLock::new();

fn helpers(py: Python<'_>) -> PyResult<&Helpers> {
    HELPERS.get_or_try_init(py, || {
        let client = py.import("aep_edge._client")?;
        let logging = py.import("aep_edge._logging")?;
        let edge_error = py.import("aep_edge._errors")?.getattr("EdgeError")?;
        Ok(Helpers {
            check_event: client.getattr("_event")?.unbind(),
            level_cache: logging.getattr("level_cache")?.cast_into()?.unbind(),
            level_key: logging.getattr("LEVEL_KEY")?.cast_into()?.unbind(),
            response_type: py
                .import("aep_edge._types")?
                .getattr("InteractResponse")?
                .cast_into()?
                .unbind(),
            worded: PyTuple::new(py, [edge_error, py.get_type::<PyTypeError>().into_any()])?
                .unbind(),
            no_args: PyTuple::empty(py).unbind(),
        })
    })
}

/// `EdgeClient.interact(event)` with no keyword given: `client` is the
/// `EdgeClient`, `native` its `_native`, `installed` its `_log.installed`
/// (read by the caller: an attribute read costs less in Python).
#[pyfunction]
pub fn plain_interact<'py>(
    py: Python<'py>,
    client: &Bound<'py, PyAny>,
    native: &Bound<'py, NativeClient>,
    installed: &Bound<'py, PyAny>,
    event: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let helpers = helpers(py)?;
    let plain_dict = event
        .cast_exact::<PyDict>()
        .is_ok_and(|dict| !matches!(dict.contains(pyo3::intern!(py, "event")), Ok(true)));
    if !plain_dict {
        helpers
            .check_event
            .call1(py, (event, pyo3::intern!(py, "interact()")))?;
    }
    let out_of_step = match helpers
        .level_cache
        .bind(py)
        .get_item(helpers.level_key.bind(py))?
    {
        // Levels are small ints, one object each: `is` answers at once.
        Some(level) => !level.is(installed) && level.ne(installed)?,
        None => !installed.is_none(), // `None != installed`
    };
    if out_of_step {
        client
            .getattr(pyo3::intern!(py, "_log"))?
            .call_method0(pyo3::intern!(py, "sync"))?;
    }
    let sent = native.get().interact_event(py, event);
    let result = match sent {
        Ok(result) => result,
        Err(error) => return Err(in_python_words(py, helpers, client, event, error)),
    };
    response(py, helpers, result)
}

/// `client._words.apply(error, {"event": event})` for the errors it
/// rewrites; the same exception is raised.
fn in_python_words(
    py: Python<'_>,
    helpers: &Helpers,
    client: &Bound<'_, PyAny>,
    event: &Bound<'_, PyAny>,
    error: PyErr,
) -> PyErr {
    let value = error.value(py);
    match value.is_instance(helpers.worded.bind(py).as_any()) {
        Ok(true) => {}
        Ok(false) => return error,
        Err(failure) => return failure,
    }
    let applied = (|| -> PyResult<()> {
        let request = PyDict::new(py);
        request.set_item(pyo3::intern!(py, "event"), event)?;
        client
            .getattr(pyo3::intern!(py, "_words"))?
            .call_method1(pyo3::intern!(py, "apply"), (value, request))?;
        Ok(())
    })();
    match applied {
        Ok(()) => error,
        Err(failure) => failure,
    }
}

/// `object.__new__(InteractResponse)` with `_raw = None`, `_result = result`
/// and `_status` its HTTP status (known without a parse: `.status`, what
/// nearly every caller reads, is then a slot read).
fn response<'py>(
    py: Python<'py>,
    helpers: &Helpers,
    result: NativeResult,
) -> PyResult<Bound<'py, PyAny>> {
    let cls = helpers.response_type.bind(py);
    // What `object.__new__(cls)` runs: the type's tp_new with no arguments.
    // SAFETY: `cls` is a live type (a heap type: PyType_GetSlot may read it on
    // 3.9); its tp_new slot is called as CPython does, with a tuple of
    // arguments and no keywords, and returns a new reference or NULL with
    // an exception set.
    let response = unsafe {
        let slot = ffi::PyType_GetSlot(cls.as_type_ptr(), ffi::Py_tp_new);
        if slot.is_null() {
            return Err(PyTypeError::new_err(
                "InteractResponse cannot be instantiated",
            ));
        }
        let tp_new: ffi::newfunc = std::mem::transmute(slot);
        let object = tp_new(
            cls.as_type_ptr(),
            helpers.no_args.as_ptr(),
            std::ptr::null_mut(),
        );
        Bound::from_owned_ptr_or_err(py, object)?
    };
    let status = result.http_status();
    response.setattr(pyo3::intern!(py, "_raw"), py.None())?;
    response.setattr(pyo3::intern!(py, "_result"), Bound::new(py, result)?)?;
    response.setattr(pyo3::intern!(py, "_status"), status)?;
    Ok(response)
}

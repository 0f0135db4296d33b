//! `aep_edge._native`: the pyo3 layer over the `aep-edge` core.
//!
//! Kept small on purpose: strict JSON conversion, one error mapping, and a
//! client whose every network wait runs with the GIL released. The Pythonic
//! API (keywords, typed results, asyncio, fork handling) is written in Python
//! in `aep_edge/`.

// The core's error is a flat struct on the cold path (as in the core itself).
#![allow(clippy::result_large_err)]

mod async_calls;
mod convert;
mod errors;
mod event_body;
mod key_cache;
mod plain_call;
mod queue;
mod result;
mod testing;

use aep_edge::workers::Workers;
use aep_edge::{Client, Config, Error, ErrorKind, Level, ResultFacts};
use errors::CoreError;
use event_body::EventRequest;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use result::NativeResult;
use serde_json::Value;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A request already converted to JSON (owned Rust data): what the async
/// methods hand to their executor, so that the conversion and its
/// `TypeError` happen in the caller's thread.
#[pyclass(frozen, module = "aep_edge._native")]
struct Json {
    value: Value,
}

#[pymethods]
impl Json {
    fn __repr__(&self) -> String {
        "<aep_edge._native.Json>".to_string()
    }

    /// The JSON as Python objects.
    fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_python(py, &self.value)
    }
}

/// Converts `obj` strictly to JSON (`TypeError` naming the path of a value
/// JSON cannot hold); `root` starts the path.
#[pyfunction]
#[pyo3(signature = (obj, root = ""))]
fn to_json(obj: &Bound<'_, PyAny>, root: &str) -> PyResult<Json> {
    Ok(Json {
        value: convert::to_value(obj, root)?,
    })
}

/// Takes a request given as a `Json` or as Python objects.
fn request_value(request: &Bound<'_, PyAny>) -> PyResult<Value> {
    match request.cast::<Json>() {
        Ok(json) => Ok(json.get().value.clone()),
        Err(_) => convert::to_value(request, ""),
    }
}

/// One core client. Immutable but for its poison flag: after `fork()` the
/// Python layer swaps it for `reopen()`'s result.
#[pyclass(frozen, module = "aep_edge._native")]
struct NativeClient {
    client: Client,
    /// Set when a panic escaped the core on this client: every later call
    /// raises `InternalError` at once (as the C ABI's boundary does).
    poisoned: AtomicBool,
    /// The async calls (`async_calls.rs`); threads start at the first one.
    workers: Workers,
}

#[pymethods]
impl NativeClient {
    /// Validates the config (the C config's keys) and builds the client; no
    /// network I/O. Loading the state file may wait on its lock: the GIL is
    /// released meanwhile.
    #[new]
    fn new(py: Python<'_>, config: &Bound<'_, PyAny>) -> PyResult<Self> {
        let value = convert::to_value(config, "config")?;
        let config = Config::from_value(&value).map_err(CoreError)?;
        let client = py
            .detach(move || guarded("client_new", move || Client::new(config)))
            .map_err(CoreError)?;
        Ok(NativeClient::from(client))
    }

    /// POST /ee/v2/interact; returns the result of design.md §3.3.
    fn interact(&self, py: Python<'_>, request: &Bound<'_, PyAny>) -> PyResult<NativeResult> {
        self.send(py, request, "interact", Client::interact_json_text_facts)
    }

    /// POST /ee/v2/collect; returns the result.
    fn collect(&self, py: Python<'_>, request: &Bound<'_, PyAny>) -> PyResult<NativeResult> {
        self.send(py, request, "collect", Client::collect_json_text_facts)
    }

    /// POST /ee/v1/privacy/set-consent; returns the result.
    fn set_consent(&self, py: Python<'_>, request: &Bound<'_, PyAny>) -> PyResult<NativeResult> {
        self.send(
            py,
            request,
            "set_consent",
            Client::set_consent_json_text_facts,
        )
    }

    /// The session as a dict (`ecid`, `locationHint`, `consent`, `entries` ...).
    fn session<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client.clone();
        let view = self.run(py, "session", move || Ok(client.session()))?;
        convert::to_python(py, &view)
    }

    /// Forgets the visitor: state, location hint, ECID, consent, state file.
    fn reset_session(&self, py: Python<'_>) -> PyResult<()> {
        let client = self.client.clone();
        self.run(py, "reset_session", move || client.reset_session())
    }

    /// Replaces the access token of `token` auth for the calls that follow.
    fn set_access_token(&self, py: Python<'_>, token: &str) -> PyResult<()> {
        let client = self.client.clone();
        let token = token.to_string();
        self.run(py, "set_access_token", move || {
            client.set_access_token(&token)
        })
    }

    /// Refuses new calls and waits up to `timeout` seconds (`None`: until
    /// they end) for calls in flight. Returns `(in_flight, waited_seconds)`.
    #[pyo3(signature = (timeout = None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<(usize, f64)> {
        let limit = match timeout {
            None => Duration::from_secs(365 * 24 * 3600),
            Some(t) if t.is_finite() && t >= 0.0 => {
                Duration::from_secs_f64(t.min(365.0 * 24.0 * 3600.0))
            }
            Some(_) => {
                return Err(pyo3::exceptions::PyValueError::new_err(
                    "timeout must be a finite number of seconds >= 0, or None",
                ))
            }
        };
        // Even a poisoned client closes: it waits for its calls in flight.
        // Queued async calls end with ClientClosedError; their completions
        // take the GIL on this thread: release it.
        let report = py
            .detach(|| guarded("close", || Ok(self.workers.close(limit))))
            .map_err(CoreError)?;
        Ok((report.in_flight, report.waited.as_secs_f64()))
    }

    fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Whether a panic escaped the core on this client (it is then unusable).
    fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// A fresh client with the same config and log callback (for a child
    /// after `fork()`: no inherited connections or locks).
    fn reopen(&self, py: Python<'_>) -> PyResult<NativeClient> {
        let client = self.client.clone();
        let fresh = self.run(py, "reopen", move || client.reopen())?;
        Ok(NativeClient::from(fresh))
    }

    /// Installs `callback(level: int, message: str, request_id: str | None)`
    /// for log lines whose level (1 error … 5 trace) is at most `min_level`;
    /// `None` removes it. `request_id` is the id of the blocking call the
    /// line was logged in, on that call's thread.
    #[pyo3(signature = (min_level, callback))]
    fn set_logger(&self, py: Python<'_>, min_level: u32, callback: Option<Py<PyAny>>) {
        let sink: Option<aep_edge::LogFn> = callback.map(|callback| {
            let sink: aep_edge::LogFn = Arc::new(move |level: Level, message: &str| {
                // Not during interpreter shutdown, and never raising into the core.
                Python::try_attach(|py| {
                    // Copied out: the callback may itself make a call (and tag it).
                    let request_id = CALL_REQUEST_ID
                        .with(|id| id.borrow().as_ref().map(|id| id.as_str().to_owned()));
                    if let Err(e) = callback.call1(py, (level as u32, message, request_id)) {
                        e.write_unraisable(py, None);
                    }
                });
            });
            sink
        });
        let client = self.client.clone();
        // set_logger waits for threads inside the previous callback, which may
        // be waiting for the GIL: release it.
        py.detach(move || client.set_logger(min_level, sink));
    }

    fn __repr__(&self) -> String {
        let config = self.client.config();
        format!(
            "<aep_edge._native.NativeClient datastream_id={:?} origin={:?} closed={}>",
            config.datastream_id,
            config.origin.url(),
            self.client.is_closed()
        )
    }
}

impl From<Client> for NativeClient {
    fn from(client: Client) -> NativeClient {
        NativeClient {
            workers: Workers::new(client.clone()),
            client,
            poisoned: AtomicBool::new(false),
        }
    }
}

/// A core call from request text (and the id chosen for it, if any) to the
/// result text and its scalar facts: `Client::interact_json_text_facts` ...
type TextCall = fn(&Client, &str, Option<String>) -> aep_edge::Result<(String, ResultFacts)>;

impl NativeClient {
    /// Writes the request as JSON text, waits for the core's text path with
    /// the GIL released, and returns the result text with its scalar facts,
    /// still in Rust (or raises the mapped exception).
    fn send(
        &self,
        py: Python<'_>,
        request: &Bound<'_, PyAny>,
        name: &'static str,
        call: TextCall,
    ) -> PyResult<NativeResult> {
        let RequestText { text, tag, new_id } = RequestText::new(request)?;
        self.tagged(py, name, tag, move |client| call(client, &text, new_id))
    }

    /// `interact(event)` with no options (a new id): the body written
    /// straight from the event where `event_body` can, else its text.
    fn interact_event(&self, py: Python<'_>, event: &Bound<'_, PyAny>) -> PyResult<NativeResult> {
        let request = event_body::event_request(event)?;
        let (tag, new_id) = ids_of(Named::Nothing);
        self.tagged(py, "interact", tag, move |client| match request {
            EventRequest::Body(body) => {
                client.interact_event_body_facts(body.text.into_bytes(), body.own_identity, new_id)
            }
            EventRequest::Text(text) => client.interact_json_text_facts(&text, new_id),
        })
    }

    /// Runs a text call with its log lines tagged by `tag`, and keeps its
    /// result in Rust.
    fn tagged(
        &self,
        py: Python<'_>,
        name: &'static str,
        tag: Option<TagId>,
        call: impl FnOnce(&Client) -> aep_edge::Result<(String, ResultFacts)> + Send,
    ) -> PyResult<NativeResult> {
        let _tag = CallTag::new(tag);
        let client = &self.client;
        let (result, facts) = self.run(py, name, move || call(client))?;
        Ok(NativeResult::from_text(result, facts))
    }

    /// Runs `work` in the core with the GIL released, refusing it at once on a
    /// poisoned client and poisoning the client when it panics.
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        name: &'static str,
        work: impl FnOnce() -> aep_edge::Result<T> + Send,
    ) -> PyResult<T> {
        if self.is_poisoned() {
            return Err(CoreError(Error::new(
                ErrorKind::Panic,
                "the client is unusable after an internal error; create a new one",
            ))
            .into());
        }
        let result = py.detach(move || guarded(name, work));
        if matches!(&result, Err(e) if e.kind == ErrorKind::Panic) {
            self.poisoned.store(true, Ordering::Release);
        }
        Ok(result.map_err(CoreError)?)
    }
}

thread_local! {
    /// The request id of the blocking call running on this thread: the log
    /// callback hands it to Python with each line (records carry it).
    static CALL_REQUEST_ID: RefCell<Option<TagId>> = const { RefCell::new(None) };
}

/// A call's request id as its log tag keeps it: a new UUID inline (the core
/// gets the `String`: no copy on the heap per call), a given id as it is.
enum TagId {
    Uuid([u8; 36]),
    Given(String),
}

impl TagId {
    fn new(id: &str) -> TagId {
        match <[u8; 36]>::try_from(id.as_bytes()) {
            Ok(bytes) if id.is_ascii() => TagId::Uuid(bytes),
            _ => TagId::Given(id.to_owned()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // ASCII, from a str (checked in `new`).
            TagId::Uuid(bytes) => std::str::from_utf8(bytes).unwrap_or_default(),
            TagId::Given(id) => id,
        }
    }
}

/// Sets this thread's call request id for its lifetime, then restores the
/// previous one (a log handler may itself make a call).
struct CallTag {
    previous: Option<TagId>,
}

impl CallTag {
    fn new(request_id: Option<TagId>) -> CallTag {
        let previous = CALL_REQUEST_ID.with(|id| id.replace(request_id));
        CallTag { previous }
    }
}

impl Drop for CallTag {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CALL_REQUEST_ID.with(|id| *id.borrow_mut() = previous);
    }
}

/// A blocking call's request as JSON text, with the request id it will
/// send: `tag` (its log lines carry it; `None` for a request the core will
/// refuse anyway: `options` or `options.requestId` of the wrong type) and
/// `new_id`, the id chosen here for a request that names none, which the
/// core sends (so it neither picks another nor parses it back out of the
/// text). A request dict is written straight from the Python objects; the
/// rare rest (a `Json`, a Mapping) goes through a `Value`.
struct RequestText {
    text: String,
    tag: Option<TagId>,
    new_id: Option<String>,
}

impl RequestText {
    fn new(request: &Bound<'_, PyAny>) -> PyResult<RequestText> {
        let named = match request.cast::<PyDict>() {
            Ok(dict) => named_in_dict(dict)?,
            Err(_) => None,
        };
        let Some(named) = named else {
            // Not a dict, or its `options` not one (a Mapping, a Json):
            // what the converted request says.
            let value = request_value(request)?;
            let (tag, new_id) = ids_of(named_request_id(&value));
            return Ok(RequestText {
                text: value.to_string(),
                tag,
                new_id,
            });
        };
        let mut text = String::with_capacity(512);
        convert::to_text(request, "", &mut text)?;
        let (tag, new_id) = ids_of(named);
        Ok(RequestText { text, tag, new_id })
    }
}

/// What a request dict names as its id, as [`named_request_id`] reads the
/// converted request; `None` when only the converted request can tell
/// (`options` given as something other than a dict).
fn named_in_dict(dict: &Bound<'_, PyDict>) -> PyResult<Option<Named>> {
    let py = dict.py();
    Ok(Some(match dict.get_item(pyo3::intern!(py, "options"))? {
        None => Named::Nothing,
        Some(options) if options.is_none() => Named::Nothing,
        Some(options) => {
            let Ok(options) = options.cast::<PyDict>() else {
                return Ok(None);
            };
            match options.get_item(pyo3::intern!(py, "requestId"))? {
                None => Named::Nothing,
                Some(id) => match id.cast::<PyString>() {
                    Ok(id) => Named::Id(id.to_string()),
                    Err(_) => Named::Invalid,
                },
            }
        }
    }))
}

/// What a request says of its id (`options.requestId`).
enum Named {
    Id(String),
    /// None: the call sends a new one.
    Nothing,
    /// Not a string, or `options` not an object: the core refuses the call.
    Invalid,
}

/// The log tag and the new id to hand to the core, for what a request names.
fn ids_of(named: Named) -> (Option<TagId>, Option<String>) {
    match named {
        Named::Id(id) => (Some(TagId::Given(id)), None),
        Named::Invalid => (None, None),
        Named::Nothing => {
            let id = aep_edge::uuid_v4();
            (Some(TagId::new(&id)), Some(id))
        }
    }
}

/// [`Named`] for a request given as a `Value`.
fn named_request_id(request: &Value) -> Named {
    let Value::Object(request) = request else {
        return Named::Invalid;
    };
    match request.get("options") {
        None | Some(Value::Null) => Named::Nothing,
        Some(Value::Object(options)) => match options.get("requestId") {
            None => Named::Nothing,
            Some(Value::String(id)) => Named::Id(id.clone()),
            Some(_) => Named::Invalid,
        },
        Some(_) => Named::Invalid,
    }
}

/// Runs `work`, turning a panic into an error of kind `panic` (raised as
/// `aep_edge.InternalError`, never `pyo3_runtime.PanicException`).
fn guarded<T>(
    name: &'static str,
    work: impl FnOnce() -> aep_edge::Result<T>,
) -> aep_edge::Result<T> {
    match catch_unwind(AssertUnwindSafe(|| {
        test_panic_hook(name);
        work()
    })) {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Error::new(
                ErrorKind::Panic,
                format!(
                    "internal error in {name}: {what}; the client is unusable, create a new one"
                ),
            ))
        }
    }
}

/// For the tests of the panic path through the real wheel: when the
/// environment variable `AEP_EDGE_TEST_PANIC` names a method (read once, at
/// the first call), that method panics inside the guard.
fn test_panic_hook(name: &str) {
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    let target = TARGET.get_or_init(|| std::env::var("AEP_EDGE_TEST_PANIC").ok());
    if target.as_deref() == Some(name) {
        panic!("test hook AEP_EDGE_TEST_PANIC={name}");
    }
}

/// The proposition display or interaction event of design.md §3.9, from the
/// core: `{"kind", "propositions", "label"?, "tokens"?}` → `{"event": {"xdm": ...}}`.
#[pyfunction]
fn proposition_event<'py>(
    py: Python<'py>,
    request: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let value = convert::to_value(request, "")?;
    let event = aep_edge::propositions::proposition_event(&value).map_err(CoreError)?;
    convert::to_python(py, &event)
}

/// The core's version, `X.Y.Z`.
#[pyfunction]
fn core_version() -> &'static str {
    aep_edge::VERSION
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeClient>()?;
    m.add_class::<Json>()?;
    m.add_class::<NativeResult>()?;
    m.add_class::<testing::NativeEmulator>()?;
    m.add_function(wrap_pyfunction!(event_body::_event_bodies, m)?)?;
    m.add_class::<queue::NativeQueue>()?;
    m.add_class::<async_calls::Inbox>()?;
    m.add_function(wrap_pyfunction!(to_json, m)?)?;
    m.add_function(wrap_pyfunction!(plain_call::plain_interact, m)?)?;
    m.add_function(wrap_pyfunction!(async_calls::start_call, m)?)?;
    m.add_function(wrap_pyfunction!(core_version, m)?)?;
    m.add_function(wrap_pyfunction!(proposition_event, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

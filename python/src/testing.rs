//! `aep_edge._native.NativeEmulator`: the emulator crate run in-process, on
//! its own threads, for `aep_edge.testing.Emulator` (design.md §4.1). Only
//! start and stop live here; the Python side reads recorded requests and
//! injects faults through the emulator's control endpoints, so users see
//! exactly what those endpoints document.

use aep_edge_emulator::{Emulator, Options};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use std::sync::Mutex;

#[pyclass(frozen, module = "aep_edge._native")]
pub struct NativeEmulator {
    url: String,
    running: Mutex<Option<Emulator>>,
}

#[pymethods]
impl NativeEmulator {
    /// Starts an emulator on 127.0.0.1 and a free port. `datastreams` (empty:
    /// any id), `require_auth`, `static_tokens`, `org_id`, `ims_clients`
    /// (`[(client_id, secret)]`), `token_ttl_secs`, `lenient_identity` as the
    /// emulator's options.
    #[new]
    #[pyo3(signature = (*, datastreams = Vec::new(), require_auth = false, static_tokens = Vec::new(), org_id = None, ims_clients = Vec::new(), token_ttl_secs = None, lenient_identity = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        datastreams: Vec<String>,
        require_auth: bool,
        static_tokens: Vec<String>,
        org_id: Option<String>,
        ims_clients: Vec<(String, String)>,
        token_ttl_secs: Option<u64>,
        lenient_identity: bool,
    ) -> PyResult<Self> {
        let mut options = Options {
            datastreams,
            require_auth,
            validate_tokens: require_auth,
            static_tokens,
            ims_clients,
            lenient_identity,
            ..Options::default()
        };
        if let Some(org) = org_id {
            if org.is_empty() {
                return Err(PyValueError::new_err("org_id must not be empty"));
            }
            options.org_id = org;
        }
        if let Some(ttl) = token_ttl_secs {
            options.token_ttl_secs = ttl;
        }
        let emulator = py
            .detach(move || Emulator::start(options))
            .map_err(|e| PyOSError::new_err(format!("the emulator did not start: {e}")))?;
        Ok(NativeEmulator {
            url: emulator.base_url(),
            running: Mutex::new(Some(emulator)),
        })
    }

    /// The base URL, `http://127.0.0.1:<port>`.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// Forgets recorded requests and queued faults.
    fn reset(&self) -> PyResult<()> {
        match &*self.lock() {
            Some(emulator) => {
                emulator.reset();
                Ok(())
            }
            None => Err(PyValueError::new_err("the emulator is stopped")),
        }
    }

    fn is_running(&self) -> bool {
        self.lock().is_some()
    }

    /// Stops accepting, closes connections and joins the emulator's threads
    /// (with the GIL released). Idempotent.
    fn stop(&self, py: Python<'_>) {
        let emulator = self.lock().take();
        if let Some(emulator) = emulator {
            py.detach(move || emulator.shutdown());
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "<aep_edge._native.NativeEmulator url={:?} running={}>",
            self.url,
            self.is_running()
        )
    }
}

impl NativeEmulator {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Emulator>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

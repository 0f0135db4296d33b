//! Test control under `/__emulator/` for tests that cannot call the Rust API (C, C++,
//! Python, shell). Never recorded, never faulted.

use serde_json::{json, Value};

use crate::dispatch::Shared;
use crate::http::{Request, Response};
use crate::{live_view, Fault};

pub(crate) const PREFIX: &str = "/__emulator/";
/// The live view is served at `/__emulator/` and, for a typed address, `/__emulator`.
pub(crate) const LIVE_VIEW: &str = "/__emulator";

pub(crate) fn handle(shared: &Shared, req: &Request) -> Response {
    let name = req.path.strip_prefix(PREFIX).unwrap_or("");
    let expected = match name {
        "" | "health" | "requests" => "GET",
        "faults" | "reset" => "POST",
        _ => return error(404, &format!("no control endpoint {}", req.path)),
    };
    if req.method != expected {
        return error(405, &format!("{} takes {expected}", req.path))
            .with_header("allow", expected);
    }
    match name {
        "" => live_view::page(&shared.recorder),
        "health" => ok(),
        "requests" => {
            // `?since=N`: only the records after sequence number N (the live view polls so).
            let since = match req.query_param("since").map(str::parse::<u64>) {
                None => 0,
                Some(Ok(n)) => n,
                Some(Err(_)) => return error(400, "since must be a sequence number"),
            };
            let list: Vec<Value> = shared
                .recorder
                .since(since)
                .iter()
                .map(|r| r.to_control_json())
                .collect();
            Response::json(200, &Value::Array(list))
        }
        "faults" => {
            let parsed = serde_json::from_slice::<Value>(&req.body)
                .map_err(|e| format!("the body is not JSON: {e}"))
                .and_then(|v| Fault::from_json(&v));
            match parsed {
                Ok(faults) => {
                    let queued = faults.len();
                    for fault in faults {
                        shared.faults.push(fault);
                    }
                    Response::json(200, &json!({"ok": true, "queued": queued}))
                }
                Err(message) => error(400, &message),
            }
        }
        _ => {
            shared.reset();
            ok()
        }
    }
}

fn ok() -> Response {
    Response::json(200, &json!({"ok": true}))
}

fn error(status: u16, message: &str) -> Response {
    Response::json(status, &json!({"ok": false, "error": message}))
}

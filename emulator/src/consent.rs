//! `POST /ee/v1/privacy/set-consent` (edge-api.md §2.6): validates the consent items and
//! answers with the preferences, the consent state entries and the routing hint.

use serde_json::{json, Map, Value};

use crate::edge::{missing_field, Ctx};
use crate::http::Response;
use crate::problem;

const CONSENT_MAX_AGE: u64 = 15_552_000;
const CONSENT_CHECK_MAX_AGE: u64 = 7200;

pub(crate) fn set_consent(ctx: &Ctx, body: &Map<String, Value>) -> Response {
    let Some(items) = body
        .get("consent")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    else {
        return missing_field(ctx, "consent");
    };
    let mut preferences = None;
    for (i, item) in items.iter().enumerate() {
        match preference(ctx, i, item) {
            // Items apply in order, so the last one states the current preferences.
            Ok(p) => preferences = Some(p),
            Err(resp) => return resp,
        }
    }
    let preferences = preferences.unwrap_or_else(|| json!({}));

    let general = match preferences.pointer("/collect/val").and_then(Value::as_str) {
        Some("y") => Some("in"),
        Some("n") => Some("out"),
        _ => None,
    };
    let mut store = Vec::new();
    if let Some(general) = general {
        store.push(json!({
            "key": ctx.state_key("consent"),
            "value": format!("general={general}"),
            "maxAge": CONSENT_MAX_AGE,
        }));
    }
    store.push(json!({"key": ctx.state_key("consent_check"), "value": "1", "maxAge": CONSENT_CHECK_MAX_AGE}));
    store.push(ctx.cluster_entry());

    let handle = json!([
        {"payload": [preferences], "type": "consent:preferences"},
        {"payload": store, "type": "state:store"},
        ctx.location_hint_handle(),
    ]);
    Response::json(200, &json!({"requestId": ctx.request_id, "handle": handle}))
}

/// One consent item as an Adobe 2.0 preferences object, or the error Edge gives for it.
fn preference(ctx: &Ctx, i: usize, item: &Value) -> Result<Value, Response> {
    let field = |name: &str| format!("consent[{i}].{name}");
    let invalid = |detail: String| ctx.problem("EXEG-0102-400", "Invalid field value", &detail);
    let Some(item) = item.as_object() else {
        return Err(invalid(format!("'consent[{i}]' must be an object.")));
    };
    let text = |name: &str| item.get(name).and_then(Value::as_str);
    let Some(standard) = text("standard") else {
        return Err(missing_field(ctx, &field("standard")));
    };
    let Some(version) = text("version") else {
        return Err(missing_field(ctx, &field("version")));
    };
    let value = match item.get("value") {
        None | Some(Value::Null) => return Err(missing_field(ctx, &field("value"))),
        Some(v) => v,
    };
    match (standard, version) {
        ("Adobe", "1.0") => {
            let val = match value.get("general").and_then(Value::as_str) {
                Some("in") => "y",
                Some("out") => "n",
                Some("pending") => "p",
                Some("not_provided") => "u",
                _ => {
                    return Err(invalid(format!(
                        "'{}' must be {{\"general\": \"in\"|\"out\"|\"pending\"|\"not_provided\"}}.",
                        field("value")
                    )))
                }
            };
            Ok(json!({"collect": {"val": val}}))
        }
        ("Adobe", "2.0") => match value {
            Value::Object(_) => Ok(value.clone()),
            _ => Err(invalid(format!("'{}' must be an object.", field("value")))),
        },
        ("IAB TCF", "2.0") => match value {
            Value::String(s) if s.trim().is_empty() => Err(problem::exeg_with_report(
                "EXEG-0104-422",
                "Input validation failed",
                "The request did not pass validation. See report.errors.",
                json!({
                    "requestId": ctx.request_id,
                    "errors": [format!("{}: the IAB TCF consent string must not be empty", field("value"))],
                }),
            )),
            // The emulator does not decode TC strings: a non-empty one means consent given.
            Value::String(_) => Ok(json!({"collect": {"val": "y"}})),
            _ => Err(invalid(format!("'{}' must be an IAB TCF string.", field("value")))),
        },
        _ => Err(invalid(format!(
            "Consent standard '{standard}' version '{version}' is not supported. Use Adobe 1.0, Adobe 2.0 or IAB TCF 2.0."
        ))),
    }
}

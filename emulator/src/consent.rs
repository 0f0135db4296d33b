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
    // Version and value problems are gathered over all items into one 422, as Edge does.
    let mut invalid = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match preference(ctx, i, item) {
            // Items apply in order, so the last one states the current preferences.
            Ok(p) => preferences = Some(p),
            Err(Refusal::Report(message)) => invalid.push(message),
            Err(Refusal::Fatal(resp)) => return resp,
        }
    }
    if !invalid.is_empty() {
        return problem::exeg_with_report(
            "EXEG-0104-422",
            "Unprocessable Entity",
            "Invalid request (report attached). Please check your input and try again.",
            json!({"errors": invalid, "requestId": ctx.request_id, "orgId": ctx.options.org_id}),
        );
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

/// Why a consent item is refused: a message for the 422 report, or an answer of its own.
enum Refusal {
    Report(String),
    Fatal(Response),
}

/// One consent item as an Adobe 2.0 preferences object, or why Edge refuses it: an unknown
/// standard is EXEG-0102-400 and a missing value EXEG-0103-400 (alloy's consent
/// validation test), a wrong version or an empty IAB string goes into EXEG-0104-422's
/// `report.errors` (the wording of Adobe's error-handling page).
fn preference(ctx: &Ctx, i: usize, item: &Value) -> Result<Value, Refusal> {
    let field = |name: &str| format!("consent[{i}].{name}");
    let invalid = |detail: String| {
        Refusal::Fatal(ctx.problem("EXEG-0102-400", "Invalid request field", &detail))
    };
    let missing = |name: &str| Refusal::Fatal(missing_field(ctx, &field(name)));
    let Some(item) = item.as_object() else {
        return Err(invalid(format!("'consent[{i}]' must be an object.")));
    };
    let text = |name: &str| item.get(name).and_then(Value::as_str);
    let Some(standard) = text("standard") else {
        return Err(missing("standard"));
    };
    let Some(version) = text("version") else {
        return Err(missing("version"));
    };
    let allowed = match standard {
        "Adobe" => "Allowed Adobe versions are 1.0 and 2.0",
        "IAB TCF" => "Allowed IAB version is 2.0",
        _ => {
            return Err(invalid(format!(
                "Consent standard '{standard}' at index {i} is not supported. Use 'Adobe' or 'IAB TCF'."
            )))
        }
    };
    if !matches!(
        (standard, version),
        ("Adobe", "1.0" | "2.0") | ("IAB TCF", "2.0")
    ) {
        return Err(Refusal::Report(format!(
            "{allowed} for standard '{standard}' at index {i}"
        )));
    }
    let value = match item.get("value") {
        None | Some(Value::Null) => return Err(missing("value")),
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
        ("Adobe", _) => match value {
            Value::Object(_) => Ok(value.clone()),
            _ => Err(invalid(format!("'{}' must be an object.", field("value")))),
        },
        _ => match value {
            Value::String(s) if s.trim().is_empty() => Err(Refusal::Report(format!(
                "IAB consent string value must not be empty for standard 'IAB TCF' at index {i}"
            ))),
            // The emulator does not decode TC strings: a non-empty one means consent given.
            Value::String(_) => Ok(json!({"collect": {"val": "y"}})),
            _ => Err(invalid(format!(
                "'{}' must be an IAB TCF string.",
                field("value")
            ))),
        },
    }
}

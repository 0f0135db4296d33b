//! Proposition events (design.md §3.9): what was shown and what was clicked,
//! reported so that Target and Journey Optimizer count them. Pure: no client,
//! no I/O.
//!
//! Input `{"kind": "display" | "interact", "propositions": [...], "label"?,
//! "tokens"?}`, the propositions as a `personalization:decisions` handle gives
//! them; or `"response": <a result>` in place of `"propositions"`, to report
//! every proposition of its `personalization:decisions` handles. Output `{"event": {"xdm": {"eventType", "_experience": {"decisioning":
//! {"propositions": [{"id", "scope", "scopeDetails"}], "propositionEventType",
//! "propositionAction"?}}}}}`, the shape Adobe documents for A4T display and
//! interact events (and alloy's `decisioning.proposition*` event types).

use crate::error::{Error, ErrorKind, Result};
use crate::json_fields::{type_name, Fields};
use serde_json::{json, Map, Value};

/// The largest input accepted, checked before parsing (as for a request).
pub const MAX_INPUT_BYTES: usize = crate::request::MAX_REQUEST_JSON_BYTES;

/// Builds the event from an input JSON string.
pub fn proposition_event_json(text: &str) -> Result<Value> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(Error::invalid_request(format!(
            "the input is {} bytes; at most {MAX_INPUT_BYTES} are accepted",
            text.len()
        )));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        Error::new(
            ErrorKind::InvalidJson,
            format!("the input is not valid JSON: {e}"),
        )
    })?;
    proposition_event(&value)
}

/// Builds the event from a parsed input.
pub fn proposition_event(input: &Value) -> Result<Value> {
    build(input).map_err(Error::invalid_request)
}

fn build(input: &Value) -> std::result::Result<Value, String> {
    let mut f = Fields::new("", input)
        .map_err(|_| "the input must be a JSON object {\"kind\", \"propositions\"}".to_string())?;
    let kind = f.required_string("kind")?;
    let (event_type, counter) = match kind {
        "display" => ("decisioning.propositionDisplay", "display"),
        "interact" => ("decisioning.propositionInteract", "interact"),
        other => {
            return Err(format!(
                "kind must be \"display\" or \"interact\", not {other:?}"
            ))
        }
    };
    let from_response = match f.take("response") {
        None => None,
        Some(response) => Some(decisions_of(response)?),
    };
    let given = f.take("propositions");
    let given = match (given, from_response) {
        (Some(_), Some(_)) => {
            return Err("give propositions or response, not both".into());
        }
        (None, Some(found)) if found.is_empty() => {
            return Err(
                "response has no propositions in a personalization:decisions handle".into(),
            );
        }
        (None, Some(found)) => Some(Value::Array(found)),
        (given, None) => given.cloned(),
    };
    let propositions = match given.as_ref() {
        None => return Err("propositions (or response) is required".into()),
        Some(Value::Array(items)) if items.is_empty() => {
            return Err("propositions must not be empty".into())
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, p)| reference(i, p))
            .collect::<std::result::Result<Vec<Value>, String>>()?,
        Some(other) => {
            return Err(format!(
                "propositions must be an array, not {}",
                type_name(other)
            ))
        }
    };
    let label = f.string("label")?;
    let tokens = match f.take("tokens") {
        None => None,
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => Some(items.clone()),
        Some(_) => return Err("tokens must be an array of strings".into()),
    };
    f.finish()?;
    if kind == "display" && (label.is_some() || tokens.is_some()) {
        return Err(
            "label and tokens describe an interaction: give them with kind \"interact\"".into(),
        );
    }

    let mut decisioning = Map::new();
    decisioning.insert("propositions".into(), Value::Array(propositions));
    decisioning.insert("propositionEventType".into(), json!({ counter: 1 }));
    if label.is_some() || tokens.is_some() {
        let mut action = Map::new();
        if let Some(label) = label {
            action.insert("label".into(), Value::String(label.to_string()));
        }
        if let Some(tokens) = tokens {
            action.insert("tokens".into(), Value::Array(tokens));
        }
        decisioning.insert("propositionAction".into(), Value::Object(action));
    }
    Ok(json!({"event": {"xdm": {
        "eventType": event_type,
        "_experience": {"decisioning": decisioning},
    }}}))
}

/// The propositions of every `personalization:decisions` handle of a result
/// (or a response body), in order: what a host reports as shown without
/// picking the handle out itself.
fn decisions_of(response: &Value) -> std::result::Result<Vec<Value>, String> {
    let Value::Object(response) = response else {
        return Err(format!(
            "response must be a result object, not {}",
            type_name(response)
        ));
    };
    let handles = match response.get("handle") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(handles)) => handles,
        Some(other) => {
            return Err(format!(
                "response.handle must be an array, not {}",
                type_name(other)
            ))
        }
    };
    let mut found = Vec::new();
    for handle in handles {
        if handle.get("type").and_then(Value::as_str) != Some("personalization:decisions") {
            continue;
        }
        if let Some(Value::Array(items)) = handle.get("payload") {
            found.extend(items.iter().cloned());
        }
    }
    Ok(found)
}

/// `{id, scope, scopeDetails}` of one proposition (`scopeDetails` `{}` when
/// absent, as alloy sends it); its items and content are not reported.
fn reference(i: usize, p: &Value) -> std::result::Result<Value, String> {
    let at = format!("propositions[{i}]");
    let Value::Object(p) = p else {
        return Err(format!("{at} must be an object, not {}", type_name(p)));
    };
    let id = match p.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => return Err(format!("{at}.id must be a non-empty string")),
    };
    let scope = match p.get("scope") {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => return Err(format!("{at}.scope must be a non-empty string")),
    };
    let scope_details = match p.get("scopeDetails") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(other) => {
            return Err(format!(
                "{at}.scopeDetails must be an object, not {}",
                type_name(other)
            ))
        }
    };
    Ok(json!({"id": id, "scope": scope, "scopeDetails": scope_details}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(input: Value) -> String {
        proposition_event(&input).unwrap_err().message
    }

    #[test]
    fn an_interaction_carries_its_action() {
        let event = proposition_event(&json!({
            "kind": "interact", "label": "Buy", "tokens": ["t1"],
            "propositions": [{"id": "p", "scope": "s", "items": [{"id": "i"}]}]
        }))
        .unwrap();
        assert_eq!(
            event,
            json!({"event": {"xdm": {
                "eventType": "decisioning.propositionInteract",
                "_experience": {"decisioning": {
                    "propositions": [{"id": "p", "scope": "s", "scopeDetails": {}}],
                    "propositionEventType": {"interact": 1},
                    "propositionAction": {"label": "Buy", "tokens": ["t1"]}
                }}
            }}})
        );
    }

    #[test]
    fn bad_inputs_are_refused_by_name() {
        let p = json!([{"id": "p", "scope": "s"}]);
        assert!(err(json!({"propositions": p})).contains("kind is required"));
        assert!(err(json!({"kind": "click", "propositions": p})).contains("kind must be"));
        assert!(err(json!({"kind": "display"})).contains("propositions (or response) is required"));
        assert!(err(json!({"kind": "display", "propositions": []})).contains("must not be empty"));
        assert!(
            err(json!({"kind": "display", "propositions": [{"scope": "s"}]}))
                .contains("propositions[0].id")
        );
        assert!(
            err(json!({"kind": "display", "propositions": [{"id": "p"}]}))
                .contains("propositions[0].scope")
        );
        assert!(
            err(json!({"kind": "display", "propositions": [{"id": "p", "scope": "s", "scopeDetails": 1}]}))
                .contains("propositions[0].scopeDetails")
        );
        assert!(
            err(json!({"kind": "display", "propositions": p, "label": "x"}))
                .contains("kind \"interact\"")
        );
        assert!(
            err(json!({"kind": "interact", "propositions": p, "tokens": [1]}))
                .contains("tokens must be")
        );
        assert!(
            err(json!({"kind": "display", "propositions": p, "extra": 1}))
                .contains("unknown key extra")
        );
        assert!(err(json!([])).contains("JSON object"));
        assert_eq!(
            proposition_event_json("{").unwrap_err().kind,
            ErrorKind::InvalidJson
        );
    }
}

//! Rejection faults: answers that refuse chosen events of a request, so a client's
//! handling of refused events (a durable queue splitting a batch, dropping one event)
//! can be tested. A rejection fault names events by `xdm._id`.

use serde_json::{json, Map, Value};

use crate::http::Response;
use crate::{problem, Fault};

/// The `xdm._id` of each event of a request body, by index: `event` (v2 interact) or
/// `events[]` (collect, v1 interact). Empty when the body is not such a request.
pub(crate) fn event_ids(body: &[u8]) -> Vec<Option<String>> {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let id = |event: &Value| {
        event
            .pointer("/xdm/_id")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    match (body.get("event"), body.get("events")) {
        (_, Some(Value::Array(events))) => events.iter().map(id).collect(),
        (Some(event), _) => vec![id(event)],
        _ => Vec::new(),
    }
}

/// The answer of a rejection fault. `ids` are the request's event ids (from
/// [`event_ids`]); `serve` gives the normal answer, which a 207 reports the errors in.
pub(crate) fn answer(
    fault: &Fault,
    ids: &[Option<String>],
    request_id: &str,
    org_id: &str,
    serve: impl FnOnce() -> Response,
) -> Response {
    let named: Vec<(usize, &str)> = ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| Some((i, id.as_deref()?)))
        .filter(|(_, id)| fault.reject_event_ids.iter().any(|r| r == id))
        .collect();
    let messages: Vec<String> = named
        .iter()
        .map(|(i, id)| format!("Event '{id}' at index {i} was refused (emulator rejection fault)"))
        .collect();
    match fault.rejection_status() {
        207 => multi_status(serve(), request_id, &named),
        400 => problem::exeg_with_report(
            "EXEG-0102-400",
            "Invalid request field",
            &format!(
                "The request contains events whose fields do not match the schema: {}.",
                messages.join("; ")
            ),
            json!({"requestId": request_id, "errors": messages}),
        ),
        413 => problem::exeg_with_report(
            "EXEG-0112-413",
            "Invalid request",
            &format!("The request payload is too large: {}.", messages.join("; ")),
            json!({"requestId": request_id}),
        ),
        _ => problem::exeg_with_report(
            "EXEG-0104-422",
            "Unprocessable Entity",
            "Invalid request (report attached). Please check your input and try again.",
            json!({"errors": messages, "requestId": request_id, "orgId": org_id}),
        ),
    }
}

/// The normal answer turned into a 207: its body (a collect's 202 `{requestId}`, or
/// `{requestId}` for a 204) with `handle` and one `errors[]` entry per refused event, shaped like
/// Edge's non-fatal errors (fixtures/response-interact-207-errors-warnings-docs.json, with
/// `report.eventIndex` as in Adobe's SDK tests). A normal answer that is itself an error
/// stays as it is: Edge refuses a bad request before looking at its events.
fn multi_status(normal: Response, request_id: &str, named: &[(usize, &str)]) -> Response {
    if !(200..300).contains(&normal.status) {
        return normal;
    }
    let mut body = match serde_json::from_slice::<Value>(&normal.body) {
        Ok(Value::Object(body)) => body,
        _ => Map::new(),
    };
    body.entry("requestId").or_insert_with(|| json!(request_id));
    body.entry("handle").or_insert_with(|| json!([]));
    let errors: Vec<Value> = named
        .iter()
        .map(|(index, id)| {
            json!({
                "type": "https://ns.adobe.com/aep/errors/EXEG-0102-400",
                "status": 400,
                "title": "Invalid request field",
                "detail": format!("The event '{id}' does not match the schema and was not processed (emulator rejection fault)."),
                "report": {"eventIndex": index},
            })
        })
        .collect();
    body.insert("errors".into(), Value::Array(errors));
    let mut resp = Response::json(207, &Value::Object(body));
    for (name, value) in &normal.headers {
        if !name.eq_ignore_ascii_case("content-type") {
            resp.set_header(name, value);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_by_index() {
        let ids = event_ids(br#"{"events":[{"xdm":{"_id":"a"}},{},{"xdm":{"_id":"c"}}]}"#);
        assert_eq!(ids, [Some("a".into()), None, Some("c".into())]);
        assert_eq!(
            event_ids(br#"{"event":{"xdm":{"_id":"x"}}}"#),
            [Some("x".into())]
        );
        assert!(event_ids(b"not json").is_empty());
    }
}

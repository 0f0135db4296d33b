//! What the queue stores for an event, and how stored events become one
//! request: `send_event` validation, batch bodies under the 64 KB limit, and
//! reading which events a response accepted or rejected.

use super::store::Row;
use crate::error::{Error, ErrorKind, Result};
use crate::json_fields::type_name;
use crate::request::{Draft, Endpoint, MAX_BODY_BYTES, MAX_REQUEST_JSON_BYTES};
use crate::response::code_from_type;
use serde_json::{json, Map, Value};

/// A validated event, ready to store.
pub struct Queued {
    pub event_id: String,
    /// `{"meta": ..., "options": ...}`: what events of one batch share.
    pub group: String,
    pub event: String,
}

impl Queued {
    pub fn bytes(&self) -> u64 {
        (self.group.len() + self.event.len()) as u64
    }
}

/// Validates a `send_event` request, `{"event": {...}, "meta"?: {...},
/// "options"?: {...}}`, as interact would, and fills `xdm._id` and `xdm.timestamp`.
pub fn prepare_json(text: &str) -> Result<Queued> {
    if text.len() > MAX_REQUEST_JSON_BYTES {
        return Err(Error::invalid_request(format!(
            "the request is {} bytes; at most {MAX_REQUEST_JSON_BYTES} are accepted",
            text.len()
        )));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        Error::new(
            ErrorKind::InvalidJson,
            format!("the request is not valid JSON: {e}"),
        )
    })?;
    prepare(value)
}

/// As [`prepare_json`], from parsed JSON.
pub fn prepare(value: Value) -> Result<Queued> {
    let Value::Object(mut request) = value else {
        return Err(Error::invalid_request(format!(
            "the request must be a JSON object, not {}",
            type_name(&value)
        )));
    };
    if let Some(unknown) = request
        .keys()
        .find(|k| !["event", "meta", "options"].contains(&k.as_str()))
    {
        return Err(Error::invalid_request(format!(
            "unknown key {unknown} (a queued event has event, meta and options)"
        )));
    }
    let options = match request.get("options") {
        None | Some(Value::Null) => Value::Null,
        Some(o) => o.clone(),
    };
    if options.get("requestId").is_some() {
        return Err(Error::invalid_request(
            "options.requestId is not accepted for a queued event: each batch gets its own requestId",
        ));
    }
    request.remove("options");
    if !options.is_null() {
        request.insert("options".into(), options.clone());
    }
    // Interact's validation of the event, meta and options.
    let mut body = Draft::from_value(Endpoint::Interact, Value::Object(request))?.into_body();
    let event = body.remove("event").unwrap_or(Value::Null);
    let meta = body.remove("meta").unwrap_or(Value::Null);
    let event_id = match &event["xdm"]["_id"] {
        Value::String(id) => id.clone(),
        other => {
            return Err(Error::invalid_request(format!(
                "event.xdm._id must be a string, not {}",
                type_name(other)
            )))
        }
    };
    let group = json!({"meta": meta, "options": options}).to_string();
    let event = event.to_string();
    // `{"events":[E],"meta":M}`: an event that cannot go out even alone is refused now.
    let alone = event.len() + meta.to_string().len() + 22;
    if alone > MAX_BODY_BYTES {
        return Err(Error::invalid_request(format!(
            "the event and its meta encode to about {alone} bytes; the Edge Network accepts at most {MAX_BODY_BYTES} per request"
        )));
    }
    Ok(Queued {
        event_id,
        group,
        event,
    })
}

/// The share of the 64 KB kept free for the state entries the client adds.
pub const STATE_RESERVE: usize = 4096;

/// The longest prefix of `rows` (all of one group) whose collect body stays
/// within the 64 KB limit less [`STATE_RESERVE`]; at least one row.
pub fn fitting(rows: &[Row]) -> usize {
    let Some(first) = rows.first() else { return 0 };
    // `{"events":[...],` + the group's `"meta":...` and `"options":...` (an
    // over-estimate: options are never sent).
    let mut size = 12 + first.group.len();
    for (i, row) in rows.iter().enumerate() {
        size += row.event.len() + 1;
        if i > 0 && size > MAX_BODY_BYTES - STATE_RESERVE {
            return i;
        }
    }
    rows.len()
}

/// The request for `rows` (one group): collect-shaped with `events`, or
/// interact-shaped with `event` for a single row.
pub fn request(rows: &[Row], endpoint: Endpoint) -> Result<Value> {
    let group: Map<String, Value> = serde_json::from_str(&rows[0].group)
        .map_err(|e| stored_corrupt(&rows[0], &e.to_string()))?;
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        events.push(
            serde_json::from_str::<Value>(&row.event)
                .map_err(|e| stored_corrupt(row, &e.to_string()))?,
        );
    }
    let mut request = Map::new();
    match endpoint {
        Endpoint::Interact => {
            request.insert("event".into(), events.pop().unwrap_or(Value::Null));
        }
        _ => {
            request.insert("events".into(), Value::Array(events));
        }
    }
    for key in ["meta", "options"] {
        match group.get(key) {
            None | Some(Value::Null) => {}
            Some(v) => {
                request.insert(key.into(), v.clone());
            }
        }
    }
    Ok(Value::Object(request))
}

fn stored_corrupt(row: &Row, what: &str) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!(
            "queued event {} is not valid JSON any more ({what})",
            row.event_id
        ),
    )
}

/// The errors of a 2xx answer that name an event (`report.eventIndex`),
/// as (index, error) pairs.
pub fn rejected_by_index(result: &Value, events: usize) -> Vec<(usize, Error)> {
    let Some(errors) = result["errors"].as_array() else {
        return Vec::new();
    };
    let attempts = result["client"]["attempts"].as_u64().unwrap_or(1) as u32;
    let request_id = result["client"]["requestId"].as_str().map(str::to_string);
    let http_status = result["client"]["httpStatus"].as_u64().map(|s| s as u16);
    errors
        .iter()
        .filter_map(|entry| {
            let index = entry["report"]["eventIndex"].as_u64()? as usize;
            if index >= events {
                return None;
            }
            let code = entry["type"].as_str().and_then(code_from_type);
            let title = entry["title"].as_str().unwrap_or("no title");
            let mut message = format!(
                "the Edge Network rejected this event in a {} answer",
                http_status.unwrap_or(207)
            );
            if let Some(code) = &code {
                message.push_str(&format!(" ({code})"));
            }
            message.push_str(&format!(": {title}"));
            let mut e = Error::new(ErrorKind::Http, message);
            e.http_status = entry["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .or(http_status);
            e.code = code;
            e.problem = Some(entry.clone());
            e.attempts = attempts;
            e.request_id = request_id.clone();
            Some((index, e))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(event: &str, group: &str) -> Row {
        Row {
            seq: 1,
            event_id: "id".into(),
            group: group.into(),
            event: event.into(),
            attempts: 0,
            bytes: 0,
        }
    }

    #[test]
    fn prepare_fills_ids_and_groups_by_meta_and_options() {
        let q = prepare(
            json!({"event": {"xdm": {"eventType": "t"}}, "meta": {"a": 1},
                               "options": {"datastreamId": "other"}}),
        )
        .unwrap();
        assert_eq!(q.event_id.len(), 36);
        let event: Value = serde_json::from_str(&q.event).unwrap();
        assert_eq!(event["xdm"]["_id"], q.event_id.as_str());
        assert!(event["xdm"]["timestamp"].is_string());
        assert_eq!(
            q.group,
            r#"{"meta":{"a":1},"options":{"datastreamId":"other"}}"#
        );
        let plain = prepare(json!({"event": {}})).unwrap();
        assert_eq!(plain.group, r#"{"meta":null,"options":null}"#);
    }

    #[test]
    fn prepare_refuses_what_interact_refuses_and_more() {
        for (req, needle) in [
            (json!({}), "event is required"),
            (json!({"event": 1}), "event must be an object"),
            (json!({"event": {}, "query": {}}), "unknown key query"),
            (
                json!({"event": {}, "options": {"requestId": "r"}}),
                "options.requestId",
            ),
            (json!({"event": {}, "options": {"x": 1}}), "options.x"),
            (
                json!({"event": {"xdm": {"_id": 5}}}),
                "_id must be a string",
            ),
            (
                json!({"event": {"data": {"big": "x".repeat(MAX_BODY_BYTES)}}}),
                "at most 65536",
            ),
        ] {
            let e = prepare(req).err().unwrap();
            assert_eq!(e.kind, ErrorKind::InvalidRequest);
            assert!(e.message.contains(needle), "{} lacks {needle}", e.message);
        }
        assert_eq!(
            prepare_json("{").err().unwrap().kind,
            ErrorKind::InvalidJson
        );
    }

    #[test]
    fn batches_stop_before_the_size_limit() {
        let group = r#"{"meta":null,"options":null}"#;
        let big = format!("{{\"d\":\"{}\"}}", "x".repeat(25_000));
        let rows: Vec<Row> = (0..5).map(|_| row(&big, group)).collect();
        assert_eq!(fitting(&rows), 2);
        let request = request(&rows[..2], Endpoint::Collect).unwrap();
        assert!(request.to_string().len() < MAX_BODY_BYTES - STATE_RESERVE);
        let huge = format!("{{\"d\":\"{}\"}}", "x".repeat(70_000));
        assert_eq!(fitting(&[row(&huge, group)]), 1, "one event always goes");
    }

    #[test]
    fn errors_with_an_event_index_name_their_events() {
        let result = json!({"errors": [
            {"type": "https://ns.adobe.com/aep/errors/EXEG-0201-503", "status": 503,
             "title": "upstream", "report": {"eventIndex": 1}},
            {"type": "x", "title": "no index"},
            {"title": "out of range", "report": {"eventIndex": 9}}
        ], "client": {"attempts": 2, "requestId": "r", "httpStatus": 207}});
        let rejected = rejected_by_index(&result, 3);
        assert_eq!(rejected.len(), 1);
        let (index, e) = &rejected[0];
        assert_eq!(*index, 1);
        assert_eq!(e.code.as_deref(), Some("EXEG-0201-503"));
        assert_eq!((e.attempts, e.http_status), (2, Some(503)));
    }
}

//! Who a request is about: the identity rule of server datastreams, the visitor's ECID,
//! and the consent it carries in its state (edge-api.md §2.3, §5, §9).

use serde_json::{Map, Value};

use crate::edge::Ctx;
use crate::ids;

/// The parts of a request body that identify its visitor.
pub(crate) struct Visitor<'a> {
    body: &'a Map<String, Value>,
    events: &'a [&'a Map<String, Value>],
    /// The value of the `kndctr_<org>_identity` entry passed back, if any.
    identity_entry: Option<&'a str>,
    /// The value of the `kndctr_<org>_consent` entry passed back, if any.
    consent_entry: Option<&'a str>,
}

impl<'a> Visitor<'a> {
    pub fn new(
        ctx: &Ctx,
        body: &'a Map<String, Value>,
        events: &'a [&'a Map<String, Value>],
    ) -> Visitor<'a> {
        let entries = body
            .get("meta")
            .and_then(|m| m.pointer("/state/entries"))
            .and_then(Value::as_array);
        let entry = |name: &str| {
            let key = ctx.state_key(name);
            entries
                .into_iter()
                .flatten()
                .find(|e| e.get("key").and_then(Value::as_str) == Some(key.as_str()))
                .map(|e| e.get("value").and_then(Value::as_str).unwrap_or(""))
        };
        Visitor {
            body,
            events,
            identity_entry: entry("identity"),
            consent_entry: entry("consent"),
        }
    }

    /// Whether the visitor echoed its identity state entry (a returning visitor).
    pub fn returning(&self) -> bool {
        self.identity_entry.is_some()
    }

    /// Whether the visitor's state says it opted out (`general=out`).
    pub fn opted_out(&self) -> bool {
        self.consent_entry
            .is_some_and(|v| v.split(';').any(|part| part.trim() == "general=out"))
    }

    /// The index of the first event with no identity at all: no identity map entry (the
    /// event's or, on v1, the request's), no identity state entry, no ECID fetch. Server
    /// datastreams answer such an event with EXEG-0306-400.
    pub fn first_without_identity(&self) -> Option<usize> {
        let request_wide = self.identity_entry.is_some()
            || self.body.get("xdm").is_some_and(has_identity_map)
            || fetches_identity(self.body.get("query"));
        if request_wide {
            return None;
        }
        self.events.iter().position(|event| {
            !(event.get("xdm").is_some_and(has_identity_map)
                || fetches_identity(event.get("query")))
        })
    }

    /// Whether the request asks for the ECID (`query.identity.fetch`).
    pub fn fetches_ecid(&self) -> bool {
        [
            self.body.get("query"),
            self.events.first().and_then(|e| e.get("query")),
        ]
        .into_iter()
        .flatten()
        .filter_map(|q| q.pointer("/identity/fetch").and_then(Value::as_array))
        .flatten()
        .any(|ns| ns.as_str() == Some("ECID"))
    }

    /// The visitor's ECID. Precedence as on Edge: an ECID in the identity map, the identity
    /// state entry, an FPID (deterministically), else a new ECID.
    pub fn ecid(&self) -> String {
        // v2 carries the identity map in the event; v1 may also carry it request-wide.
        let maps: Vec<&Value> = [
            self.events.first().and_then(|e| e.get("xdm")),
            self.body.get("xdm"),
        ]
        .into_iter()
        .flatten()
        .filter_map(|xdm| xdm.get("identityMap"))
        .collect();
        let first_id = |namespace: &str| {
            maps.iter()
                .filter_map(|m| m.get(namespace).and_then(Value::as_array))
                .flatten()
                .filter_map(|item| item.get("id").and_then(Value::as_str))
                .find(|id| !id.is_empty())
                .map(str::to_string)
        };
        first_id("ECID")
            .or_else(|| self.identity_entry.and_then(ids::decode_identity))
            .or_else(|| first_id("FPID").map(|f| ids::ecid_from_fpid(&f)))
            .unwrap_or_else(ids::random_ecid)
    }
}

/// An `identityMap` with at least one namespace holding an item with a non-empty id.
fn has_identity_map(xdm: &Value) -> bool {
    xdm.get("identityMap")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|map| map.values())
        .filter_map(Value::as_array)
        .flatten()
        .any(|item| {
            item.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| !id.is_empty())
        })
}

/// A `query.identity.fetch` naming at least one namespace.
fn fetches_identity(query: Option<&Value>) -> bool {
    query
        .and_then(|q| q.pointer("/identity/fetch"))
        .and_then(Value::as_array)
        .is_some_and(|namespaces| {
            namespaces
                .iter()
                .any(|ns| ns.as_str().is_some_and(|s| !s.is_empty()))
        })
}

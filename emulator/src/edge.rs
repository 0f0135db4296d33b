//! The Edge Network endpoints (edge-api.md §1-5): routing, the checks every endpoint
//! shares, interact and collect. Consent lives in `consent.rs`.

use serde_json::{json, Map, Value};

use crate::http::{Request, Response};
use crate::ims::{TokenStatus, TokenStore};
use crate::{consent, ids, problem, Options};

/// The largest body Edge accepts (edge-api.md §2.7).
pub(crate) const MAX_EDGE_BODY: usize = 64 * 1024;
/// `regionId` in `x-adobe-edge`. The emulator models one region for every cluster.
const REGION_ID: &str = "35";
const HINT_TTL_SECS: u64 = 1800;
const IDENTITY_MAX_AGE: u64 = 34_128_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    InteractV2,
    CollectV2,
    InteractV1,
    CollectV1,
    SetConsent,
}

impl Endpoint {
    fn from_segments(segments: &[&str]) -> Option<Endpoint> {
        Some(match segments {
            ["v2", "interact"] => Endpoint::InteractV2,
            ["v2", "collect"] => Endpoint::CollectV2,
            ["v1", "interact"] => Endpoint::InteractV1,
            ["v1", "collect"] => Endpoint::CollectV1,
            ["v1", "privacy", "set-consent"] => Endpoint::SetConsent,
            _ => return None,
        })
    }

    /// The query parameters that may carry the datastream id.
    fn datastream_params(self) -> &'static [&'static str] {
        match self {
            // Both spellings appear in Adobe's documentation (edge-api.md §1.2).
            Endpoint::InteractV2 | Endpoint::CollectV2 => &["dataStreamId", "datastreamId"],
            _ => &["configId"],
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// An Edge endpoint served by `cluster` (the hint in the path, or the default).
    Edge {
        endpoint: Endpoint,
        cluster: String,
    },
    /// A hint segment that names no known cluster: 404 with an empty body.
    UnknownHint,
    Ims,
    NotFound,
}

pub(crate) fn route(options: &Options, path: &str) -> Route {
    if path == "/ims/token/v3" {
        return Route::Ims;
    }
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let ["ee", rest @ ..] = segments.as_slice() else {
        return Route::NotFound;
    };
    if let Some(endpoint) = Endpoint::from_segments(rest) {
        return Route::Edge {
            endpoint,
            cluster: options.default_hint.clone(),
        };
    }
    let [hint, rest @ ..] = rest else {
        return Route::NotFound;
    };
    let Some(endpoint) = Endpoint::from_segments(rest) else {
        return Route::NotFound;
    };
    match options.hints.iter().find(|h| h.eq_ignore_ascii_case(hint)) {
        Some(known) => Route::Edge {
            endpoint,
            cluster: known.clone(),
        },
        None => Route::UnknownHint,
    }
}

/// The response `requestId` for a request: the client's (query, then header) or a new
/// UUID, with Edge's entropy suffix.
pub(crate) fn response_request_id(req: &Request) -> String {
    let client = req
        .query_param("requestId")
        .filter(|s| !s.is_empty())
        .or_else(|| req.header("x-request-id"));
    ids::response_request_id(client)
}

/// Everything an endpoint handler needs about the request beyond its body.
pub(crate) struct Ctx<'a> {
    pub options: &'a Options,
    pub cluster: &'a str,
    pub request_id: String,
    /// `kndctr_<org with @ as _>`, the prefix of every state key.
    pub state_prefix: String,
}

impl Ctx<'_> {
    pub fn state_key(&self, name: &str) -> String {
        format!("{}_{name}", self.state_prefix)
    }

    pub fn location_hint_handle(&self) -> Value {
        let entry = |scope: &str, hint: &str| json!({"scope": scope, "hint": hint, "ttlSeconds": HINT_TTL_SECS});
        json!({
            "payload": [entry("Target", "35"), entry("AAM", "9"), entry("EdgeNetwork", self.cluster)],
            "type": "locationHint:result",
        })
    }

    pub fn cluster_entry(&self) -> Value {
        json!({"key": self.state_key("cluster"), "value": self.cluster, "maxAge": HINT_TTL_SECS})
    }

    pub fn problem(&self, code: &str, title: &str, detail: &str) -> Response {
        problem::exeg(code, title, detail, &self.request_id)
    }
}

/// Serves one Edge request. Checks run in Edge's order: method, datastream, auth, body.
pub(crate) fn handle(
    options: &Options,
    tokens: &TokenStore,
    req: &Request,
    endpoint: Endpoint,
    cluster: &str,
) -> Response {
    let ctx = Ctx {
        options,
        cluster,
        request_id: response_request_id(req),
        state_prefix: format!("kndctr_{}", options.org_id.replace('@', "_")),
    };
    if req.method != "POST" {
        return problem::generic(
            405,
            "This endpoint only accepts POST.",
            Some(&ctx.request_id),
        )
        .with_header("allow", "POST");
    }
    let checked = check_datastream(&ctx, req, endpoint)
        .or_else(|| check_auth(&ctx, tokens, req))
        .map_or_else(|| parse_body(&ctx, req), Err);
    let body = match checked {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    let mut resp = match endpoint {
        Endpoint::InteractV2 | Endpoint::InteractV1 => interact(&ctx, &body, endpoint),
        Endpoint::CollectV2 | Endpoint::CollectV1 => collect(&ctx, req, &body, endpoint),
        Endpoint::SetConsent => consent::set_consent(&ctx, &body),
    };
    if (200..300).contains(&resp.status) {
        resp.set_header("x-adobe-edge", &format!("{cluster};{REGION_ID}"));
    }
    resp
}

fn check_datastream(ctx: &Ctx, req: &Request, endpoint: Endpoint) -> Option<Response> {
    let params = endpoint.datastream_params();
    let id = params
        .iter()
        .find_map(|p| req.query_param(p).filter(|v| !v.is_empty()));
    let Some(id) = id else {
        return Some(ctx.problem(
            "EXEG-0002-400",
            "Missing datastream ID",
            &format!(
                "The datastream ID is missing from the request. Add the '{}' query parameter and try again.",
                params[0]
            ),
        ));
    };
    let known = &ctx.options.datastreams;
    if !known.is_empty() && !known.iter().any(|d| d == id) {
        return Some(ctx.problem(
            "EXEG-0003-400",
            "Invalid datastream ID",
            &format!("The datastream ID '{id}' referenced in your request does not exist. Update the request with a valid datastream ID and try again."),
        ));
    }
    None
}

fn check_auth(ctx: &Ctx, tokens: &TokenStore, req: &Request) -> Option<Response> {
    if !ctx.options.require_auth {
        return None;
    }
    let unauthorized = |detail: &str| Some(ctx.problem("EXEG-0500-401", "Unauthorized", detail));
    let Some(authorization) = req.header("authorization").filter(|v| !v.trim().is_empty()) else {
        return unauthorized(
            "The 'Authorization' header is missing. Send 'Authorization: Bearer <access token>'.",
        );
    };
    let token = match authorization.trim().split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            token.trim()
        }
        _ => return unauthorized("The 'Authorization' header is not a Bearer token."),
    };
    for header in ["x-api-key", "x-gw-ims-org-id"] {
        if req.header(header).is_none_or(|v| v.trim().is_empty()) {
            return unauthorized(&format!("The '{header}' header is missing."));
        }
    }
    if !ctx.options.validate_tokens {
        return None;
    }
    match tokens.check(token, &ctx.options.static_tokens) {
        TokenStatus::Valid => None,
        TokenStatus::Unknown => Some(ctx.problem(
            "EXEG-0502-401",
            "Invalid token",
            "The access token is not valid: its signature could not be verified.",
        )),
        TokenStatus::Expired => Some(ctx.problem(
            "EXEG-0503-401",
            "Token expired",
            "The access token has expired (token expired). Request a new token and try again.",
        )),
    }
}

/// The body checks every endpoint shares: present, small enough, a JSON object, and a
/// `meta.configOverrides` that is an object when present.
fn parse_body(ctx: &Ctx, req: &Request) -> Result<Map<String, Value>, Response> {
    if req.body.is_empty() && !req.body_too_large {
        return Err(ctx.problem(
            "EXEG-0109-408",
            "Empty request body",
            "The request body is empty. Send a JSON body and try again.",
        ));
    }
    if req.body_too_large || req.body.len() > MAX_EDGE_BODY {
        return Err(ctx.problem(
            "EXEG-0112-413",
            "Payload too large",
            &format!("The request body exceeds the maximum size of {MAX_EDGE_BODY} bytes."),
        ));
    }
    let value: Value = serde_json::from_slice(&req.body).map_err(|e| {
        ctx.problem(
            "EXEG-0101-400",
            "Invalid JSON",
            &format!("The request body is not valid JSON: {e}."),
        )
    })?;
    let Value::Object(body) = value else {
        return Err(ctx.problem(
            "EXEG-0102-400",
            "Invalid request",
            "The request body must be a JSON object.",
        ));
    };
    if let Some(overrides) = body.get("meta").and_then(|m| m.get("configOverrides")) {
        if !overrides.is_object() {
            return Err(ctx.problem(
                "EXEG-0113-400",
                "Invalid request",
                "The datastream configuration override ('meta.configOverrides') is not a valid object.",
            ));
        }
    }
    Ok(body)
}

pub(crate) fn missing_field(ctx: &Ctx, field: &str) -> Response {
    ctx.problem(
        "EXEG-0103-400",
        "Required field missing",
        &format!("The required field '{field}' is missing or empty."),
    )
}

fn interact(ctx: &Ctx, body: &Map<String, Value>, endpoint: Endpoint) -> Response {
    let events: Vec<&Map<String, Value>> = if endpoint == Endpoint::InteractV2 {
        match body.get("event").and_then(Value::as_object) {
            Some(event) => vec![event],
            None => return missing_field(ctx, "event"),
        }
    } else {
        match events_array(body) {
            Some(events) => events,
            None => return missing_field(ctx, "events"),
        }
    };
    let query = body.get("query");
    let mut handle = Vec::new();

    // 1. One decision per requested scope, per event.
    for (index, event) in events.iter().enumerate() {
        let mut scopes = Vec::new();
        // The request-level query belongs to the first event (v2 has only one).
        let request_query = if index == 0 { query } else { None };
        for q in [request_query, event.get("query")].into_iter().flatten() {
            for scope in q
                .pointer("/personalization/decisionScopes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !scopes.contains(&scope) {
                    scopes.push(scope);
                }
            }
        }
        if !scopes.is_empty() {
            let payload: Vec<Value> = scopes.iter().map(|s| decision(s)).collect();
            handle.push(json!({"payload": payload, "type": "personalization:decisions", "eventIndex": index}));
        }
    }

    // 2. The visitor's ECID, when asked for.
    let (ecid, returning) = visitor(ctx, body, events[0]);
    let fetch = [query, events[0].get("query")]
        .into_iter()
        .flatten()
        .filter_map(|q| q.pointer("/identity/fetch").and_then(Value::as_array))
        .flatten()
        .any(|ns| ns.as_str() == Some("ECID"));
    if fetch {
        handle.push(json!({
            "payload": [{"id": ecid, "namespace": {"code": "ECID"}}],
            "type": "identity:result",
        }));
    }

    // 3. Routing, 4. state: a new visitor gets its identity entry, everyone the cluster.
    handle.push(ctx.location_hint_handle());
    let mut store = Vec::new();
    if !returning {
        store.push(json!({
            "key": ctx.state_key("identity"),
            "value": ids::encode_identity(&ecid),
            "maxAge": IDENTITY_MAX_AGE,
            "attrs": {"SameSite": "None"},
        }));
    }
    store.push(ctx.cluster_entry());
    handle.push(json!({"payload": store, "type": "state:store"}));

    Response::json(200, &json!({"requestId": ctx.request_id, "handle": handle}))
}

/// A non-empty `events` array of objects.
fn events_array(body: &Map<String, Value>) -> Option<Vec<&Map<String, Value>>> {
    let events: Vec<_> = body
        .get("events")?
        .as_array()?
        .iter()
        .filter_map(Value::as_object)
        .collect();
    (!events.is_empty()).then_some(events)
}

/// The visitor's ECID and whether it echoed an identity state entry (a returning
/// visitor). Precedence as on Edge: an ECID in the identity map, the identity state
/// entry, an FPID (deterministically), else a new ECID.
fn visitor(ctx: &Ctx, body: &Map<String, Value>, event: &Map<String, Value>) -> (String, bool) {
    // v2 carries the identity map in the event; v1 may also carry it request-wide.
    let maps: Vec<&Value> = [event.get("xdm"), body.get("xdm")]
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
    let identity_key = ctx.state_key("identity");
    let state_value = body
        .get("meta")
        .and_then(|m| m.pointer("/state/entries"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|e| e.get("key").and_then(Value::as_str) == Some(identity_key.as_str()))
        .map(|e| e.get("value").and_then(Value::as_str).unwrap_or(""));
    let ecid = first_id("ECID")
        .or_else(|| state_value.and_then(ids::decode_identity))
        .or_else(|| first_id("FPID").map(|f| ids::ecid_from_fpid(&f)))
        .unwrap_or_else(ids::random_ecid);
    (ecid, state_value.is_some())
}

/// A Target-style JSON offer for `scope`, shaped like
/// fixtures/response-interact-200-target-json-offer.json. Ids derive from the scope so
/// the same scope always gets the same decision.
fn decision(scope: &str) -> Value {
    let activity = (100_000 + ids::stable_number(scope, 900_000)).to_string();
    let offer = (200_000 + ids::stable_number(&format!("offer:{scope}"), 800_000)).to_string();
    let decision_id = json!({"activityId": activity, "experienceId": "0"}).to_string();
    json!({
        "id": format!("AT:{}", ids::base64url(decision_id.as_bytes(), false)),
        "scope": scope,
        "scopeDetails": {
            "decisionProvider": "TGT",
            "activity": {"id": activity},
            "experience": {"id": "0"},
            "strategies": [{"algorithmID": "0", "trafficType": "0"}],
            "characteristics": {
                "eventToken": ids::base64url(format!("emulator:{activity}:{scope}").as_bytes(), true),
            },
        },
        "items": [{
            "id": offer,
            "schema": "https://ns.adobe.com/personalization/json-content-item",
            "meta": {
                "offer.name": format!("/emulator/{scope}/offer"),
                "experience.id": "0",
                "activity.name": format!("Emulated activity for {scope}"),
                "activity.id": activity,
                "experience.name": "Experience A",
                "option.id": "2",
                "offer.id": offer,
            },
            "data": {
                "id": offer,
                "format": "application/json",
                "content": {"value": format!("emulated offer for {scope}"), "platform": "server"},
            },
        }],
    })
}

fn collect(ctx: &Ctx, req: &Request, body: &Map<String, Value>, endpoint: Endpoint) -> Response {
    if events_array(body).is_none() {
        return missing_field(ctx, "events");
    }
    let silent = req
        .query_param("silent")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if endpoint == Endpoint::CollectV1 || silent {
        return Response::new(204);
    }
    Response::json(202, &json!({"requestId": ctx.request_id}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options::default()
    }

    #[test]
    fn routes_paths_and_hints() {
        let o = opts();
        assert_eq!(
            route(&o, "/ee/v2/interact"),
            Route::Edge {
                endpoint: Endpoint::InteractV2,
                cluster: "or2".into()
            }
        );
        assert_eq!(
            route(&o, "/ee/irl1/v1/privacy/set-consent"),
            Route::Edge {
                endpoint: Endpoint::SetConsent,
                cluster: "irl1".into()
            }
        );
        assert_eq!(route(&o, "/ee/bogus/v2/collect"), Route::UnknownHint);
        assert_eq!(route(&o, "/ee/v3/interact"), Route::NotFound);
        assert_eq!(route(&o, "/ee/or2/v2/other"), Route::NotFound);
        assert_eq!(route(&o, "/v2/interact"), Route::NotFound);
        assert_eq!(route(&o, "/ims/token/v3"), Route::Ims);
    }

    #[test]
    fn decisions_are_stable_per_scope() {
        assert_eq!(decision("a"), decision("a"));
        assert_ne!(decision("a")["id"], decision("b")["id"]);
        assert_eq!(decision("__view__")["scope"], "__view__");
    }
}

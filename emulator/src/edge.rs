//! The Edge Network endpoints (edge-api.md §1-5): the checks every endpoint shares,
//! interact and collect. Routing lives in `routing.rs`, consent in `consent.rs`.

use serde_json::{json, Map, Value};

use crate::http::{Request, Response};
use crate::ims::{TokenStatus, TokenStore};
use crate::visitor::Visitor;
use crate::{consent, decisions, ids, problem, Options};

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
    pub(crate) fn from_segments(segments: &[&str]) -> Option<Endpoint> {
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
    pub request_id: &'a str,
    /// The datastream id the request named (empty until checked).
    pub datastream: String,
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
        problem::exeg(code, title, detail, self.request_id)
    }

    /// A problem whose report names the datastream and org too, as Edge's validation
    /// errors do.
    pub fn problem_with_config(&self, code: &str, title: &str, detail: &str) -> Response {
        problem::exeg_with_report(
            code,
            title,
            detail,
            json!({"requestId": self.request_id, "configId": self.datastream, "orgId": self.options.org_id}),
        )
    }
}

/// Serves one Edge request. Checks run in Edge's order: method, datastream, auth, body.
pub(crate) fn handle(
    options: &Options,
    tokens: &TokenStore,
    req: &Request,
    endpoint: Endpoint,
    cluster: &str,
    request_id: &str,
) -> Response {
    let mut ctx = Ctx {
        options,
        cluster,
        request_id,
        datastream: String::new(),
        state_prefix: format!("kndctr_{}", options.org_id.replace('@', "_")),
    };
    if req.method != "POST" {
        return problem::generic(405, "This endpoint only accepts POST.", Some(request_id))
            .with_header("allow", "POST");
    }
    let checked = check_datastream(&ctx, req, endpoint)
        .and_then(|datastream| {
            ctx.datastream = datastream;
            check_auth(&ctx, tokens, req).map_or(Ok(()), Err)
        })
        .and_then(|()| parse_body(&ctx, req));
    let body = match checked {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    let mut resp = match endpoint {
        Endpoint::SetConsent => consent::set_consent(&ctx, &body),
        _ => serve_events(&ctx, req, &body, endpoint),
    };
    if (200..300).contains(&resp.status) {
        resp.set_header("x-adobe-edge", &format!("{cluster};{REGION_ID}"));
    }
    resp
}

fn check_datastream(ctx: &Ctx, req: &Request, endpoint: Endpoint) -> Result<String, Response> {
    let params = endpoint.datastream_params();
    let id = params
        .iter()
        .find_map(|p| req.query_param(p).filter(|v| !v.is_empty()));
    let Some(id) = id else {
        return Err(ctx.problem(
            "EXEG-0002-400",
            "Missing datastream parameter",
            &format!(
                "The required datastream parameter '{0}' is missing from your request. Provide a valid '{0}' value and try again.",
                params[0]
            ),
        ));
    };
    let known = &ctx.options.datastreams;
    if !known.is_empty() && !known.iter().any(|d| d == id) {
        return Err(ctx.problem(
            "EXEG-0003-400",
            "Invalid datastream ID",
            &format!("The datastream ID '{id}' referenced in your request does not exist. Update the request with a valid datastream ID and try again."),
        ));
    }
    Ok(id.to_string())
}

fn check_auth(ctx: &Ctx, tokens: &TokenStore, req: &Request) -> Option<Response> {
    if !ctx.options.require_auth {
        return None;
    }
    let unauthorized =
        |detail: &str| Some(ctx.problem("EXEG-0500-401", "Invalid authorization token", detail));
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
            "Invalid authorization token signature",
            "The access token is not valid: its signature could not be verified.",
        )),
        TokenStatus::Expired => Some(ctx.problem(
            "EXEG-0503-401",
            "Authorization token expired",
            "The access token has expired (token expired). Request a new token and try again.",
        )),
    }
}

/// The media types Edge reads a body as (edge-api.md §1.3, EXEG-0111): JSON, and the
/// `text/plain` that browsers' `sendBeacon` and Adobe's samples send. A request without
/// a Content-Type is read as JSON.
fn accepted_content_type(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return true;
    };
    let essence = content_type.split(';').next().unwrap_or("").trim();
    ["application/json", "text/plain", "text/javascript"]
        .iter()
        .any(|t| essence.eq_ignore_ascii_case(t))
}

/// The body checks every endpoint shares: a media type Edge reads, present, small
/// enough, a JSON object, and a `meta.configOverrides` that is an object when present.
fn parse_body(ctx: &Ctx, req: &Request) -> Result<Map<String, Value>, Response> {
    if !accepted_content_type(req.header("content-type")) {
        return Err(ctx.problem(
            "EXEG-0111-415",
            "Invalid request",
            &format!(
                "The Content-Type '{}' is not supported. Use application/json or text/plain.",
                req.header("content-type").unwrap_or("")
            ),
        ));
    }
    if req.body.is_empty() && !req.body_too_large {
        return Err(ctx.problem(
            "EXEG-0109-408",
            "Empty request",
            "The request body is empty. Send a JSON body and try again.",
        ));
    }
    if req.body_too_large || req.body.len() > MAX_EDGE_BODY {
        return Err(ctx.problem(
            "EXEG-0112-413",
            "Invalid request",
            &format!("The request body exceeds the maximum size of {MAX_EDGE_BODY} bytes."),
        ));
    }
    let value: Value = serde_json::from_slice(&req.body).map_err(|e| {
        ctx.problem(
            "EXEG-0101-400",
            "Invalid JSON request",
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
        "Missing required value",
        &format!("The required field '{field}' is missing or empty."),
    )
}

/// The events of a request: `event` on v2 interact, a non-empty `events` array otherwise.
fn request_events<'a>(
    ctx: &Ctx,
    body: &'a Map<String, Value>,
    endpoint: Endpoint,
) -> Result<Vec<&'a Map<String, Value>>, Response> {
    if endpoint == Endpoint::InteractV2 {
        return match body.get("event").and_then(Value::as_object) {
            Some(event) => Ok(vec![event]),
            None => Err(missing_field(ctx, "event")),
        };
    }
    let events: Vec<_> = body
        .get("events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .collect();
    if events.is_empty() {
        return Err(missing_field(ctx, "events"));
    }
    Ok(events)
}

/// The checks interact and collect share after the body parsed: the identity rule.
fn check_events(ctx: &Ctx, visitor: &Visitor) -> Option<Response> {
    if ctx.options.lenient_identity {
        return None;
    }
    visitor.first_without_identity().map(|_| {
        ctx.problem_with_config(
            "EXEG-0306-400",
            "No primary identity set in request (event)",
            "No primary identity found in the input event. Update the request accordingly to your schema and try again.",
        )
    })
}

/// The warning Edge adds when the visitor's state says it opted out.
fn no_consent_warning() -> Value {
    json!({
        "type": "https://ns.adobe.com/aep/errors/EXEG-0301-200",
        "status": 200,
        "title": "Request ignored",
        "detail": "Unable to process this request due to lack of user consent.",
    })
}

/// Interact and collect: their events, the identity rule, then the endpoint's answer.
fn serve_events(
    ctx: &Ctx,
    req: &Request,
    body: &Map<String, Value>,
    endpoint: Endpoint,
) -> Response {
    let events = match request_events(ctx, body, endpoint) {
        Ok(events) => events,
        Err(resp) => return resp,
    };
    let visitor = Visitor::new(ctx, body, &events);
    if let Some(resp) = check_events(ctx, &visitor) {
        return resp;
    }
    match endpoint {
        Endpoint::InteractV2 | Endpoint::InteractV1 => interact(ctx, body, &events, &visitor),
        _ => collect(ctx, req, endpoint, &visitor),
    }
}

fn interact(
    ctx: &Ctx,
    body: &Map<String, Value>,
    events: &[&Map<String, Value>],
    visitor: &Visitor,
) -> Response {
    if visitor.opted_out() {
        // Ignored: no decisions, no identity; routing and the cluster still come back.
        let handle = json!([
            ctx.location_hint_handle(),
            {"payload": [ctx.cluster_entry()], "type": "state:store"},
        ]);
        return Response::json(
            200,
            &json!({"requestId": ctx.request_id, "handle": handle, "warnings": [no_consent_warning()]}),
        );
    }
    let mut handle = Vec::new();

    // The Edge Network's order (every recorded body in tests/fixtures/real/ has it):
    // identity:result, personalization:decisions, locationHint:result, state:store.
    // 1. The visitor's ECID, when asked for.
    let ecid = visitor.ecid();
    if visitor.fetches_ecid() {
        handle.push(json!({
            "payload": [{"id": ecid, "namespace": {"code": "ECID"}}],
            "type": "identity:result",
        }));
    }

    // 2. One proposition per requested scope and surface, per event.
    for (index, event) in events.iter().enumerate() {
        // The request-level query belongs to the first event (v2 has only one).
        let request_query = if index == 0 { body.get("query") } else { None };
        let queries: Vec<&Value> = [request_query, event.get("query")]
            .into_iter()
            .flatten()
            .collect();
        let scopes = match requested_scopes(ctx, &queries) {
            Ok(scopes) => scopes,
            Err(resp) => return resp,
        };
        if !scopes.is_empty() {
            let payload: Vec<Value> = scopes
                .iter()
                .filter_map(|r| decisions::proposition(r, &ctx.options.decisions))
                .collect();
            handle.push(json!({"payload": payload, "type": "personalization:decisions", "eventIndex": index}));
        }
    }

    // 3. Routing, 4. state: a new visitor gets its identity entry, everyone the cluster.
    handle.push(ctx.location_hint_handle());
    let mut store = Vec::new();
    if !visitor.returning() {
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

/// The decision scopes, then the surfaces, an event asks for (each once), or the error
/// for asking more than Edge allows.
fn requested_scopes<'a>(
    ctx: &Ctx,
    queries: &[&'a Value],
) -> Result<Vec<decisions::Requested<'a>>, Response> {
    let mut requested: Vec<decisions::Requested<'a>> = Vec::new();
    for (field, surface) in [("decisionScopes", false), ("surfaces", true)] {
        let mut names: Vec<&str> = Vec::new();
        for q in queries {
            let listed = q
                .get("personalization")
                .and_then(|p| p.get(field))
                .and_then(Value::as_array);
            for name in listed.into_iter().flatten().filter_map(Value::as_str) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        if names.len() > decisions::MAX_SCOPES {
            return Err(ctx.problem_with_config(
                "EXEG-0105-400",
                "Input validation error",
                &format!(
                    "The request asks for {} {field}; at most {} are allowed per request.",
                    names.len(),
                    decisions::MAX_SCOPES
                ),
            ));
        }
        requested.extend(
            names
                .into_iter()
                .map(|scope| decisions::Requested { scope, surface }),
        );
    }
    Ok(requested)
}

fn collect(ctx: &Ctx, req: &Request, endpoint: Endpoint, visitor: &Visitor) -> Response {
    let silent = req
        .query_param("silent")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if endpoint == Endpoint::CollectV1 || silent {
        return Response::new(204);
    }
    let mut answer = json!({"requestId": ctx.request_id});
    if visitor.opted_out() {
        answer["warnings"] = json!([no_consent_warning()]);
    }
    Response::json(202, &answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        for ok in [
            None,
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("text/plain;charset=UTF-8"),
            Some("TEXT/PLAIN"),
            Some("text/javascript"),
        ] {
            assert!(accepted_content_type(ok), "{ok:?}");
        }
        for bad in [
            "application/x-www-form-urlencoded",
            "text/html",
            "multipart/form-data; boundary=x",
            "",
        ] {
            assert!(!accepted_content_type(Some(bad)), "{bad}");
        }
    }
}

//! Personalization: the propositions of a `personalization:decisions` handle, one per
//! requested decision scope or surface, each in the shape of the service that owns it
//! (edge-api.md §2.5, §3.2, §9):
//!
//! - an Offer Decisioning scope (base64 JSON naming an activity and a placement, `eyJ...`)
//!   gets `{id, scope, activity, placement, items}`
//!   (fixtures/response-interact-200-offer-decisioning.json);
//! - `__view__` gets Target's page-wide answer, default content
//!   (fixtures/response-interact-200-target-default-content.json), and any other scope
//!   Target's JSON offer (fixtures/response-interact-200-target-json-offer.json);
//! - a surface (`web://...`, `mobileapp://...`) gets Journey Optimizer's
//!   `{id, scope: <surface>, scopeDetails: {decisionProvider: "AJO", ...}, items}`
//!   (alloy-samples `ajo/PersonalizationPayloads.md`).
//!
//! Ids derive from the scope, so the same scope always gets the same proposition.
//! `Options::decisions` (`--decisions FILE`) replaces the canned content per scope.

use serde_json::{json, Map, Value};

use crate::ids;

/// Decision scopes (and, separately, surfaces) one request may ask for (edge-api.md §2.7).
pub(crate) const MAX_SCOPES: usize = 30;

const TARGET_JSON: &str = "https://ns.adobe.com/personalization/json-content-item";
const TARGET_HTML: &str = "https://ns.adobe.com/personalization/html-content-item";
const TARGET_DEFAULT: &str = "https://ns.adobe.com/personalization/default-content-item";
const OFFER_JSON: &str = "https://ns.adobe.com/experience/offer-management/content-component-json";
const OFFER_HTML: &str = "https://ns.adobe.com/experience/offer-management/content-component-html";

/// Who answers a scope.
#[derive(Debug, PartialEq, Eq)]
enum Owner {
    Target,
    OfferDecisioning { activity: String, placement: String },
    JourneyOptimizer,
}

/// A requested scope: from `decisionScopes` (Target or Offer Decisioning) or from
/// `surfaces` (Journey Optimizer).
pub(crate) struct Requested<'a> {
    pub scope: &'a str,
    pub surface: bool,
}

/// The proposition for one requested scope, or `None` when the configured decisions say
/// that scope gets nothing (what Edge answers when no activity qualifies).
pub(crate) fn proposition(requested: &Requested, configured: &Map<String, Value>) -> Option<Value> {
    let scope = requested.scope;
    let owner = if requested.surface {
        Owner::JourneyOptimizer
    } else {
        offer_decisioning(scope).unwrap_or(Owner::Target)
    };
    let content = match configured.get(scope) {
        None => None,
        Some(Value::Null) => return None,
        Some(Value::Object(given)) if given.get("items").is_some_and(Value::is_array) => {
            return Some(complete(given.clone(), scope, &owner));
        }
        Some(other) => Some(other),
    };
    Some(canned(scope, &owner, content))
}

/// An Offer Decisioning scope is base64 of `{"activityId", "placementId"}` (or the
/// `xdm:`-prefixed names); anything else is a Target mbox name.
fn offer_decisioning(scope: &str) -> Option<Owner> {
    if !scope.starts_with("eyJ") {
        return None;
    }
    let decoded: Value = serde_json::from_slice(&ids::base64_decode(scope)?).ok()?;
    let field = |name: &str| {
        decoded
            .get(format!("xdm:{name}"))
            .or_else(|| decoded.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Some(Owner::OfferDecisioning {
        activity: field("activityId")?,
        placement: field("placementId")?,
    })
}

/// A proposition given in the decisions file, with what it leaves out filled in.
fn complete(mut given: Map<String, Value>, scope: &str, owner: &Owner) -> Value {
    let canned = canned(scope, owner, None);
    given.insert("scope".into(), json!(scope));
    for key in ["id", "scopeDetails", "activity", "placement"] {
        if let (false, Some(v)) = (given.contains_key(key), canned.get(key)) {
            given.insert(key.into(), v.clone());
        }
    }
    Value::Object(given)
}

fn canned(scope: &str, owner: &Owner, content: Option<&Value>) -> Value {
    match owner {
        Owner::Target if scope == "__view__" && content.is_none() => target_view(scope),
        Owner::Target => target_offer(scope, content),
        Owner::OfferDecisioning {
            activity,
            placement,
        } => offer(scope, activity, placement, content),
        Owner::JourneyOptimizer => journey_optimizer(scope, content),
    }
}

fn number(seed: &str, base: u64) -> String {
    (base + ids::stable_number(seed, 900_000)).to_string()
}

/// A stable id in UUID form, as Offer Decisioning and Journey Optimizer use.
fn stable_uuid(seed: &str) -> String {
    let h = |salt: &str| {
        format!(
            "{:016x}",
            ids::stable_number(&format!("{salt}:{seed}"), u64::MAX)
        )
    };
    let (a, b) = (h("a"), h("b"));
    format!(
        "{}-{}-{}-{}-{}",
        &a[..8],
        &a[8..12],
        &a[12..16],
        &b[..4],
        &b[4..16]
    )
}

fn target_details(scope: &str, activity: &str) -> Value {
    json!({
        "decisionProvider": "TGT",
        "activity": {"id": activity},
        "experience": {"id": "0"},
        "strategies": [{"algorithmID": "0", "trafficType": "0"}],
        "characteristics": {
            "eventToken": ids::base64url(format!("emulator:{activity}:{scope}").as_bytes(), true),
        },
    })
}

fn target_id(activity: &str) -> String {
    let decision_id = json!({"activityId": activity, "experienceId": "0"}).to_string();
    format!("AT:{}", ids::base64url(decision_id.as_bytes(), false))
}

/// Target's page-wide scope with no activity for the page: default content.
fn target_view(scope: &str) -> Value {
    let activity = number(scope, 100_000);
    let mut details = target_details(scope, &activity);
    details["strategies"] = json!([{"step": "conversion", "trafficType": "0"}]);
    details["characteristics"]["analyticsToken"] = json!(format!("{activity}:0:0|32767"));
    details["correlationID"] = json!(format!("{activity}:0:0"));
    json!({
        "id": target_id(&activity),
        "scope": scope,
        "scopeDetails": details,
        "items": [{"id": "0", "schema": TARGET_DEFAULT, "meta": {}}],
    })
}

/// A Target form-based activity answering with one offer: JSON content unless the
/// configured content is a string (HTML).
fn target_offer(scope: &str, content: Option<&Value>) -> Value {
    let activity = number(scope, 100_000);
    let offer = number(&format!("offer:{scope}"), 200_000);
    let content = content.cloned().unwrap_or_else(
        || json!({"value": format!("emulated offer for {scope}"), "platform": "server"}),
    );
    let (schema, format) = match content {
        Value::String(_) => (TARGET_HTML, "text/html"),
        _ => (TARGET_JSON, "application/json"),
    };
    json!({
        "id": target_id(&activity),
        "scope": scope,
        "scopeDetails": target_details(scope, &activity),
        "items": [{
            "id": offer,
            "schema": schema,
            "meta": {
                "offer.name": format!("/emulator/{scope}/offer"),
                "experience.id": "0",
                "activity.name": format!("Emulated activity for {scope}"),
                "activity.id": activity,
                "experience.name": "Experience A",
                "option.id": "2",
                "offer.id": offer,
            },
            "data": {"id": offer, "format": format, "content": content},
        }],
    })
}

/// Offer Decisioning: the activity and placement the scope names, one personalized offer.
fn offer(scope: &str, activity: &str, placement: &str, content: Option<&Value>) -> Value {
    let offer_id = format!(
        "xcore:personalized-offer:{:016x}",
        ids::stable_number(&format!("offer:{scope}"), u64::MAX)
    );
    let content = content.cloned().unwrap_or_else(|| {
        json!(json!({"offer": format!("emulated offer for placement {placement}")}).to_string())
    });
    let (schema, format) = match &content {
        // Offer Decisioning sends JSON offers as JSON text (the fixture does).
        Value::String(s) if serde_json::from_str::<Value>(s).is_ok_and(|v| v.is_object()) => {
            (OFFER_JSON, "application/json")
        }
        Value::String(_) => (OFFER_HTML, "text/html"),
        _ => (OFFER_JSON, "application/json"),
    };
    json!({
        "id": stable_uuid(scope),
        "scope": scope,
        "activity": {"id": activity, "etag": "1"},
        "placement": {"id": placement, "etag": "1"},
        "items": [{
            "id": offer_id,
            "etag": "1",
            "schema": schema,
            "data": {
                "id": offer_id,
                "format": format,
                "language": ["en-us"],
                "content": content,
                "characteristics": {"reporting": "emulator"},
            },
        }],
    })
}

/// Journey Optimizer code-based experience for a surface.
fn journey_optimizer(surface: &str, content: Option<&Value>) -> Value {
    let campaign = stable_uuid(&format!("campaign:{surface}"));
    let message = stable_uuid(&format!("message:{surface}"));
    let token = json!({"messageExecution": {"messageID": message, "campaignID": campaign}});
    let content = content
        .cloned()
        .unwrap_or_else(|| json!({"value": format!("emulated experience for {surface}")}));
    let (schema, data) = match content {
        Value::String(_) => (
            TARGET_HTML,
            json!({"content": content, "format": "text/html"}),
        ),
        _ => (TARGET_JSON, json!({"content": content})),
    };
    json!({
        "id": stable_uuid(surface),
        "scope": surface,
        "scopeDetails": {
            "decisionProvider": "AJO",
            "correlationID": message,
            "strategies": [{"strategyID": "emulator", "treatmentID": "emulator"}],
            "characteristics": {"eventToken": ids::base64url(token.to_string().as_bytes(), true)},
            "activity": {"id": format!("{campaign}#{}", stable_uuid(&format!("action:{surface}")))},
        },
        "items": [{"id": stable_uuid(&format!("item:{surface}")), "schema": schema, "data": data}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(scope: &str) -> Requested<'_> {
        Requested {
            scope,
            surface: false,
        }
    }

    #[test]
    fn owners_by_scope_form() {
        let od = "eyJ4ZG06YWN0aXZpdHlJZCI6Inhjb3JlOm9mZmVyLWFjdGl2aXR5OjE0ZWZjYTg5NDE4OTUxODEiLCJ4ZG06cGxhY2VtZW50SWQiOiJ4Y29yZTpvZmZlci1wbGFjZW1lbnQ6MTJkNTQ0YWU1NGU3ZTdkYiJ9";
        assert_eq!(
            offer_decisioning(od),
            Some(Owner::OfferDecisioning {
                activity: "xcore:offer-activity:14efca8941895181".into(),
                placement: "xcore:offer-placement:12d544ae54e7e7db".into(),
            })
        );
        // Unprefixed names, as the older docs write them.
        let plain = ids::base64url(br#"{"activityId":"a","placementId":"p"}"#, true);
        assert!(offer_decisioning(&plain).is_some());
        assert_eq!(offer_decisioning("eyJnotbase64!"), None);
        assert_eq!(offer_decisioning("sample-json-offer"), None);
    }

    #[test]
    fn stable_and_distinct() {
        let none = Map::new();
        assert_eq!(
            proposition(&scope("a"), &none),
            proposition(&scope("a"), &none)
        );
        assert_ne!(
            proposition(&scope("a"), &none).unwrap()["id"],
            proposition(&scope("b"), &none).unwrap()["id"]
        );
        assert_eq!(stable_uuid("x").len(), 36);
    }

    #[test]
    fn configured_content_null_and_whole_propositions() {
        let mut conf = Map::new();
        conf.insert("hero".into(), json!({"heroImageName": "b.png"}));
        conf.insert("html".into(), json!("<p>hi</p>"));
        conf.insert("nothing".into(), Value::Null);
        conf.insert(
            "given".into(),
            json!({"items": [{"id": "1"}], "extra": true}),
        );
        let hero = proposition(&scope("hero"), &conf).unwrap();
        assert_eq!(
            hero["items"][0]["data"]["content"]["heroImageName"],
            "b.png"
        );
        let html = proposition(&scope("html"), &conf).unwrap();
        assert_eq!(html["items"][0]["schema"], TARGET_HTML);
        assert_eq!(proposition(&scope("nothing"), &conf), None);
        let given = proposition(&scope("given"), &conf).unwrap();
        assert_eq!(given["items"], json!([{"id": "1"}]));
        assert_eq!(given["extra"], true);
        assert_eq!(given["scope"], "given");
        assert_eq!(given["scopeDetails"]["decisionProvider"], "TGT");
    }
}

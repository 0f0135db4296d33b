//! RFC 7807 problem bodies as Edge writes them (edge-api.md §3.4).

use serde_json::{json, Value};

use crate::http::{reason, Response};

pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// An Edge fatal error: `type` names the EXEG code, `report.requestId` correlates.
pub(crate) fn exeg(code: &str, title: &str, detail: &str, request_id: &str) -> Response {
    exeg_with_report(code, title, detail, json!({ "requestId": request_id }))
}

pub(crate) fn exeg_with_report(code: &str, title: &str, detail: &str, report: Value) -> Response {
    let status = status_of(code);
    let body = json!({
        "type": format!("https://ns.adobe.com/aep/errors/{code}"),
        "status": status,
        "title": title,
        "detail": detail,
        "report": report,
    });
    Response::new(status).with_body(PROBLEM_JSON, body.to_string().into_bytes())
}

/// A problem without an EXEG code (unknown path, wrong method, a fault status Edge
/// documents no code for). `about:blank` is RFC 7807's "no further meaning" type.
pub(crate) fn generic(status: u16, detail: &str, request_id: Option<&str>) -> Response {
    let mut body = json!({
        "type": "about:blank",
        "status": status,
        "title": reason(status),
        "detail": detail,
    });
    if let Some(id) = request_id {
        body["report"] = json!({ "requestId": id });
    }
    Response::new(status).with_body(PROBLEM_JSON, body.to_string().into_bytes())
}

/// The problem an injected fault status answers with: the EXEG code Edge uses for that
/// status where there is one, else a generic problem.
pub(crate) fn for_status(status: u16, request_id: &str) -> Response {
    // Titles and details: the recorded 504 in tests/fixtures/real/ (alloy), else the code
    // table of Adobe's troubleshooting page (data-collection-apis), word for word.
    let exeg_code = match status {
        503 => Some((
            "EXEG-0000-503",
            "Service unavailable",
            "The service is temporarily unable to process your request. Try again later.",
        )),
        500 => Some((
            "EXEG-0001-500",
            "Unexpected error",
            "An unexpected error has occurred while processing the request. Please try again. If this error persists, contact your Adobe representative.",
        )),
        502 => Some((
            "EXEG-0202-502",
            "The service failed to process this request",
            "The 'com.adobe.experience.platform.ode' service failed to process this request. Check your input/configuration and try again.",
        )),
        504 => Some((
            "EXEG-0200-504",
            "The service call has timed out.",
            "The service call to 'com.adobe.experience.platform.ode' exceeded the allowed time and was canceled. Try again.",
        )),
        _ => None,
    };
    match exeg_code {
        Some((code, title, detail)) => exeg(code, title, detail, request_id),
        None if status == 429 => generic(
            429,
            "The request rate for this organization exceeded its limit. Try again later.",
            Some(request_id),
        ),
        None => generic(status, "Injected by the emulator.", Some(request_id)),
    }
}

/// The HTTP status is the last part of an EXEG code.
fn status_of(code: &str) -> u16 {
    code.rsplit('-')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Response) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn exeg_problem_shape() {
        let r = exeg("EXEG-0003-400", "Invalid datastream ID", "d", "rid");
        assert_eq!(r.status, 400);
        let b = body(&r);
        assert_eq!(b["type"], "https://ns.adobe.com/aep/errors/EXEG-0003-400");
        assert_eq!(b["status"], 400);
        assert_eq!(b["report"]["requestId"], "rid");
        let keys: Vec<_> = b.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["type", "status", "title", "detail", "report"]);
    }

    #[test]
    fn fault_statuses_map_to_codes() {
        assert_eq!(
            body(&for_status(503, "r"))["type"],
            "https://ns.adobe.com/aep/errors/EXEG-0000-503"
        );
        assert_eq!(body(&for_status(504, "r"))["status"], 504);
        // The documented wording, as the real bodies have it.
        assert_eq!(body(&for_status(503, "r"))["title"], "Service unavailable");
        assert_eq!(
            body(&for_status(504, "r"))["title"],
            "The service call has timed out."
        );
        assert_eq!(body(&for_status(429, "r"))["title"], "Too Many Requests");
        assert_eq!(body(&for_status(418, "r"))["type"], "about:blank");
    }
}

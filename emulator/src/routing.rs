//! Which endpoint and which cluster a request is for (edge-api.md §1.1, §4): the base path
//! (`ee`, or the pre-production `ee-pre-prd`), a location hint in the path or in the host,
//! and the endpoint.

use crate::edge::Endpoint;
use crate::Options;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// An Edge endpoint served by `cluster` (the hint in the path or the host, or the
    /// default).
    Edge {
        endpoint: Endpoint,
        cluster: String,
    },
    /// A hint that names no known cluster: 404 with an empty body.
    UnknownHint,
    Ims,
    NotFound,
}

/// Routes `path` (on `host`, the request's Host header). The base path is `ee` or the
/// pre-production `ee-pre-prd`; a hint comes from the path (`/ee/{hint}/v2/...`) or, when
/// the path has none, from the host (`{hint}.server.adobedc.net`, any `{hint}.{domain}`).
pub(crate) fn route(options: &Options, host: Option<&str>, path: &str) -> Route {
    if path == "/ims/token/v3" {
        return Route::Ims;
    }
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let ["ee" | "ee-pre-prd", rest @ ..] = segments.as_slice() else {
        return Route::NotFound;
    };
    let (hint, endpoint) = match Endpoint::from_segments(rest) {
        Some(endpoint) => match host_hint(options, host) {
            Ok(hint) => (hint, endpoint),
            Err(()) => return Route::UnknownHint,
        },
        None => {
            let [hint, rest @ ..] = rest else {
                return Route::NotFound;
            };
            let Some(endpoint) = Endpoint::from_segments(rest) else {
                return Route::NotFound;
            };
            match known_hint(options, hint) {
                Some(known) => (Some(known), endpoint),
                None => return Route::UnknownHint,
            }
        }
    };
    Route::Edge {
        endpoint,
        cluster: hint.unwrap_or(&options.default_hint).to_string(),
    }
}

fn known_hint<'a>(options: &'a Options, hint: &str) -> Option<&'a str> {
    options
        .hints
        .iter()
        .find(|h| h.eq_ignore_ascii_case(hint))
        .map(String::as_str)
}

/// The hint in a Host of the form `{hint}.{domain}`: its first label when that is a known
/// hint. On Adobe's own hosts (`*.server.adobedc.net`, `*.edge.adobedc.net`) a first label
/// that is not one is an unknown hint (`Err`); any other host (an IP address, `localhost`,
/// `edge.adobedc.net`, a CNAME) carries no hint.
fn host_hint<'a>(options: &'a Options, host: Option<&str>) -> Result<Option<&'a str>, ()> {
    let Some(host) = host.filter(|h| !h.starts_with('[')) else {
        return Ok(None);
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let Some((first, domain)) = name.split_once('.') else {
        return Ok(None);
    };
    if domain.is_empty() || name.parse::<std::net::IpAddr>().is_ok() {
        return Ok(None);
    }
    if let Some(known) = known_hint(options, first) {
        return Ok(Some(known));
    }
    let adobe = ["server.adobedc.net", "edge.adobedc.net"];
    if adobe.iter().any(|d| domain.eq_ignore_ascii_case(d)) {
        return Err(());
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(endpoint: Endpoint, cluster: &str) -> Route {
        Route::Edge {
            endpoint,
            cluster: cluster.into(),
        }
    }

    #[test]
    fn routes_paths_and_hints() {
        let o = Options::default();
        let r = |path| route(&o, None, path);
        assert_eq!(r("/ee/v2/interact"), edge(Endpoint::InteractV2, "or2"));
        assert_eq!(
            r("/ee/irl1/v1/privacy/set-consent"),
            edge(Endpoint::SetConsent, "irl1")
        );
        assert_eq!(
            r("/ee-pre-prd/va6/v2/collect"),
            edge(Endpoint::CollectV2, "va6")
        );
        assert_eq!(
            r("/ee-pre-prd/v2/interact"),
            edge(Endpoint::InteractV2, "or2")
        );
        assert_eq!(r("/ee/bogus/v2/collect"), Route::UnknownHint);
        assert_eq!(r("/ee/v3/interact"), Route::NotFound);
        assert_eq!(r("/ee/or2/v2/other"), Route::NotFound);
        assert_eq!(r("/v2/interact"), Route::NotFound);
        assert_eq!(r("/ee-stage/v2/interact"), Route::NotFound);
        assert_eq!(r("/ims/token/v3"), Route::Ims);
    }

    #[test]
    fn routes_hosts() {
        let o = Options::default();
        let r = |host| route(&o, Some(host), "/ee/v2/interact");
        assert_eq!(
            r("irl1.server.adobedc.net"),
            edge(Endpoint::InteractV2, "irl1")
        );
        assert_eq!(
            r("JPN3.server.adobedc.net:443"),
            edge(Endpoint::InteractV2, "jpn3")
        );
        assert_eq!(r("va6.edge.example.com"), edge(Endpoint::InteractV2, "va6"));
        assert_eq!(r("nope.server.adobedc.net"), Route::UnknownHint);
        for plain in [
            "server.adobedc.net",
            "edge.adobedc.net",
            "127.0.0.1:8080",
            "[::1]:8080",
            "localhost:1",
            "metrics.example.com",
        ] {
            assert_eq!(r(plain), edge(Endpoint::InteractV2, "or2"), "{plain}");
        }
        // A hint in the path wins over the host's.
        assert_eq!(
            route(&o, Some("irl1.server.adobedc.net"), "/ee/va6/v2/interact"),
            edge(Endpoint::InteractV2, "va6")
        );
    }
}

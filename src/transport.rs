//! One pooled HTTP agent per client: TLS roots, proxy, timeouts, a response
//! size cap, no redirects. Sends one attempt and says precisely how it failed;
//! deciding what to do about it is `retry`'s job.

use crate::config::{Config, ProxySetting, RootStore};
use crate::direct::Direct;
use crate::error::{Error, Result};
use crate::resolver::CachingResolver;
use crate::response::RawResponse;
use std::io::{self, Read};
use std::time::Duration;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::Agent;

/// [`USER_AGENT`] as a literal, for `concat!` (direct.rs's default headers).
macro_rules! user_agent {
    () => {
        concat!("aep-edge/", env!("CARGO_PKG_VERSION"))
    };
}
pub(crate) use user_agent;

/// `User-Agent` of every request: the product and its version.
pub const USER_AGENT: &str = user_agent!();

/// Why an attempt produced no HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Refused or unreachable: nothing was sent.
    Connect(String),
    /// No connection within the connect timeout: nothing was sent.
    ConnectTimeout,
    /// The request went out but no complete response came in time.
    ReadTimeout,
    /// The connection broke during the exchange.
    Reset(String),
    /// The TLS handshake failed for a reason that may pass.
    Tls(String),
    /// The server's certificate is not trusted: retrying cannot help.
    Certificate(String),
    /// The host name does not resolve.
    Dns(String),
    /// The response body is larger than the configured cap.
    TooLarge(u64),
    /// The status line of `status` arrived but the body was cut off (or
    /// timed out): the server may have processed the request.
    CutBody {
        status: u16,
        timed_out: bool,
        detail: String,
    },
    /// An `https://` URL answered by a server that does not speak TLS.
    NotTls(String),
    /// Anything else: not retried.
    Other(String),
}

impl Failure {
    pub fn describe(&self) -> String {
        match self {
            Failure::Connect(m) => format!("could not connect: {m}"),
            Failure::ConnectTimeout => "timed out connecting".into(),
            Failure::ReadTimeout => "timed out waiting for the response".into(),
            Failure::Reset(m) => format!("the connection was reset: {m}"),
            Failure::Tls(m) => format!("the TLS handshake failed: {m}"),
            Failure::Certificate(m) => format!("the server's certificate is not trusted: {m}"),
            Failure::Dns(m) => format!("the host name does not resolve: {m}"),
            Failure::TooLarge(limit) => {
                format!("the response body is larger than the {limit}-byte limit")
            }
            Failure::CutBody {
                status,
                timed_out: true,
                ..
            } => format!(
                "HTTP {status} arrived but its body did not arrive in time (the server may have processed the request)"
            ),
            Failure::CutBody { status, detail, .. } => format!(
                "HTTP {status} arrived but its body was cut off: {detail} (the server may have processed the request)"
            ),
            Failure::NotTls(m) => format!(
                "the server does not speak TLS: is it a plain http:// server behind an https:// URL? ({m})"
            ),
            Failure::Other(m) => m.clone(),
        }
    }

    /// Whether the attempt ran out of time (rather than failing).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            Failure::ReadTimeout
                | Failure::ConnectTimeout
                | Failure::CutBody {
                    timed_out: true,
                    ..
                }
        )
    }

    /// The HTTP status that arrived before the failure, if any.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Failure::CutBody { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The HTTP side of a client: [`Direct`] without a proxy, ureq through one.
pub struct Transport {
    /// `None` when a proxy is configured.
    direct: Option<Direct>,
    agent: Agent,
    connect_timeout: Duration,
    /// The agent's own per-attempt timeout (`timeouts.requestMs`).
    request_timeout: Duration,
    max_response_bytes: u64,
}

impl Transport {
    pub fn new(config: &Config) -> Result<Transport> {
        let roots = root_certs(config)?;
        let tls = TlsConfig::builder().root_certs(roots.clone()).build();
        let proxy = match &config.proxy {
            ProxySetting::None => None,
            ProxySetting::Url(url) => Some(
                ureq::Proxy::new(url.expose())
                    .map_err(|_| Error::invalid_config("proxy.url is not a valid proxy URL"))?,
            ),
            // An unset or unparsable environment means no proxy, as with curl.
            ProxySetting::FromEnv => ureq::Proxy::try_from_env(),
        };
        if let (ProxySetting::FromEnv, Some(p)) = (&config.proxy, &proxy) {
            // Known only now: the environment's proxy must pass the same rule
            // as proxy.url (plain text never leaves the machine).
            let why = crate::config::plain_http_through_proxy(
                &config.origin,
                &config.auth,
                p.host(),
                "the environment's proxy (proxy.fromEnv)",
            );
            if let Some(why) = why {
                return Err(Error::invalid_config(why));
            }
        }
        let resolver = CachingResolver::new(
            config.resolve.clone().into_iter().collect(),
            config.timeouts.connect,
        );
        let direct = proxy.is_none().then(|| {
            Direct::new(
                resolver.clone(),
                roots,
                config.timeouts.connect,
                config.max_response_bytes,
                config.max_connections,
            )
        });
        let agent_config = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(proxy)
            .tls_config(tls)
            .user_agent(USER_AGENT)
            .accept("application/json")
            .max_idle_connections(config.max_connections)
            .max_idle_connections_per_host(config.max_connections)
            .timeout_connect(Some(config.timeouts.connect))
            .timeout_per_call(Some(config.timeouts.request))
            .build();
        let agent = Agent::with_parts(agent_config, connectors(), resolver);
        Ok(Transport {
            direct,
            agent,
            connect_timeout: config.timeouts.connect,
            request_timeout: config.timeouts.request,
            max_response_bytes: config.max_response_bytes,
        })
    }

    /// POSTs `body` and reads the whole response within `timeout`.
    pub fn post(
        &self,
        url: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> std::result::Result<RawResponse, Failure> {
        if let Some(direct) = &self.direct {
            return direct.post(url, content_type, headers, body, timeout);
        }
        let mut request = self.agent.post(url);
        // A request-level config copies the agent's whole config: only when
        // the call's deadline cuts this attempt short of the configured timeouts.
        if timeout < self.request_timeout {
            request = request
                .config()
                .timeout_per_call(Some(timeout))
                .timeout_connect(Some(self.connect_timeout.min(timeout)))
                .build();
        }
        let mut request = request.header("content-type", content_type);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request.send(body).map_err(classify)?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let retry_after = header("retry-after");
        let region = header("x-adobe-edge");
        let mut facts = crate::response::HeaderFacts::default();
        for (i, name) in crate::visitor::FACT_HEADERS.iter().enumerate() {
            if let Some(v) = header(name) {
                facts.keep_first(i, &v);
            }
        }
        let status = response.status().as_u16();
        // Sized from Content-Length (within the cap) instead of grown from
        // nothing by probing reads.
        let expected = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            .min(self.max_response_bytes)
            .min(1024 * 1024);
        let mut body = Vec::with_capacity(expected as usize + 1);
        response
            .body_mut()
            .with_config()
            .limit(self.max_response_bytes)
            .reader()
            .read_to_end(&mut body)
            .map_err(|e| match classify(ureq::Error::from(e)) {
                too_large @ Failure::TooLarge(_) => too_large,
                cut => Failure::CutBody {
                    status,
                    timed_out: cut.is_timeout(),
                    detail: cut.describe(),
                },
            })?;
        Ok(RawResponse {
            status,
            body,
            retry_after,
            region,
            facts,
        })
    }
}

/// ureq's default chain (SOCKS, CONNECT proxy, TCP, rustls), for proxies.
fn connectors() -> impl ureq::unversioned::transport::Connector {
    use ureq::unversioned::transport::{
        ConnectProxyConnector, Connector, RustlsConnector, SocksConnector, TcpConnector,
    };
    ().chain(SocksConnector::default())
        .chain(ConnectProxyConnector::default())
        .chain(TcpConnector::default())
        .chain(RustlsConnector::default())
}

/// Percent-encodes a query or form value: all but RFC 3986 unreserved characters.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    push_percent_encoded(&mut out, value);
    out
}

/// [`percent_encode`] appended to `out` (the URL of every call: no String of its own).
pub fn push_percent_encoded(out: &mut String, value: &str) {
    // A table: this runs over the request id on every call.
    static UNRESERVED: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~');
            b += 1;
        }
        table
    };
    let unreserved = |b: u8| UNRESERVED[usize::from(b)];
    if value.bytes().all(unreserved) {
        out.push_str(value);
        return;
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in value.bytes() {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

fn root_certs(config: &Config) -> Result<RootCerts> {
    let extra = match &config.tls.ca_file {
        None => Vec::new(),
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                Error::invalid_config(format!("tls.caFile {} cannot be read: {e}", path.display()))
            })?;
            let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(Error::invalid_config(format!(
                    "tls.caFile {} holds no PEM certificate",
                    path.display()
                )));
            }
            certs
        }
    };
    let base: Vec<Certificate<'static>> = match config.tls.roots {
        RootStore::Bundled if extra.is_empty() => return Ok(RootCerts::WebPki),
        RootStore::Bundled => webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|der| Certificate::from_der(der.as_ref()).to_owned())
            .collect(),
        RootStore::System => {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() && extra.is_empty() {
                return Err(Error::invalid_config(
                    "tls.roots is \"system\" but no system root certificates were found",
                ));
            }
            found
                .certs
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()).to_owned())
                .collect()
        }
    };
    Ok(RootCerts::new_with_certs(
        &base.into_iter().chain(extra).collect::<Vec<_>>(),
    ))
}

/// Sorts a ureq error into what the retry table needs to know.
fn classify(error: ureq::Error) -> Failure {
    use ureq::Timeout as T;
    match error {
        ureq::Error::Timeout(T::Resolve | T::Connect) => Failure::ConnectTimeout,
        ureq::Error::Timeout(_) => Failure::ReadTimeout,
        ureq::Error::ConnectionFailed => Failure::Connect("connection failed".into()),
        ureq::Error::HostNotFound => Failure::Dns("host not found".into()),
        ureq::Error::BodyExceedsLimit(limit) => Failure::TooLarge(limit),
        ureq::Error::Tls(m) => Failure::Tls(m.to_string()),
        ureq::Error::Rustls(e) => classify_rustls(&e),
        ureq::Error::Io(e) => classify_io(e),
        ureq::Error::Protocol(e) => Failure::Reset(format!("malformed HTTP response: {e}")),
        other => Failure::Other(other.to_string()),
    }
}

pub(crate) fn classify_io(e: io::Error) -> Failure {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused | K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => {
            Failure::Connect(e.to_string())
        }
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            Failure::Reset(e.to_string())
        }
        K::TimedOut | K::WouldBlock => Failure::ReadTimeout,
        _ => {
            // rustls reports handshake problems as io errors wrapping rustls::Error.
            let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
            match inner {
                Some(rustls_error) => classify_rustls(rustls_error),
                None => Failure::Other(e.to_string()),
            }
        }
    }
}

fn classify_rustls(e: &rustls::Error) -> Failure {
    match e {
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
            Failure::Certificate(e.to_string())
        }
        // The first bytes were not a TLS record: "HTTP/1.1 ..." from a plain server.
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            Failure::NotTls(e.to_string())
        }
        other => Failure::Tls(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_percent_encoded() {
        assert_eq!(percent_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(percent_encode("Ab-1._~"), "Ab-1._~");
    }
}

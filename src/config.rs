//! The client configuration (design.md §3.1): parsed strictly from JSON, every
//! value validated, unknown keys rejected by name.

use crate::error::{Error, Result};
use crate::json_fields::Fields;
use crate::secret::Secret;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The largest config JSON accepted, checked before parsing.
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;

/// Whether the client keeps the visitor's Edge state itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionMode {
    /// This client is one device or visitor and keeps its state (games, kiosks).
    Device,
    /// The caller passes each visitor's state per call (servers).
    None,
}

/// How requests are authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthConfig {
    None,
    /// A static IMS access token; `api_key` is the OAuth client id sent as `x-api-key`.
    Token {
        access_token: Secret,
        api_key: String,
    },
    /// OAuth server-to-server: tokens fetched from IMS with the client
    /// credentials, cached and refreshed. `client_id` is also the `x-api-key`.
    OAuth {
        client_id: String,
        client_secret: Secret,
        scopes: String,
        token_url: String,
    },
}

/// Adobe IMS's token endpoint for OAuth server-to-server credentials.
pub const DEFAULT_TOKEN_URL: &str = "https://ims-na1.adobelogin.com/ims/token/v3";

/// The collect consent assumed before the visitor decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultConsent {
    In,
    /// Calls wait (up to their deadline) until consent is set.
    Pending,
}

/// Where the Edge Network is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// `https` or `http` (loopback only).
    pub scheme: String,
    /// Host and optional port, as written in a URL authority.
    pub authority: String,
}

impl Origin {
    /// `scheme://authority`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// One attempt, from sending to the last byte of the response.
    pub request: Duration,
    /// A whole call: every attempt and wait.
    pub total: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Whether a read timeout is retried (the server may have processed the request).
    pub retry_read_timeouts: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootStore {
    /// Mozilla's roots, compiled in.
    Bundled,
    /// The operating system's roots.
    System,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    pub roots: RootStore,
    /// A PEM file whose certificates are trusted in addition to `roots`.
    pub ca_file: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxySetting {
    None,
    Url(Secret),
    FromEnv,
}

/// A validated configuration. Build it with [`Config::from_json`] or
/// [`Config::from_value`]; `Debug` never shows a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub datastream_id: String,
    pub org_id: Option<String>,
    pub session: SessionMode,
    pub auth: AuthConfig,
    pub origin: Origin,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    pub tls: TlsSettings,
    pub proxy: ProxySetting,
    pub max_connections: usize,
    /// Responses larger than this are refused (`INVALID_RESPONSE`).
    pub max_response_bytes: u64,
    /// Where the session is persisted (session `device` only).
    pub state_path: Option<PathBuf>,
    pub default_consent: DefaultConsent,
    /// Server-side visitors (design.md §3.8): context headers sent with every
    /// call, where a hint goes in the URL, and the base path (`ee`, `ee-pre-prd`).
    pub headers: crate::visitor::Headers,
    pub hint_form: crate::visitor::HintForm,
    pub edge_base_path: &'static str,
    /// Host name (lower case) → the address to connect to instead of looking
    /// it up (`resolve`); TLS still verifies the name.
    pub resolve: BTreeMap<String, SocketAddr>,
    /// The durable event queue of `send_event` (design.md §3.7).
    pub queue: QueueConfig,
    /// The worker pool behind the async calls (`async`).
    pub async_calls: AsyncSettings,
}

/// How hard the queue file is synced to disk on every stored event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueSync {
    /// SQLite `synchronous=NORMAL` in WAL mode: survives a process crash.
    Normal,
    /// `synchronous=FULL`: also survives power loss, at the cost of an fsync per event.
    Full,
}

/// Config `queue`: where events wait for delivery and how they are batched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// The SQLite file; `None` keeps the queue in memory (lost on a crash).
    pub path: Option<PathBuf>,
    pub max_events: u64,
    /// Bound on the stored bytes (event and meta JSON).
    pub max_bytes: u64,
    /// How long a batch may wait to fill before it is sent.
    pub flush_interval: Duration,
    pub max_batch_events: usize,
    pub sync: QueueSync,
}

impl Default for QueueConfig {
    fn default() -> QueueConfig {
        QueueConfig {
            path: None,
            max_events: 100_000,
            max_bytes: 64 * 1024 * 1024,
            flush_interval: Duration::from_millis(1000),
            max_batch_events: 100,
            sync: QueueSync::Normal,
        }
    }
}

/// `async`: the threads that run async calls and how many calls may wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsyncSettings {
    /// Worker threads, started at the first async call (1 to 256).
    pub workers: usize,
    /// Calls waiting, running, or finished but not yet polled, at most.
    pub max_pending: usize,
}

impl Default for AsyncSettings {
    fn default() -> AsyncSettings {
        AsyncSettings {
            workers: 4,
            max_pending: 1024,
        }
    }
}

const DEFAULT_MAX_RESPONSE_BYTES: u64 = 8 * 1024 * 1024;
const ONE_DAY_MS: u64 = 24 * 3600 * 1000;

/// Settings of design.md §3.1 that later work implements. Refused by name
/// rather than ignored, so nobody believes they are in effect.
const NOT_YET_SUPPORTED: &[&str] = &[];

impl Config {
    /// Parses and validates a config JSON string.
    pub fn from_json(text: &str) -> Result<Config> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(Error::invalid_config(format!(
                "the config is {} bytes; at most {MAX_CONFIG_BYTES} are accepted",
                text.len()
            )));
        }
        let value: Value = serde_json::from_str(text).map_err(|e| {
            Error::new(
                crate::ErrorKind::InvalidJson,
                format!("the config is not valid JSON: {e}"),
            )
        })?;
        Config::from_value(&value)
    }

    /// Validates a parsed config.
    pub fn from_value(value: &Value) -> Result<Config> {
        parse(value).map_err(Error::invalid_config)
    }
}

fn parse(value: &Value) -> std::result::Result<Config, String> {
    let mut top =
        Fields::new("", value).map_err(|_| "the config must be a JSON object".to_string())?;

    let datastream_id = top.required_string("datastreamId")?;
    check_token_chars("datastreamId", datastream_id)?;

    let org_id = top.string("orgId")?;
    if let Some(org) = org_id {
        if !org.ends_with("@AdobeOrg") || org.len() <= "@AdobeOrg".len() {
            return Err(format!(
                "orgId must be an IMS organization id ending in @AdobeOrg, not {org:?}"
            ));
        }
        check_token_chars("orgId", org)?;
    }

    let session = match top.string("session")? {
        None | Some("device") => SessionMode::Device,
        Some("none") => SessionMode::None,
        Some(other) => {
            return Err(format!(
                "session must be \"device\" or \"none\", not {other:?}"
            ))
        }
    };

    let auth = match top.take("auth") {
        None => AuthConfig::None,
        Some(v) => parse_auth(v)?,
    };
    if auth != AuthConfig::None && org_id.is_none() {
        return Err("orgId is required when auth is set".into());
    }

    let edge_domain = top.string("edgeDomain")?;
    let base_url = top.string("baseUrl")?;
    let from_base_url = base_url.is_some();
    let origin = match (edge_domain, base_url) {
        (Some(_), Some(_)) => return Err("give edgeDomain or baseUrl, not both".into()),
        (None, Some(url)) => parse_base_url(url)?,
        (Some(domain), None) => Origin {
            scheme: "https".into(),
            authority: parse_domain(domain)?,
        },
        (None, None) => Origin {
            scheme: "https".into(),
            authority: match auth {
                AuthConfig::None => "edge.adobedc.net".into(),
                _ => "server.adobedc.net".into(),
            },
        },
    };

    let mut timeouts = Timeouts {
        connect: Duration::from_millis(5000),
        request: Duration::from_millis(10_000),
        total: Duration::from_millis(30_000),
    };
    if let Some(v) = top.take("timeouts") {
        let mut t = Fields::new("timeouts", v)?;
        let ms = |t: &mut Fields, k| t.integer(k, 1, ONE_DAY_MS);
        if let Some(v) = ms(&mut t, "connectMs")? {
            timeouts.connect = Duration::from_millis(v);
        }
        if let Some(v) = ms(&mut t, "requestMs")? {
            timeouts.request = Duration::from_millis(v);
        }
        if let Some(v) = ms(&mut t, "totalMs")? {
            timeouts.total = Duration::from_millis(v);
        }
        t.finish()?;
    }

    let mut retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1000),
        max_delay: Duration::from_millis(30_000),
        retry_read_timeouts: true,
    };
    if let Some(v) = top.take("retry") {
        let mut r = Fields::new("retry", v)?;
        if let Some(v) = r.integer("maxAttempts", 1, 100)? {
            retry.max_attempts = v as u32;
        }
        if let Some(v) = r.integer("baseDelayMs", 0, ONE_DAY_MS)? {
            retry.base_delay = Duration::from_millis(v);
        }
        if let Some(v) = r.integer("maxDelayMs", 0, ONE_DAY_MS)? {
            retry.max_delay = Duration::from_millis(v);
        }
        if let Some(v) = r.bool("retryReadTimeouts")? {
            retry.retry_read_timeouts = v;
        }
        r.finish()?;
        if retry.max_delay < retry.base_delay {
            return Err("retry.maxDelayMs must not be less than retry.baseDelayMs".into());
        }
    }

    let mut tls = TlsSettings {
        roots: RootStore::Bundled,
        ca_file: None,
    };
    if let Some(v) = top.take("tls") {
        let mut t = Fields::new("tls", v)?;
        tls.roots = match t.string("roots")? {
            None | Some("bundled") => RootStore::Bundled,
            Some("system") => RootStore::System,
            Some(other) => {
                return Err(format!(
                    "tls.roots must be \"bundled\" or \"system\", not {other:?}"
                ))
            }
        };
        if let Some(path) = t.string("caFile")? {
            if path.is_empty() {
                return Err("tls.caFile must not be empty".into());
            }
            tls.ca_file = Some(PathBuf::from(path));
        }
        t.finish()?;
    }

    let mut proxy = ProxySetting::None;
    if let Some(v) = top.take("proxy") {
        let mut p = Fields::new("proxy", v)?;
        let url = p.string("url")?;
        let from_env = p.bool("fromEnv")?.unwrap_or(false);
        p.finish()?;
        proxy = match (url, from_env) {
            (Some(_), true) => return Err("give proxy.url or proxy.fromEnv, not both".into()),
            (Some(url), false) => {
                let host = check_proxy_url(url)?;
                if let Some(why) = plain_http_through_proxy(&origin, &auth, &host, "proxy.url") {
                    return Err(why);
                }
                ProxySetting::Url(Secret::new(url))
            }
            (None, true) => ProxySetting::FromEnv,
            (None, false) => ProxySetting::None,
        };
    }

    let max_connections = top.integer("maxConnections", 1, 1024)?.unwrap_or(16) as usize;
    let max_response_bytes = top
        .integer("maxResponseBytes", 1024, 1024 * 1024 * 1024)?
        .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES);

    let state_path = match top.string("statePath")? {
        None => None,
        Some("") => return Err("statePath must not be empty".into()),
        Some(path) => Some(PathBuf::from(path)),
    };
    if state_path.is_some() && session == SessionMode::None {
        return Err(
            "statePath needs session \"device\": with session \"none\" nothing is kept".into(),
        );
    }
    let default_consent = match top.string("defaultConsent")? {
        None | Some("in") => DefaultConsent::In,
        Some("pending") => DefaultConsent::Pending,
        Some(other) => {
            return Err(format!(
                "defaultConsent must be \"in\" or \"pending\", not {other:?}"
            ))
        }
    };

    let headers = match top.take("headers") {
        None => Vec::new(),
        Some(v) => crate::visitor::parse_headers("headers", v)?,
    };
    let hint_form = crate::visitor::hint_form(top.string("hintRouting")?, &origin, from_base_url)?;
    let edge_base_path = crate::visitor::base_path(top.string("edgeBasePath")?)?;
    let resolve = match top.take("resolve") {
        None => BTreeMap::new(),
        Some(v) => parse_resolve(v)?,
    };
    check_plain_http_stays_local(&origin, &auth, &resolve)?;
    let queue = match top.take("queue") {
        None => QueueConfig::default(),
        Some(v) => parse_queue(v)?,
    };
    let mut async_calls = AsyncSettings::default();
    if let Some(v) = top.take("async") {
        let mut a = Fields::new("async", v)?;
        if let Some(n) = a.integer("workers", 1, 256)? {
            async_calls.workers = n as usize;
        }
        if let Some(n) = a.integer("maxPending", 1, 1 << 20)? {
            async_calls.max_pending = n as usize;
        }
        a.finish()?;
    }

    for key in NOT_YET_SUPPORTED {
        if top.take(key).is_some() {
            return Err(format!("{key} is not supported in this build"));
        }
    }

    top.finish()?;

    Ok(Config {
        datastream_id: datastream_id.to_string(),
        org_id: org_id.map(str::to_string),
        session,
        auth,
        origin,
        timeouts,
        retry,
        tls,
        proxy,
        max_connections,
        max_response_bytes,
        state_path,
        default_consent,
        headers,
        hint_form,
        edge_base_path,
        resolve,
        queue,
        async_calls,
    })
}

/// `{"host.name": "127.0.0.1:8443", ...}`: each key a host name, each value a
/// socket address (an IP and a port; `[v6]:port` for IPv6).
fn parse_resolve(value: &Value) -> std::result::Result<BTreeMap<String, SocketAddr>, String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "resolve must be a JSON object of host name to address, such as {{\"edge.example.com\": \"127.0.0.1:8443\"}}, not {}",
            crate::json_fields::type_name(value)
        ));
    };
    if map.len() > 256 {
        return Err("resolve has more than 256 host names".into());
    }
    let mut pinned = BTreeMap::new();
    for (host, address) in map {
        let name = host.strip_suffix('.').unwrap_or(host);
        if !is_host_name(name) {
            return Err(format!(
                "resolve keys must be host names such as edge.example.com (no scheme, port or IP address), not {host:?}"
            ));
        }
        let address = address
            .as_str()
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .ok_or_else(|| {
                format!(
                    "resolve.{host} must be a socket address such as \"127.0.0.1:8443\" or \"[::1]:8443\", not {address}"
                )
            })?;
        if pinned.insert(name.to_ascii_lowercase(), address).is_some() {
            return Err(format!("resolve names {host:?} twice"));
        }
    }
    Ok(pinned)
}

/// A DNS name: labels of letters, digits and hyphens, not an IP address.
fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.parse::<IpAddr>().is_err()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Plain HTTP is for loopback only: `resolve` must not send a loopback
/// name's traffic to another machine.
fn check_plain_http_stays_local(
    origin: &Origin,
    auth: &AuthConfig,
    resolve: &BTreeMap<String, SocketAddr>,
) -> std::result::Result<(), String> {
    let mut plain = Vec::new();
    if origin.scheme == "http" {
        plain.push(origin.authority.as_str());
    }
    if let AuthConfig::OAuth { token_url, .. } = auth {
        if let Some(rest) = token_url.strip_prefix("http://") {
            plain.push(rest.split('/').next().unwrap_or(rest));
        }
    }
    for authority in plain {
        let Some(host) = host_of(authority) else {
            continue;
        };
        if let Some(address) = resolve.get(&host.to_ascii_lowercase()) {
            if !address.ip().is_loopback() {
                return Err(format!(
                    "resolve.{host} is {address}, but {host} is reached over plain http, which may only go to loopback"
                ));
            }
        }
    }
    Ok(())
}

fn parse_queue(value: &Value) -> std::result::Result<QueueConfig, String> {
    let mut q = Fields::new("queue", value)?;
    let path = match q.string("path")? {
        None => None,
        Some("") => return Err("queue.path must not be empty".into()),
        Some(path) => Some(PathBuf::from(path)),
    };
    let mut queue = QueueConfig {
        path,
        ..QueueConfig::default()
    };
    if let Some(v) = q.integer("maxEvents", 1, 100_000_000)? {
        queue.max_events = v;
    }
    if let Some(v) = q.integer("maxBytes", 65536, 1 << 40)? {
        queue.max_bytes = v;
    }
    if let Some(v) = q.integer("flushIntervalMs", 0, ONE_DAY_MS)? {
        queue.flush_interval = Duration::from_millis(v);
    }
    if let Some(v) = q.integer("maxBatchEvents", 1, 1000)? {
        queue.max_batch_events = v as usize;
    }
    queue.sync = match q.string("sync")? {
        None | Some("normal") => QueueSync::Normal,
        Some("full") => QueueSync::Full,
        Some(other) => {
            return Err(format!(
                "queue.sync must be \"normal\" or \"full\", not {other:?}"
            ))
        }
    };
    q.finish()?;
    Ok(queue)
}

fn parse_auth(value: &Value) -> std::result::Result<AuthConfig, String> {
    let mut a = Fields::new("auth", value)?;
    let auth = match a.required_string("type")? {
        "none" => AuthConfig::None,
        "token" => {
            let access_token = a.required_string("accessToken")?;
            let api_key = a.required_string("apiKey")?;
            check_token_chars("auth.accessToken", access_token)?;
            check_token_chars("auth.apiKey", api_key)?;
            AuthConfig::Token {
                access_token: Secret::new(access_token),
                api_key: api_key.to_string(),
            }
        }
        "oauth" => {
            let client_id = a.required_string("clientId")?;
            let client_secret = a.required_string("clientSecret")?;
            let scopes = a.required_string("scopes")?;
            check_token_chars("auth.clientId", client_id)?;
            let token_url = match a.string("tokenUrl")? {
                None => DEFAULT_TOKEN_URL.to_string(),
                Some(url) => parse_token_url(url)?,
            };
            AuthConfig::OAuth {
                client_id: client_id.to_string(),
                client_secret: Secret::new(client_secret),
                scopes: scopes.to_string(),
                token_url,
            }
        }
        other => {
            return Err(format!(
                "auth.type must be \"none\", \"token\" or \"oauth\", not {other:?}"
            ))
        }
    };
    a.finish()?;
    Ok(auth)
}

/// Values that end up in a URL or an HTTP header: printable ASCII, no spaces.
fn check_token_chars(name: &str, value: &str) -> std::result::Result<(), String> {
    if value.len() > 4096 {
        return Err(format!("{name} is longer than 4096 bytes"));
    }
    if value.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(format!(
            "{name} must be printable ASCII without spaces or control characters"
        ))
    }
}

/// A bare host name such as `data.example.com`: no scheme, path or port.
fn parse_domain(domain: &str) -> std::result::Result<String, String> {
    let valid = !domain.is_empty()
        && domain.len() <= 253
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !domain.starts_with(['.', '-'])
        && !domain.ends_with(['.', '-']);
    if valid {
        Ok(domain.to_ascii_lowercase())
    } else {
        Err(format!(
            "edgeDomain must be a host name such as data.example.com (no scheme, port or path), not {domain:?}"
        ))
    }
}

/// `scheme://host[:port]` with at most a trailing slash. Plain HTTP is only
/// allowed to loopback, so no token or event crosses a network unencrypted.
pub(crate) fn parse_origin(name: &str, url: &str) -> std::result::Result<Origin, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{name} must start with https:// or http://, not {url:?}"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err(format!("{name} must use https or http, not {scheme:?}"));
    }
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty()
        || authority.contains(['/', '?', '#', '@', ' '])
        || !authority.is_ascii()
    {
        return Err(format!(
            "{name} must be an origin such as https://edge.example.com or http://127.0.0.1:8080 (no path, query or user info), not {url:?}"
        ));
    }
    let host =
        host_of(authority).ok_or_else(|| format!("{name} has an invalid host or port: {url:?}"))?;
    if scheme == "http" && !is_loopback(&host) {
        return Err(format!(
            "{name} may use plain http only for loopback hosts (localhost, 127.0.0.0/8, ::1); use https for {host}"
        ));
    }
    Ok(Origin {
        scheme,
        authority: authority.to_string(),
    })
}

/// An IMS token URL: an origin and a path, https (or http to loopback).
fn parse_token_url(url: &str) -> std::result::Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("auth.tokenUrl must start with https://, not {url:?}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if path.contains(['?', '#', ' ']) || !path.is_ascii() {
        return Err("auth.tokenUrl must not have a query, fragment or spaces".into());
    }
    let origin = parse_origin("auth.tokenUrl", &format!("{scheme}://{authority}"))?;
    Ok(format!("{}{path}", origin.url()))
}

fn parse_base_url(url: &str) -> std::result::Result<Origin, String> {
    parse_origin("baseUrl", url)
}

/// The host of `host[:port]` or `[v6]:port`; `None` when the port is not a number.
fn host_of(authority: &str) -> Option<String> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => Some(host.to_string()),
            _ => after
                .strip_prefix(':')?
                .parse::<u16>()
                .ok()
                .map(|_| host.to_string()),
        }
    } else {
        match authority.split_once(':') {
            None => Some(authority.to_string()),
            Some((host, port)) if !host.is_empty() => {
                port.parse::<u16>().ok().map(|_| host.to_string())
            }
            Some(_) => None,
        }
    }
}

pub(crate) fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// Checks a proxy URL and returns its host.
fn check_proxy_url(url: &str) -> std::result::Result<String, String> {
    let lower = url.to_ascii_lowercase();
    let supported = ["http://", "https://", "socks5://", "socks5h://"];
    if !supported.iter().any(|p| lower.starts_with(p)) {
        return Err("proxy.url must start with http://, https://, socks5:// or socks5h://".into());
    }
    ureq::Proxy::new(url)
        .map(|p| p.host().to_string())
        .map_err(|_| "proxy.url is not a valid proxy URL".to_string())
}

/// Why a proxy on `proxy_host` may not be used: plain text must not leave the
/// machine (design.md §3.1), so an `http://` Edge origin or token URL goes
/// through a proxy only when the proxy itself is on loopback. `None` when it may.
pub(crate) fn plain_http_through_proxy(
    origin: &Origin,
    auth: &AuthConfig,
    proxy_host: &str,
    proxy_name: &str,
) -> Option<String> {
    let host = proxy_host.trim_start_matches('[').trim_end_matches(']');
    if is_loopback(host) {
        return None;
    }
    let plain = if origin.scheme == "http" {
        Some("baseUrl")
    } else {
        match auth {
            AuthConfig::OAuth { token_url, .. } if token_url.starts_with("http://") => {
                Some("auth.tokenUrl")
            }
            _ => None,
        }
    }?;
    Some(format!(
        "{plain} is plain http://, which is allowed only on this machine, but {proxy_name} is {host}, not a loopback proxy: the requests (tokens included) would leave the machine unencrypted; use https:// or a proxy on 127.0.0.1"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> String {
        Config::from_value(&v).unwrap_err().message
    }

    #[test]
    fn minimal_config_takes_the_defaults() {
        let c = Config::from_value(&json!({"datastreamId": "ds"})).unwrap();
        assert_eq!(c.origin.url(), "https://edge.adobedc.net");
        assert_eq!(c.session, SessionMode::Device);
        assert_eq!(c.retry.max_attempts, 3);
        assert_eq!(c.timeouts.total, Duration::from_secs(30));
        assert_eq!(c.max_connections, 16);
    }

    #[test]
    fn auth_picks_the_server_host_and_needs_an_org() {
        let auth = json!({"type": "token", "accessToken": "t0k3n", "apiKey": "key"});
        assert!(err(json!({"datastreamId": "ds", "auth": auth})).contains("orgId is required"));
        let c =
            Config::from_value(&json!({"datastreamId": "ds", "orgId": "A@AdobeOrg", "auth": auth}))
                .unwrap();
        assert_eq!(c.origin.url(), "https://server.adobedc.net");
        assert!(!format!("{c:?}").contains("t0k3n"));
    }

    #[test]
    fn unknown_keys_are_rejected_at_any_depth() {
        assert_eq!(
            err(json!({"datastreamId": "ds", "colour": 1})),
            "unknown key colour"
        );
        assert_eq!(
            err(json!({"datastreamId": "ds", "retry": {"maxAttempt": 1}})),
            "unknown key retry.maxAttempt"
        );
    }

    #[test]
    fn the_queue_takes_defaults_and_checks_its_keys() {
        let c = Config::from_value(&json!({"datastreamId": "ds", "queue": {}})).unwrap();
        assert_eq!(c.queue, QueueConfig::default());
        let c = Config::from_value(&json!({"datastreamId": "ds", "queue": {
            "path": "/tmp/q.db", "maxEvents": 10, "maxBytes": 65536,
            "flushIntervalMs": 0, "maxBatchEvents": 7, "sync": "full"}}))
        .unwrap();
        assert_eq!(
            c.queue.path.as_deref(),
            Some(std::path::Path::new("/tmp/q.db"))
        );
        assert_eq!(
            (c.queue.max_events, c.queue.max_batch_events, c.queue.sync),
            (10, 7, QueueSync::Full)
        );
        assert!(err(json!({"datastreamId": "d", "queue": {"sync": "off"}})).contains("queue.sync"));
        assert!(err(json!({"datastreamId": "d", "queue": {"maxEvents": 0}}))
            .contains("queue.maxEvents"));
        assert!(err(json!({"datastreamId": "d", "queue": {"path": ""}})).contains("queue.path"));
        assert_eq!(
            err(json!({"datastreamId": "d", "queue": {"maxBatch": 1}})),
            "unknown key queue.maxBatch"
        );
    }

    #[test]
    fn async_settings_are_bounded() {
        let c = Config::from_value(&json!({"datastreamId": "d"})).unwrap();
        assert_eq!(c.async_calls, AsyncSettings::default());
        let c = Config::from_value(
            &json!({"datastreamId": "d", "async": {"workers": 256, "maxPending": 1}}),
        )
        .unwrap();
        assert_eq!((c.async_calls.workers, c.async_calls.max_pending), (256, 1));
        for bad in [
            json!({"workers": 0}),
            json!({"workers": 257}),
            json!({"maxPending": 0}),
        ] {
            let msg = err(json!({"datastreamId": "d", "async": bad}));
            assert!(msg.starts_with("async."), "{msg}");
        }
        assert_eq!(
            err(json!({"datastreamId": "d", "async": {"threads": 2}})),
            "unknown key async.threads"
        );
    }

    #[test]
    fn oauth_state_path_and_default_consent() {
        let c = Config::from_value(&json!({
            "datastreamId": "ds", "orgId": "A@AdobeOrg",
            "auth": {"type": "oauth", "clientId": "id", "clientSecret": "s3cr3t", "scopes": "openid"},
            "statePath": "/tmp/x.json", "defaultConsent": "pending"
        }))
        .unwrap();
        assert!(
            matches!(&c.auth, AuthConfig::OAuth { token_url, .. } if token_url == DEFAULT_TOKEN_URL)
        );
        assert_eq!(c.default_consent, DefaultConsent::Pending);
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let bad = json!({"datastreamId": "ds", "orgId": "A@AdobeOrg",
            "auth": {"type": "oauth", "clientId": "id", "clientSecret": "s", "scopes": "x", "tokenUrl": "http://ims.example.com/t"}});
        assert!(err(bad).contains("loopback"));
        assert!(
            err(json!({"datastreamId": "d", "session": "none", "statePath": "/tmp/x"}))
                .contains("statePath")
        );
        assert!(
            err(json!({"datastreamId": "d", "defaultConsent": "out"})).contains("defaultConsent")
        );
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1/",
            "http://[::1]:9",
            "https://edge.example.com",
        ] {
            assert!(
                Config::from_value(&json!({"datastreamId": "d", "baseUrl": ok})).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://10.0.0.1:8080",
            "http://edge.example.com",
            "ftp://x",
            "https://x/ee",
            "https://u:p@x",
            "127.0.0.1:80",
        ] {
            assert!(
                Config::from_value(&json!({"datastreamId": "d", "baseUrl": bad})).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn plain_http_never_goes_through_a_proxy_off_the_machine() {
        let local = "http://127.0.0.1:8080";
        for proxy in [
            "http://10.0.0.1:3128",
            "socks5://proxy.example.com:1080",
            "https://proxy.example.com",
        ] {
            let msg = err(json!({"datastreamId": "d", "baseUrl": local, "proxy": {"url": proxy}}));
            assert!(
                msg.contains("baseUrl is plain http://") && msg.contains("proxy.url"),
                "{msg}"
            );
        }
        let oauth = json!({"type": "oauth", "clientId": "id", "clientSecret": "s", "scopes": "x",
            "tokenUrl": "http://127.0.0.1:9/ims/token/v3"});
        let msg = err(
            json!({"datastreamId": "d", "orgId": "A@AdobeOrg", "auth": oauth,
            "proxy": {"url": "http://10.0.0.1:3128"}}),
        );
        assert!(msg.contains("auth.tokenUrl is plain http://"), "{msg}");
        // A loopback proxy, or https everywhere, is fine.
        for (base, proxy) in [
            (local, "http://127.0.0.1:3128"),
            (local, "http://[::1]:3128"),
            (local, "socks5://localhost:1080"),
            ("https://edge.example.com", "http://10.0.0.1:3128"),
        ] {
            assert!(
                Config::from_value(
                    &json!({"datastreamId": "d", "baseUrl": base, "proxy": {"url": proxy}})
                )
                .is_ok(),
                "{base} via {proxy}"
            );
        }
    }

    #[test]
    fn a_misspelt_required_key_is_named_as_unknown() {
        let msg = err(json!({"datastreamID": "ds"}));
        assert!(msg.contains("unknown key datastreamID"), "{msg}");
        assert!(msg.contains("datastreamId"), "{msg}");
        let msg = err(json!({"datastreamId": "ds", "auth": {"tpye": "none"}}));
        assert!(msg.contains("unknown key auth.tpye"), "{msg}");
    }

    #[test]
    fn numbers_and_enums_are_validated() {
        assert!(
            err(json!({"datastreamId": "d", "timeouts": {"connectMs": 0}}))
                .contains("timeouts.connectMs")
        );
        assert!(err(json!({"datastreamId": "d", "session": "browser"})).contains("session"));
        assert!(err(json!({"datastreamId": "d", "tls": {"roots": "none"}})).contains("tls.roots"));
        assert!(err(json!({"datastreamId": "d", "maxConnections": 0})).contains("maxConnections"));
        assert!(err(json!({"datastreamId": ""})).contains("datastreamId must not be empty"));
        assert!(err(json!({})).contains("datastreamId is required"));
        assert!(err(json!([])).contains("JSON object"));
        assert!(err(json!({"datastreamId": "d", "orgId": "ABC"})).contains("@AdobeOrg"));
        assert!(
            err(json!({"datastreamId": "d", "proxy": {"url": "gopher://x"}})).contains("proxy.url")
        );
    }

    #[test]
    fn resolve_pins_host_names_to_socket_addresses() {
        let c = Config::from_value(&json!({"datastreamId": "d",
            "resolve": {"Edge.Example.com": "127.0.0.1:8443", "v6.example.com": "[::1]:9"}}))
        .unwrap();
        assert_eq!(
            c.resolve.get("edge.example.com"),
            Some(&"127.0.0.1:8443".parse().unwrap())
        );
        assert_eq!(
            c.resolve.get("v6.example.com"),
            Some(&"[::1]:9".parse().unwrap())
        );
        for (bad, named) in [
            (json!(["127.0.0.1:1"]), "resolve must be a JSON object"),
            (
                json!({"edge.example.com": "127.0.0.1"}),
                "resolve.edge.example.com",
            ),
            (
                json!({"edge.example.com": 8443}),
                "resolve.edge.example.com",
            ),
            (
                json!({"edge.example.com": "localhost:80"}),
                "resolve.edge.example.com",
            ),
            (
                json!({"https://edge.example.com": "127.0.0.1:1"}),
                "resolve keys",
            ),
            (
                json!({"edge.example.com:443": "127.0.0.1:1"}),
                "resolve keys",
            ),
            (json!({"10.0.0.1": "127.0.0.1:1"}), "resolve keys"),
            (json!({"": "127.0.0.1:1"}), "resolve keys"),
        ] {
            let msg = err(json!({"datastreamId": "d", "resolve": bad}));
            assert!(msg.contains(named), "{msg}");
        }
    }

    #[test]
    fn resolve_cannot_send_plain_http_off_the_machine() {
        let msg = err(
            json!({"datastreamId": "d", "baseUrl": "http://localhost:8080",
            "resolve": {"localhost": "10.0.0.1:8080"}}),
        );
        assert!(msg.contains("plain http"), "{msg}");
        assert!(Config::from_value(
            &json!({"datastreamId": "d", "baseUrl": "http://localhost:8080",
            "resolve": {"localhost": "127.0.0.1:9"}})
        )
        .is_ok());
        assert!(Config::from_value(
            &json!({"datastreamId": "d", "baseUrl": "https://localhost:8080",
            "resolve": {"localhost": "10.0.0.1:8080"}})
        )
        .is_ok());
    }
}

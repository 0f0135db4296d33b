//! A local stand-in for the Adobe Experience Platform Edge Network (design.md §5).
//!
//! [`Emulator::start`] runs a real HTTP/1.1 (or HTTPS) server on loopback that answers
//! like Edge does — `/ee[/{hint}]/v2/interact`, `/v2/collect`, `/v1/interact`,
//! `/v1/collect`, `/v1/privacy/set-consent` — plus an IMS token stand-in at
//! `POST /ims/token/v3`, with the real EXEG problem bodies for what it rejects.
//!
//! Like the real Edge Network it routes a hint given in the path or as the host
//! (`{hint}.server.adobedc.net`), serves `/ee-pre-prd/` like `/ee/`, refuses events without
//! an identity (EXEG-0306-400, unless [`Options::lenient_identity`]) and media types it does
//! not read (EXEG-0111-415), answers each decision scope in its owner's shape (Target,
//! Offer Decisioning, Journey Optimizer; content from [`Options::decisions`]), ignores an
//! opted-out visitor with the EXEG-0301-200 warning, and sends `x-request-id` and
//! `x-rate-limit-remaining` (429 past [`Options::rate_limit_per_sec`]).
//!
//! Tests steer it through the library ([`Emulator::inject`], [`Emulator::requests`],
//! [`Emulator::reset`]) or, from other languages, through the control endpoints under
//! `/__emulator/` (`health`, `requests`, `faults`, `reset`) on the same port.
//! `GET /__emulator/` is a live view: a web page listing requests and answers as they
//! arrive.
//!
//! Faults queue up FIFO; each Edge or IMS request takes the first one whose
//! `path_contains` matches. `delay_ms` applies first; then `reset` drops the connection,
//! `truncate` sends half of a 200 body, `malformed` sends a 200 that is not JSON, and
//! `status` (or `body`) replaces the answer; `retry_after`, `content_type` and `location` set those
//! headers on whatever is sent. A fault with only a delay answers normally after it.
//! A rejection fault ([`Fault::reject_events`]) applies only to requests holding one of
//! its events (by `xdm._id`) and refuses them with 400/413/422, or answers 207 with an
//! error per named event (`report.eventIndex`).
//!
//! No async runtime: std threads and sockets, one thread per connection.

mod consent;
mod control;
mod decisions;
mod dispatch;
mod edge;
mod faults;
mod http;
mod ids;
mod ims;
mod live_view;
mod problem;
mod ratelimit;
mod record;
mod reject;
mod routing;
mod server;
mod tls;
mod visitor;

use std::net::{IpAddr, Ipv4Addr};

pub use faults::Fault;
pub use record::RecordedRequest;
pub use server::Emulator;

/// The organisation of Adobe's documentation examples.
pub const DEFAULT_ORG_ID: &str = "53A16ACB5CC1D3760A495C99@AdobeOrg";
/// The documented EdgeNetwork location hints (edge-api.md §4).
pub const DEFAULT_HINTS: [&str; 7] = ["or2", "va6", "irl1", "ind1", "jpn3", "sgp3", "aus3"];

/// How an emulator behaves. Start from [`Options::default`].
#[derive(Clone, Debug)]
pub struct Options {
    /// Address to bind; default 127.0.0.1.
    pub bind: IpAddr,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// With an identity, serve HTTPS only.
    pub tls: Option<TlsIdentity>,
    /// Require `Authorization: Bearer`, `x-api-key` and `x-gw-ims-org-id` on the Edge
    /// endpoints; else 401 EXEG-0500-401.
    pub require_auth: bool,
    /// With `require_auth`: the bearer token must come from the IMS stand-in (or
    /// `static_tokens`) and be unexpired: unknown 401 EXEG-0502-401, expired EXEG-0503-401.
    pub validate_tokens: bool,
    /// Tokens that are always valid.
    pub static_tokens: Vec<String>,
    /// Known datastream ids; empty accepts every id, else others get 400 EXEG-0003-400.
    pub datastreams: Vec<String>,
    /// The IMS org; state keys are `kndctr_<org with @ as _>_...`.
    pub org_id: String,
    /// Known location hints; a path hint outside them is a 404 with an empty body.
    pub hints: Vec<String>,
    /// The cluster that serves requests without a hint.
    pub default_hint: String,
    /// `expires_in` of issued IMS tokens, in seconds. 0 issues tokens already expired.
    pub token_ttl_secs: u64,
    /// Accepted IMS `(client_id, client_secret)` pairs; empty accepts any non-empty pair.
    pub ims_clients: Vec<(String, String)>,
    /// How many requests [`Emulator::requests`] keeps, the oldest dropped first, so a long
    /// benchmark cannot grow memory without bound; 0 records nothing. Default 50 000.
    pub max_recorded: usize,
    /// Serve events that carry no identity at all. Off by default: like a server
    /// datastream, the emulator answers such an event with 400 EXEG-0306-400.
    pub lenient_identity: bool,
    /// Content per decision scope or surface (`--decisions FILE`): a value that is an
    /// object with `items` is the whole proposition; `null` means no proposition for that
    /// scope; anything else is the content of the one item of the canned proposition.
    pub decisions: serde_json::Map<String, serde_json::Value>,
    /// Edge requests allowed per second; beyond that 429 with `Retry-After`. None: no limit.
    pub rate_limit_per_sec: Option<u32>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            tls: None,
            require_auth: false,
            validate_tokens: false,
            static_tokens: Vec::new(),
            datastreams: Vec::new(),
            org_id: DEFAULT_ORG_ID.to_string(),
            hints: DEFAULT_HINTS.iter().map(|h| h.to_string()).collect(),
            default_hint: "or2".to_string(),
            token_ttl_secs: 86_399,
            ims_clients: Vec::new(),
            max_recorded: 50_000,
            lenient_identity: false,
            decisions: serde_json::Map::new(),
            rate_limit_per_sec: None,
        }
    }
}

/// A PEM certificate chain (leaf first) and its PEM private key (PKCS#8, PKCS#1 or SEC1).
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_chain_pem: String,
    pub key_pem: String,
}

// Written by hand so a logged `Options` never shows the private key.
impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert_chain_pem", &self.cert_chain_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

//! aep-edge: a native client for the Adobe Experience Platform Edge Network
//! Server API (`/ee/v2/interact`, `/ee/v2/collect`).
//!
//! ```no_run
//! use aep_edge::Client;
//! use serde_json::json;
//!
//! let client = Client::from_json(r#"{"datastreamId": "YOUR_DATASTREAM_ID"}"#)?;
//! let result = client.interact(json!({
//!     "event": {"xdm": {"eventType": "web.webpagedetails.pageViews"}}
//! }))?;
//! for handle in result["handle"].as_array().unwrap() {
//!     println!("{}", handle["type"]);
//! }
//! # Ok::<(), aep_edge::Error>(())
//! ```
//!
//! The layers, bottom to top: `config`, `request`, `response`, `error`;
//! `auth`, `transport`, `retry`, `lifecycle`, `log`; [`Client`]; beside it
//! `workers` (async calls, using the client); and the C ABI in `ffi` (behind
//! the default `capi` feature), which nothing else depends on.

// cbindgen reads only src/ffi: every core module is marked `cbindgen:ignore`.
// Errors are on the cold path; a flat struct keeps them easy to read and map.
#![allow(clippy::result_large_err)]

/// cbindgen:ignore
mod answer;
/// cbindgen:ignore
mod auth;
/// cbindgen:ignore
mod client;
/// cbindgen:ignore
pub mod config;
/// cbindgen:ignore
mod direct;
/// cbindgen:ignore
mod error;
/// cbindgen:ignore
mod ids;
/// cbindgen:ignore
mod json_fields;
/// cbindgen:ignore
mod json_scan;
/// cbindgen:ignore
mod lifecycle;
/// cbindgen:ignore
pub mod log;
mod process;
/// cbindgen:ignore
pub mod propositions;
pub mod queue;
/// cbindgen:ignore
pub mod request;
/// cbindgen:ignore
mod resolver;
/// cbindgen:ignore
pub mod response;
/// cbindgen:ignore
mod retry;
/// cbindgen:ignore
mod secret;
/// cbindgen:ignore
mod session;
/// cbindgen:ignore
mod transport;
/// cbindgen:ignore
pub mod visitor;
pub mod workers;

#[cfg(feature = "capi")]
pub mod ffi;

pub use client::{Client, ResultFacts};
pub use config::Config;
pub use error::{Error, ErrorKind, Result, ERROR_KINDS};
/// A random UUID v4 (the ids the client generates), for bindings that choose
/// a call's request id before the call.
pub use ids::uuid_v4;
pub use lifecycle::CloseReport;
pub use log::{Level, LogFn};
pub use queue::{OutcomeFn, Queue, QueueCloseReport};
pub use secret::Secret;
pub use transport::USER_AGENT;

/// The library version, `X.Y.Z`.
///
/// cbindgen:ignore
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

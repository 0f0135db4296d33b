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
//! `auth`, `transport`, `retry`, `lifecycle`, `log`; [`Client`]; and the C ABI
//! in `ffi` (behind the default `capi` feature), which nothing else depends on.

// Errors are on the cold path; a flat struct keeps them easy to read and map.
#![allow(clippy::result_large_err)]

mod auth;
mod client;
pub mod config;
mod error;
mod ids;
mod json_fields;
mod lifecycle;
pub mod log;
pub mod request;
pub mod response;
mod retry;
mod secret;
mod session;
mod transport;

#[cfg(feature = "capi")]
pub mod ffi;

pub use client::Client;
pub use config::Config;
pub use error::{Error, ErrorKind, Result};
pub use lifecycle::CloseReport;
pub use log::{Level, LogFn};
pub use secret::Secret;
pub use transport::USER_AGENT;

/// The library version, `X.Y.Z`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

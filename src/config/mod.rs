//! Configuration: TOML file, then `.env`, then the real environment (the last one wins), folded
//! into one validated [`Config`]. Nothing else in the crate reads settings.
//!
//! Every setting is listed once in [`SETTINGS`] (`settings.rs`): its environment variable, its TOML key and its
//! default. Parsing a value that was given but is wrong is an error naming the key; it never
//! falls back to the default.

mod database_url;
mod layers;
mod settings;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;

use crate::origin::Origin;
use crate::policy::{Policy, Routes};

pub use crate::clock::parse_duration;
pub use crate::policy::{parse_upstream, Upstream};
pub use database_url::{database_name, redact_url};
pub use layers::RawConfig;
pub use settings::{Setting, SETTINGS};
pub use validate::{parse_bool, parse_log_filter, parse_rate, resolve_upstream};

/// A configuration problem: which setting, and what is wrong with it. Printed as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error: {}: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A secret that never prints.
#[derive(Clone)]
pub struct Secret(pub Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Who may create an account over HTTP (docs/contract.md §9). An invite is accepted in every
/// mode: it is the administrator's own decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// Only `gatehouse user add` and invites make accounts.
    Closed,
    /// The same, and the sign-in page tells visitors that sign-up takes an invite link.
    Invite,
    /// Anyone may sign up; they join `registration_groups`.
    Open,
}

impl Registration {
    pub fn as_str(self) -> &'static str {
        match self {
            Registration::Closed => "closed",
            Registration::Invite => "invite",
            Registration::Open => "open",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "closed" => Some(Registration::Closed),
            "invite" => Some(Registration::Invite),
            "open" => Some(Registration::Open),
            _ => None,
        }
    }
}

/// A login rate: `count` failures per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
}

/// The validated configuration: the only configuration type the rest of the code uses.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub upstream: Upstream,
    pub upstream_timeout: Duration,
    pub header_timeout: Duration,
    pub public_paths: Vec<String>,
    /// The gateway's external origin, parsed once: redirects, CSRF and forward auth use it.
    pub public_url: Origin,
    pub allowed_redirect_hosts: Vec<String>,
    /// The WebAuthn relying party id: the given domain, or the public URL's host when that is a
    /// domain. `None` (the public URL is an IP address, which cannot be one): passkeys are off.
    pub webauthn_rp_id: Option<String>,
    pub jwt_secret: Secret,
    pub jwt_secret_generated: bool,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub session_ttl: Duration,
    pub refresh_reuse_grace: Duration,
    pub cookie_secure: bool,
    pub cookie_domain: Option<String>,
    pub registration: Registration,
    /// The groups of users who sign up without an invite: valid names, sorted, no repeats.
    pub registration_groups: Vec<String>,
    /// The policy of a route (or the implicit route) that names none.
    pub default_policy: Policy,
    /// docs/contract.md §9: the configured `[[routes]]`, or the implicit route built from
    /// `upstream`, `public_paths` and `default_policy` when there are none.
    pub routes: Routes,
    /// Whether the file gave `[[routes]]` (rather than the implicit route).
    pub routes_configured: bool,
    /// Settings that were given but mean nothing beside `[[routes]]` (docs/contract.md §9:
    /// one warning line when set).
    pub unused_with_routes: Vec<&'static str>,
    /// The configuration file read, if any: SIGHUP reads it again.
    pub file: Option<std::path::PathBuf>,
    /// docs/contract.md §11: the files of the assertion keys, signing key first; read and
    /// checked when the server is built (auth/assertion.rs).
    pub assertion_keys: Vec<std::path::PathBuf>,
    pub bcrypt_cost: u32,
    pub cache_ttl: Duration,
    pub trusted_proxies: Vec<IpNet>,
    pub login_rate: Rate,
    pub threads: usize,
    pub log: String,
    pub log_format: LogFormat,
    /// docs/contract.md §11: the public listener's certificate and key, when it speaks TLS.
    pub tls: Option<TlsFiles>,
    /// docs/contract.md §11: the plain-HTTP listener that redirects to the https public URL.
    pub redirect_listen: Option<SocketAddr>,
}

/// The PEM files of the public listener's certificate (with its chain) and private key; read
/// at start and again on SIGHUP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

impl Config {
    /// Every setting's effective value, as `(env, value)`, with secrets masked: what
    /// `config check` prints and start-up logs. Derived from the table, so it cannot miss one.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        SETTINGS.iter().map(|s| (s.env, (s.show)(self))).collect()
    }
}

pub fn process_env() -> HashMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

//! One integration binary: every test starts gatehouse on its own database and drives it over
//! loopback HTTP. Files are grouped by capability.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod assertion;
mod bad_input;
mod browser;
mod cli;
mod config_secrets;
mod console;
mod forged_tokens;
mod forward_auth;
mod groups;
mod harness;
mod instances;
mod invites;
mod log_lines;
mod logs;
mod mfa;
mod mfa_pages;
mod mfa_races;
mod openapi_contract;
mod passkeys;
mod policy_cli;
mod process;
mod proxying;
mod races;
mod real_browser;
mod real_proxies;
mod refresh;
mod register_login;
mod routes;
mod security;
mod sessions;
mod tls;

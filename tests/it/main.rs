//! One integration binary: every test starts gatehouse on its own database and drives it over
//! loopback HTTP. Files are grouped by capability.

mod bad_input;
mod forged_tokens;
mod helpers;
mod instances;
mod process;
mod proxying;
mod refresh;
mod register_login;
mod sessions;

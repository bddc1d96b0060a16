//! SIGHUP (docs/contract.md §1, §9): the configuration is read again the way it was at start
//! (file, `.env`, environment) and, if every route compiles and resolves, the new table
//! replaces the old one in one store. Requests already decided keep the route they were
//! decided on; a file that does not load changes nothing and is one error line.

use std::path::Path;
use std::sync::Arc;

use crate::config::{self, Config, RawConfig};
use crate::App;

use super::RouteTable;

/// Reads the configuration again and swaps the route table; returns the number of routes now
/// served, or one line saying why nothing changed. Blocking: it reads files and resolves
/// upstream names.
pub fn reload(app: &App) -> Result<usize, String> {
    let raw = RawConfig::load(
        app.config.file.as_deref(),
        Some(Path::new(".env")),
        &config::process_env(),
    )
    .map_err(|e| e.to_string())?;
    let config = raw.validate().map_err(|e| e.to_string())?;
    let generation = app.routes.load().generation + 1;
    let table = RouteTable::build(&config, &app.metrics, generation).map_err(|e| e.to_string())?;
    warn_unused(&config);
    let n = table.routes.len();
    app.routes.store(Arc::new(table));
    Ok(n)
}

/// docs/contract.md §9: settings that `[[routes]]` replaces are named once when given.
pub fn warn_unused(config: &Config) {
    if !config.unused_with_routes.is_empty() {
        tracing::warn!(
            "{} set but not used: [[routes]] name each route's upstream and public paths",
            config.unused_with_routes.join(" and ")
        );
    }
}

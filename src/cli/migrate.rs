//! The database before any command uses it: created if missing, migrated; and `migrate`, which
//! does only that and says what it did.

use super::{print_json, runtime, unreachable_db, Failure};
use crate::config::{self, Config};
use crate::store;

/// What [`prepare_database`] did.
pub(super) struct Prepared {
    created: bool,
    /// The migrations applied, in order (`V3__groups`).
    applied: Vec<String>,
}

/// Creates the database if missing and applies migrations, on a runtime of its own that is
/// dropped before Pingora starts its own.
pub(super) fn prepare_database(config: &Config) -> Result<Prepared, Failure> {
    runtime()?.block_on(async {
        let created = store::ensure_database(&config.database_url)
            .await
            .map_err(|e| unreachable_db(config, &e))?;
        let applied = store::migrate(&config.database_url)
            .await
            .map_err(|e| unreachable_db(config, &e))?;
        if !applied.is_empty() {
            tracing::info!(applied = %applied.join(","), "applied migrations");
        }
        Ok(Prepared { created, applied })
    })
}

/// `migrate`: what it created and applied, or that there was nothing to do.
pub(super) fn migrate(config: &Config, json: bool) -> Result<(), Failure> {
    let done = prepare_database(config)?;
    let database = config::database_name(&config.database_url).unwrap_or_default();
    let latest = store::latest_migration_name();
    if json {
        print_json(&serde_json::json!({
            "database": database,
            "created": done.created,
            "applied": done.applied,
            "latest": latest,
        }));
        return Ok(());
    }
    if done.created {
        println!("created database {database}");
    }
    for name in &done.applied {
        println!("applied {name}");
    }
    if done.applied.is_empty() {
        println!("no migrations pending: database {database} is at {latest}");
    }
    Ok(())
}

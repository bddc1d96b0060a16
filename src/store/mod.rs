//! Storage: the PostgreSQL pool, database creation and migrations. Queries live beside it in
//! `users.rs`, `groups.rs`, `invites.rs`, `signup.rs`, `mfa.rs` and `sessions/`; nothing
//! outside `store/` writes SQL.

pub mod audit;
pub mod groups;
pub mod invalidation;
pub mod invites;
pub mod mfa;
pub mod sessions;
pub mod signup;
pub mod users;
pub mod webauthn;

pub use crate::config::{database_name, redact_url};

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio_postgres::NoTls;

use crate::metrics::Metrics;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Why a storage call failed, as the HTTP layer needs to know it, with the driver's error kept
/// as its source. `Clone`, because concurrent cache misses for one session share one result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or did not answer in time: 503, retry later.
    #[error("database unavailable")]
    Unavailable(#[source] Cause),
    /// The database answered with an error the code did not expect: a bug, 500.
    #[error("database error")]
    Query(#[source] Cause),
}

/// What went wrong underneath a [`StoreError`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum Cause {
    #[error(transparent)]
    Postgres(Arc<tokio_postgres::Error>),
    #[error(transparent)]
    Pool(Arc<deadpool_postgres::PoolError>),
    #[error(transparent)]
    Migration(Arc<refinery::Error>),
    /// Something the gateway itself gave up on (a deadline, a closed connection).
    #[error("{0}")]
    Gatehouse(Cow<'static, str>),
}

impl StoreError {
    pub fn unavailable(why: impl Into<Cow<'static, str>>) -> Self {
        StoreError::Unavailable(Cause::Gatehouse(why.into()))
    }

    pub fn query(why: impl Into<Cow<'static, str>>) -> Self {
        StoreError::Query(Cause::Gatehouse(why.into()))
    }

    /// The SQLSTATE the server answered with, if it answered.
    pub fn code(&self) -> Option<&tokio_postgres::error::SqlState> {
        match self {
            StoreError::Unavailable(Cause::Postgres(e)) | StoreError::Query(Cause::Postgres(e)) => {
                e.code()
            }
            _ => None,
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        // Timeouts and shutdowns come back as database errors but mean "unavailable": class 57
        // (operator intervention, including a cancelled statement) and 08 (connection).
        let unavailable = match e.code() {
            Some(code) => {
                code == &SqlState::QUERY_CANCELED
                    || code.code().starts_with("57")
                    || code.code().starts_with("08")
            }
            None => true,
        };
        let cause = Cause::Postgres(Arc::new(e));
        if unavailable {
            StoreError::Unavailable(cause)
        } else {
            StoreError::Query(cause)
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => StoreError::Unavailable(Cause::Pool(Arc::new(other))),
        }
    }
}

fn pg_config(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    let mut cfg: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StoreError::Query(Cause::Postgres(Arc::new(e))))?;
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(Duration::from_secs(3));
    }
    if cfg.get_application_name().is_none() {
        cfg.application_name("gatehouse");
    }
    Ok(cfg)
}

async fn connect(cfg: &tokio_postgres::Config) -> Result<tokio_postgres::Client, StoreError> {
    let (client, conn) = cfg.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "setup connection closed");
        }
    });
    Ok(client)
}

/// Creates the database named in `url` if it does not exist yet; says whether it did.
pub async fn ensure_database(url: &str) -> Result<bool, StoreError> {
    let cfg = pg_config(url)?;
    let name = database_name(url).ok_or_else(|| StoreError::query("no database name"))?;
    match connect(&cfg).await {
        Ok(_) => return Ok(false),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::INVALID_CATALOG_NAME) => {}
        Err(e) => return Err(e),
    }
    let mut admin = cfg.clone();
    admin.dbname("postgres");
    let client = connect(&admin).await?;
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    match client
        .batch_execute(&format!("CREATE DATABASE {quoted}"))
        .await
    {
        Ok(()) => {
            tracing::info!(database = %name, "created database");
            Ok(true)
        }
        // Another instance created it first (a race shows as a unique violation on the catalog).
        Err(e)
            if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE)
                || e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// The advisory lock key serialising migrations ("gatehous" in ASCII).
const MIGRATION_LOCK: i64 = 0x6761_7465_686f_7573;

/// Applies pending migrations over a connection of its own; returns the names of those it
/// applied (`V3__groups`), in order.
pub async fn migrate(url: &str) -> Result<Vec<String>, StoreError> {
    let cfg = pg_config(url)?;
    let mut client = connect(&cfg).await?;
    // Instances starting together take turns; the later ones find nothing left to apply.
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let report = embedded::migrations::runner()
        .set_grouped(true)
        .run_async(&mut client)
        .await
        .map_err(|e| StoreError::Query(Cause::Migration(Arc::new(e))));
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    Ok(report?
        .applied_migrations()
        .iter()
        .map(ToString::to_string)
        .collect())
}

/// The highest migration this binary knows; `/readyz` compares the database with it.
pub fn latest_migration() -> i64 {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0)
}

/// The name of the highest migration this binary knows (`V4__invites`), for `migrate` to say
/// where the database stands.
pub fn latest_migration_name() -> String {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .max_by_key(|m| m.version())
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// The pool every request shares. Connections open lazily, on the runtime that first needs one.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    metrics: Metrics,
}

impl Db {
    pub fn new(url: &str, metrics: Metrics) -> Result<Self, StoreError> {
        let mut cfg = pg_config(url)?;
        // A stuck query must not pin a request: the gateway answers 503 instead.
        cfg.options("-c statement_timeout=5000 -c idle_in_transaction_session_timeout=10000");
        let manager = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .runtime(Runtime::Tokio1)
            .timeouts(Timeouts {
                wait: Some(Duration::from_secs(3)),
                create: Some(Duration::from_secs(3)),
                recycle: Some(Duration::from_secs(2)),
            })
            .build()
            .map_err(|e| StoreError::query(format!("cannot build the pool: {e}")))?;
        Ok(Self { pool, metrics })
    }

    /// A pooled connection, counted as one query of `kind` in the metrics.
    pub async fn conn(&self, kind: &'static str) -> Result<deadpool_postgres::Object, StoreError> {
        self.metrics.db_query(kind);
        Ok(self.pool.get().await?)
    }

    /// Whether the database answers and has every migration this binary knows.
    pub async fn ready(&self) -> bool {
        let Ok(client) = self.conn("ready").await else {
            return false;
        };
        let row = client
            .query_opt(
                "SELECT max(version)::bigint FROM refinery_schema_history",
                &[],
            )
            .await;
        matches!(row, Ok(Some(r)) if r.try_get::<_, Option<i64>>(0).ok().flatten() >= Some(latest_migration()))
    }
}

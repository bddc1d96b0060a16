//! gatehouse: an authentication gateway on Pingora and PostgreSQL.
//!
//! `build_server` is the one builder: `main` runs what it returns, and the integration tests
//! start the same binary. The request path is `proxy.rs` → `routes.rs` → `auth/` → `store/`,
//! and every response the gateway writes itself goes through `respond.rs`.

#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::disallowed_methods
    )
)]

pub mod access;
pub mod auth;
pub mod chain;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod error;
pub mod gateway;
pub mod logs;
pub mod metrics;
pub mod origin;
pub mod pages;
pub mod policy;
pub mod reply;
pub mod request;
pub mod routes;
pub mod store;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server};
use pingora::services::background::background_service;
use pingora::services::listening::Service;

use auth::cookies::CookieNames;
use auth::password::Hasher;
use auth::tokens::Keys;
use config::{Config, ConfigError};
use gateway::header_timeout::HeaderTimeout;
use metrics::Metrics;
use store::sessions::Sessions;
use store::Db;

/// Everything a request handler may use, built once.
pub struct App {
    pub config: Config,
    pub keys: Keys,
    pub verified: auth::VerifiedTokens,
    pub inline_refresh: auth::pair::InlineRefresh,
    pub login_limits: auth::limits::LoginLimiter,
    pub hasher: Hasher,
    pub db: Db,
    pub sessions: Sessions,
    pub cookies: CookieNames,
    pub metrics: Metrics,
    /// docs/contract.md §9: the routes requests are decided with, replaced whole on SIGHUP.
    pub routes: ArcSwap<access::RouteTable>,
    /// docs/contract.md §11: the keys of `X-Auth-Assertion`, when configured.
    pub assertions: Option<auth::assertion::AssertionKeys>,
    /// docs/contract.md §11: the public listener's certificate, replaced on SIGHUP.
    pub tls: Option<Arc<gateway::tls::Certificates>>,
    pub(crate) draining: AtomicBool,
}

impl App {
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}

/// Counts a request as in flight for as long as it lives; shutdown waits for the count to drop.
///
/// The count is process-wide (one server per process) and split into per-thread shards: every
/// request touches it twice, and one shared counter (plus an `Arc<App>` clone to reach it) was
/// a cache line the worker threads passed back and forth on every request.
pub struct InFlight(usize);

#[repr(align(128))]
struct Shard(AtomicUsize);

const SHARDS: usize = 16;

static IN_FLIGHT: [Shard; SHARDS] = [const { Shard(AtomicUsize::new(0)) }; SHARDS];

impl InFlight {
    pub fn new() -> Self {
        thread_local! {
            static SHARD: usize = {
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS
            };
        }
        let shard = SHARD.with(|s| *s);
        IN_FLIGHT[shard].0.fetch_add(1, Ordering::Relaxed);
        // The request may finish on another thread; it gives back to the shard it took from.
        Self(shard)
    }

    /// Requests in flight in this process.
    pub fn count() -> usize {
        IN_FLIGHT.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

impl Default for InFlight {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT[self.0].0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Other(String),
}

/// How many bcrypt computations may run at once: half the cores, at least one. Its threads are
/// in the idle scheduling class, yet a core kept busy by bcrypt still costs proxied requests
/// latency (on 2 cores, two busy idle-class threads doubled the proxied p99; one raised it by
/// 20–40 %, bench/README.md), so sign-ins never hold more than half the machine.
fn bcrypt_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// Builds the Pingora server: the public proxy, the admin listener and the background writer.
///
/// With `upgrade`, the listening sockets are taken over from a running gatehouse on the same
/// addresses (sent over `upgrade_socket(&config)` when that process gets SIGQUIT), so a new
/// binary replaces the old one without refusing a connection.
pub fn build_server(config: Config, upgrade: bool) -> Result<(Server, Arc<App>), StartError> {
    let assertions = auth::assertion::AssertionKeys::from_config(&config)?;
    if let Some(keys) = &assertions {
        let kids: Vec<&str> = keys.kids().collect();
        tracing::info!(signing = kids.first(), published = ?kids, "assertion keys");
    }
    let metrics = Metrics::new();
    // Every route's upstream resolves before anything listens: a name that does not is a
    // configuration error naming its route.
    let routes = access::RouteTable::build(&config, &metrics, 0)?;
    let db = Db::new(&config.database_url, metrics.clone())
        .map_err(|e| StartError::Other(chain::Chain(&e).to_string()))?;
    let (sessions, touches) = Sessions::new(
        db.clone(),
        config.cache_ttl,
        config.refresh_ttl,
        metrics.clone(),
    );
    // A certificate that does not load stops start-up naming its file, before anything
    // listens.
    let tls = config
        .tls
        .as_ref()
        .map(gateway::tls::Certificates::load)
        .transpose()?;
    let hasher = Hasher::new(config.bcrypt_cost, bcrypt_concurrency())
        .map_err(|e| StartError::Other(e.to_string()))?;
    let app = Arc::new(App {
        keys: Keys::new(&config.jwt_secret.0),
        verified: auth::VerifiedTokens::new(),
        inline_refresh: auth::pair::InlineRefresh::new(config.refresh_reuse_grace),
        login_limits: auth::limits::LoginLimiter::new(config.login_rate),
        cookies: CookieNames::new(&config),
        hasher,
        db: db.clone(),
        sessions,
        metrics,
        routes: ArcSwap::from_pointee(routes),
        assertions,
        tls,
        draining: AtomicBool::new(false),
        config,
    });

    let conf = ServerConf {
        threads: app.config.threads,
        // Draining happens before Pingora is told to stop (see `Signals`); this second covers
        // requests that arrived while the listeners were closing.
        grace_period_seconds: Some(1),
        graceful_shutdown_timeout_seconds: Some(5),
        upstream_keepalive_pool_size: 256,
        ..ServerConf::default()
    };
    let conf = ServerConf {
        upgrade_sock: upgrade_socket(&app.config),
        ..conf
    };
    let opt = pingora::server::configuration::Opt {
        upgrade,
        ..Default::default()
    };
    let mut server = Server::new_with_opt_and_conf(Some(opt), conf);
    server.bootstrap();
    let conf = server.configuration.clone();

    let mut http = pingora::proxy::http_proxy(&conf, gateway::proxy::Gateway::new(app.clone()));
    http.h2_options = Some(gateway::h2::options());
    http.server_options = Some(gateway::h2::server_options());
    let mut proxy = Service::new(
        "gatehouse".to_string(),
        HeaderTimeout::new(
            http,
            app.config.header_timeout,
            app.metrics.header_timeouts(),
        ),
    );
    match &app.tls {
        Some(certificates) => {
            let settings = certificates
                .settings()
                .map_err(|e| StartError::Other(format!("cannot set up TLS: {e}")))?;
            proxy.add_tls_with_settings(&app.config.listen.to_string(), None, settings);
        }
        None => proxy.add_tcp(&app.config.listen.to_string()),
    }
    server.add_service(proxy);

    if let Some(addr) = app.config.redirect_listen {
        let mut redirect = Service::new(
            "gatehouse-redirect".to_string(),
            HeaderTimeout::new(
                pingora::apps::http_app::HttpServer::new_app(gateway::redirect::Redirect::new(
                    app.config.public_url.clone(),
                )),
                app.config.header_timeout,
                app.metrics.header_timeouts(),
            ),
        );
        redirect.add_tcp(&addr.to_string());
        redirect.threads = Some(1);
        server.add_service(redirect);
    }

    let mut admin = Service::new(
        "gatehouse-admin".to_string(),
        HeaderTimeout::new(
            pingora::apps::http_app::HttpServer::new_app(gateway::admin::Admin::new(app.clone())),
            app.config.header_timeout,
            app.metrics.header_timeouts(),
        ),
    );
    admin.add_tcp(&app.config.admin_listen.to_string());
    admin.threads = Some(1);
    server.add_service(admin);

    server.add_service(background_service(
        "last-seen",
        gateway::services::LastSeen(store::sessions::LastSeenFlusher::new(db, touches)),
    ));
    server.add_service(background_service(
        "revocation-listener",
        gateway::services::Revocations(app.clone()),
    ));
    server.add_service(background_service(
        "route-reload",
        gateway::services::Reload(app.clone()),
    ));
    Ok((server, app))
}

/// Where the old process hands its listening sockets to the new one during an upgrade: one
/// path per public port, so instances on one host do not mix.
pub fn upgrade_socket(config: &Config) -> String {
    std::env::temp_dir()
        .join(format!("gatehouse-upgrade-{}.sock", config.listen.port()))
        .display()
        .to_string()
}

/// Runs the server until a shutdown signal; returns when it has drained.
pub fn run(server: Server, app: Arc<App>) {
    server.run(RunArgs {
        shutdown_signal: Box::new(gateway::shutdown::Signals::new(app)),
    });
}

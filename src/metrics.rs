//! Prometheus metrics, served by the admin listener. Labels are bounded: route classes and
//! outcomes, never user ids or paths.

use std::sync::{Arc, OnceLock};

use prometheus::core::Collector;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

struct Inner {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Request counters by route class and status (100..=599), resolved on first use.
    requests_by_class: [Vec<OnceLock<IntCounter>>; 3],
    /// The latency histogram of each route class, resolved once: no label lookup per request.
    latency_by_class: [prometheus::Histogram; 3],
    /// Session cache lookups: `[miss, hit]`, resolved once.
    cache: [IntCounter; 2],
    cache_size: IntGauge,
    db_queries: IntCounterVec,
    logins: IntCounterVec,
    revocations: IntCounterVec,
    invalidations: IntCounter,
    listener_reconnects: IntCounter,
    upstream_connections: [IntCounter; 2],
    header_timeouts: IntCounter,
    policy_decisions: IntCounterVec,
    second_factor: IntCounterVec,
}

/// The route classes of `Route::class`.
const ROUTE_CLASSES: [&str; 3] = ["proxy", "auth", "forward_auth"];

/// Cheap to clone; every clone feeds the same registry.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

// Metric definitions are static and registered once at start-up: a failure is a bug that must
// stop the process before it serves.
#[allow(clippy::expect_used)]
fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric definition");
    registry
        .register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

#[allow(clippy::expect_used)]
fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("valid metric definition");
    registry
        .register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

impl Metrics {
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = counter_vec(
            &registry,
            "gatehouse_requests_total",
            "Requests answered, by route class and status",
            &["route", "status"],
        );
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "gatehouse_request_duration_seconds",
                "Time from request head to the end of the response, by route class",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["route"],
        )
        .expect("valid metric definition");
        registry
            .register(Box::new(latency.clone()))
            .expect("metric registered once");
        let lookups = counter_vec(
            &registry,
            "gatehouse_session_cache_lookups_total",
            "Session cache lookups, by result (hit or miss)",
            &["result"],
        );
        let cache = [
            lookups.with_label_values(&["miss"]),
            lookups.with_label_values(&["hit"]),
        ];
        let cache_size =
            IntGauge::new("gatehouse_session_cache_entries", "Sessions held in memory")
                .expect("valid metric definition");
        registry
            .register(Box::new(cache_size.clone()))
            .expect("metric registered once");
        let db_queries = counter_vec(
            &registry,
            "gatehouse_db_queries_total",
            "Database round trips, by kind",
            &["kind"],
        );
        let logins = counter_vec(
            &registry,
            "gatehouse_logins_total",
            "Login attempts, by outcome",
            &["outcome"],
        );
        let revocations = counter_vec(
            &registry,
            "gatehouse_session_revocations_total",
            "Sessions revoked, by cause",
            &["cause"],
        );
        let invalidations = counter(
            &registry,
            "gatehouse_invalidation_messages_total",
            "Session invalidation messages received from other instances",
        );
        let latency_by_class = ROUTE_CLASSES.map(|class| latency.with_label_values(&[class]));
        let listener_reconnects = counter(
            &registry,
            "gatehouse_listener_reconnects_total",
            "Times the revocation listener lost its connection and reconnected",
        );
        let upstream = counter_vec(
            &registry,
            "gatehouse_upstream_connections_total",
            "Upstream connections used, by whether they were reused from the keep-alive pool",
            &["reused"],
        );
        let upstream_connections = [
            upstream.with_label_values(&["false"]),
            upstream.with_label_values(&["true"]),
        ];
        let header_timeouts = counter(
            &registry,
            "gatehouse_header_timeouts_total",
            "Connections closed because a request head took longer than GATEHOUSE_HEADER_TIMEOUT",
        );
        let policy_decisions = counter_vec(
            &registry,
            "gatehouse_policy_decisions_total",
            "Access decisions, by route (docs/contract.md §9) and decision",
            &["route", "decision"],
        );
        let second_factor = counter_vec(
            &registry,
            "gatehouse_second_factor_total",
            "Second-factor checks (docs/contract.md §10), by step (sign_in, step_up, enrol), \
             method (totp, recovery) and outcome (ok, invalid_code, ended, expired, \
             rate_limited)",
            &["step", "method", "outcome"],
        );
        let requests_by_class =
            ROUTE_CLASSES.map(|_| (100..600).map(|_| OnceLock::new()).collect());
        Metrics(Arc::new(Inner {
            registry,
            requests,
            requests_by_class,
            latency,
            latency_by_class,
            cache,
            cache_size,
            db_queries,
            logins,
            revocations,
            invalidations,
            listener_reconnects,
            upstream_connections,
            header_timeouts,
            policy_decisions,
            second_factor,
        }))
    }

    pub fn request(&self, route: &str, status: u16, seconds: f64) {
        let class = ROUTE_CLASSES.iter().position(|c| *c == route);
        let slot = class
            .zip(usize::from(status).checked_sub(100))
            .and_then(|(c, s)| {
                self.0
                    .requests_by_class
                    .get(c)
                    .and_then(|per_status| per_status.get(s))
            });
        let counter = || {
            let mut buf = itoa_buf();
            self.0
                .requests
                .with_label_values(&[route, status_str(status, &mut buf)])
        };
        // The label lookup happens once per route class and status, not once per request.
        match slot {
            Some(cell) => cell.get_or_init(counter).inc(),
            None => counter().inc(),
        }
        match class {
            Some(i) => self.0.latency_by_class[i].observe(seconds),
            None => self.0.latency.with_label_values(&[route]).observe(seconds),
        }
    }

    pub fn cache_hit(&self) {
        self.0.cache[1].inc();
    }

    pub fn cache_miss(&self) {
        self.0.cache[0].inc();
    }

    pub fn cache_size(&self, n: u64) {
        self.0.cache_size.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    pub fn db_query(&self, kind: &str) {
        self.0.db_queries.with_label_values(&[kind]).inc();
    }

    pub fn login(&self, outcome: &str) {
        self.0.logins.with_label_values(&[outcome]).inc();
    }

    /// One second-factor check; every label comes from a fixed list of the caller's.
    pub fn second_factor(&self, step: &'static str, method: &'static str, outcome: &'static str) {
        self.0
            .second_factor
            .with_label_values(&[step, method, outcome])
            .inc();
    }

    pub fn revoked(&self, cause: &str, n: u64) {
        self.0.revocations.with_label_values(&[cause]).inc_by(n);
    }

    pub fn upstream_connection(&self, reused: bool) {
        self.0.upstream_connections[usize::from(reused)].inc();
    }

    pub fn listener_reconnect(&self) {
        self.0.listener_reconnects.inc();
    }

    /// The counter the header clock bumps when a client runs out of time.
    pub fn header_timeouts(&self) -> IntCounter {
        self.0.header_timeouts.clone()
    }

    /// One counter per decision label, for a route: resolved when a route table is built, so
    /// counting a decision is an increment, not a label lookup.
    pub fn policy_decisions<const N: usize>(
        &self,
        route: &str,
        decisions: [&str; N],
    ) -> [IntCounter; N] {
        decisions.map(|d| self.0.policy_decisions.with_label_values(&[route, d]))
    }

    pub fn invalidation_received(&self) {
        self.0.invalidations.inc();
    }

    /// Total database round trips so far (tests and benchmarks read it).
    pub fn db_queries_total(&self) -> u64 {
        self.0
            .db_queries
            .collect()
            .iter()
            .flat_map(|f| f.get_metric())
            .map(|m| m.get_counter().get_value() as u64)
            .sum()
    }

    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.0.registry.gather(), &mut out);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn itoa_buf() -> [u8; 3] {
    [0; 3]
}

fn status_str(status: u16, buf: &mut [u8; 3]) -> &str {
    let s = status.min(999);
    buf[0] = b'0' + (s / 100) as u8;
    buf[1] = b'0' + (s / 10 % 10) as u8;
    buf[2] = b'0' + (s % 10) as u8;
    std::str::from_utf8(buf).unwrap_or("000")
}

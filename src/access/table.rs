//! The route table requests are decided with: the compiled [`Routes`] plus what each route
//! needs at run time — its interned name for logs and metrics, its resolved upstream and
//! timeout, and its decision counters. Built whole and swapped whole (`App::routes`), so a
//! request never sees half of one configuration and half of another.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use prometheus::IntCounter;

use crate::config::{resolve_upstream, Config, ConfigError};
use crate::metrics::Metrics;
use crate::policy::{Outcome, Routes};

/// Where one route's requests go, resolved.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub tls: bool,
    /// The upstream's host name: TLS server name and certificate check; empty for plain
    /// HTTP, where it means nothing and cloning it per request would allocate.
    pub sni: String,
    pub timeout: Duration,
    /// Keeps the route's upstream connections in a pool of their own, even when two routes
    /// name the same upstream: a slow route cannot take another's idle connections.
    pub pool: u64,
}

/// A route's run-time state, beside its compiled rules.
pub struct Entry {
    pub name: &'static str,
    /// `None` for a route that only denies.
    pub target: Option<Target>,
    decisions: [IntCounter; 5],
}

impl Entry {
    pub fn count(&self, outcome: Outcome) {
        if let Some(c) = self.decisions.get(outcome.index()) {
            c.inc();
        }
    }
}

pub struct RouteTable {
    /// Distinguishes tables across reloads: a request that waited for its session re-reads
    /// its route only when the table changed meanwhile.
    pub generation: u64,
    pub routes: Routes,
    /// Whether the routes came from `[[routes]]` rather than the implicit route.
    pub configured: bool,
    /// Whether the host can change the route (`Routes::by_host`), computed once.
    pub by_host: bool,
    entries: Vec<Entry>,
    no_route: IntCounter,
}

impl RouteTable {
    /// Resolves every route's upstream (blocking: DNS) and resolves its counters.
    pub fn build(config: &Config, metrics: &Metrics, generation: u64) -> Result<Self, ConfigError> {
        let targets = Self::resolve(config)?;
        let entries = config
            .routes
            .iter()
            .zip(targets)
            .map(|(route, target)| {
                let name = intern(&route.name);
                Entry {
                    name,
                    target,
                    decisions: metrics.policy_decisions(name, Outcome::ALL.map(Outcome::as_str)),
                }
            })
            .collect();
        let [no_route] = metrics.policy_decisions("", ["no_route"]);
        Ok(Self {
            generation,
            routes: config.routes.clone(),
            configured: config.routes_configured,
            by_host: config.routes.by_host(),
            entries,
            no_route,
        })
    }

    /// Every route's upstream, resolved (blocking: DNS), in route order; a name that does not
    /// resolve is a configuration error naming its route. `serve` calls it before touching
    /// the database, so a typo costs nothing.
    pub fn resolve(config: &Config) -> Result<Vec<Option<Target>>, ConfigError> {
        config
            .routes
            .iter()
            .enumerate()
            .map(|(index, route)| {
                let Some(up) = &route.upstream else {
                    return Ok(None);
                };
                let addr = resolve_upstream(up).map_err(|e| {
                    if config.routes_configured {
                        ConfigError::new(format!("route {:?}: upstream", route.name), e.message)
                    } else {
                        e
                    }
                })?;
                Ok(Some(Target {
                    addr,
                    tls: up.tls,
                    sni: if up.tls {
                        up.host.clone()
                    } else {
                        String::new()
                    },
                    timeout: route.timeout.unwrap_or(config.upstream_timeout),
                    pool: index as u64,
                }))
            })
            .collect()
    }

    pub fn entry(&self, index: usize) -> Option<&Entry> {
        self.entries.get(index)
    }

    pub fn count_no_route(&self) {
        self.no_route.inc();
    }
}

/// Route names live as long as the process: access lines and per-request state hold a
/// `&'static str` instead of cloning a `String` or an `Arc` per request. Each distinct name
/// is kept once, so reloading the same file leaks nothing.
fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut guard = NAMES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let names = guard.get_or_insert_with(HashSet::new);
    if let Some(&known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_interned_once() {
        let a = intern("grafana-test-intern");
        let b = intern(&String::from("grafana-test-intern"));
        assert!(std::ptr::eq(a, b));
    }
}

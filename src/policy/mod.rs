//! Routes and access policies (docs/contract.md §9), compiled once at load: which route a
//! request belongs to (`hosts.rs`, `paths.rs`) and what happens to it (`decide.rs`). Pure: no
//! Pingora types and no I/O, so every decision is unit-tested here; the gateway and
//! `policy check` call [`Routes::choose`] and [`decide`].
//!
//! `load.rs` turns the configuration file's `[[routes]]` into a [`Routes`] table, refusing
//! anything wrong with the name of its route; without `[[routes]]` there is one implicit route
//! ([`Routes::implicit`]) that behaves exactly as §6.

mod decide;
#[cfg(test)]
mod decide_tests;
mod hosts;
mod load;
#[cfg(test)]
mod load_tests;
mod paths;
mod upstream;

use std::fmt;
use std::str::FromStr;

use ipnet::IpNet;
use regex::RegexSet;

pub use decide::{decide, matched, Decision, Facts, Matched, Outcome, SignedIn};
pub use hosts::{authority_disagrees, host_is_valid, normalise_host};
pub use load::{parse_toml_routes, RawRoute, RawRule, RouteError};
pub use paths::normalise_path;
pub use upstream::{parse_upstream, Upstream};

use hosts::HostTable;
use paths::Prefix;

/// Whether `name` is a group name (docs/contract.md §9): 1–64 characters of `a-z 0-9 . _ -`.
/// The one spelling of the rule: `allow` subjects, `GATEHOUSE_REGISTRATION_GROUPS`, the
/// `group` and `invite` commands and the migration's CHECK all say the same.
pub fn is_group_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// What a route or rule asks of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// 403 for everyone, never forwarded.
    Deny,
    /// Forwarded without authentication.
    Bypass,
    /// An active session.
    OneFactor,
    /// An active session whose sign-in used a second factor.
    TwoFactor,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Deny => "deny",
            Policy::Bypass => "bypass",
            Policy::OneFactor => "one_factor",
            Policy::TwoFactor => "two_factor",
        }
    }
}

impl FromStr for Policy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "deny" => Ok(Policy::Deny),
            "bypass" => Ok(Policy::Bypass),
            "one_factor" => Ok(Policy::OneFactor),
            "two_factor" => Ok(Policy::TwoFactor),
            _ => Err(format!(
                "unknown policy {s:?} (deny, bypass, one_factor or two_factor)"
            )),
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who an `allow` list names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A canonical (lower-cased, NFKC) username, as the store compares them.
    User(String),
    /// A group name (1–64 characters `a-z 0-9 . _ -`).
    Group(String),
}

/// As written in `allow`: `user:NAME` (canonical) or `group:NAME`.
impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::User(name) => write!(f, "user:{name}"),
            Subject::Group(name) => write!(f, "group:{name}"),
        }
    }
}

/// One `[[routes.rules]]` entry, compiled. Absent fields match everything.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Whole-segment prefixes of the normalised path.
    pub prefixes: Vec<Prefix>,
    /// The rule's `~regex` paths, if it listed any.
    pub regex: Option<RegexSet>,
    pub methods: Option<Vec<http::Method>>,
    pub networks: Option<Vec<IpNet>>,
    pub policy: Policy,
    /// `None`: every signed-in user.
    pub allow: Option<Vec<Subject>>,
}

impl Rule {
    /// Whether the rule constrains the path at all.
    fn has_paths(&self) -> bool {
        !self.prefixes.is_empty() || self.regex.is_some()
    }

    /// The rule's `paths` for people to read: its prefixes (normalised), then its regexes with
    /// their `~`. Empty when the rule matches every path.
    pub fn paths(&self) -> Vec<String> {
        let prefixes = self.prefixes.iter().map(|p| p.as_str().to_string());
        let regexes = self
            .regex
            .iter()
            .flat_map(|set| set.patterns().iter().map(|re| format!("~{re}")));
        prefixes.chain(regexes).collect()
    }
}

/// One `[[routes]]` entry, compiled.
#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    /// As configured (lower-cased), for `policy check` and logs; matching uses [`Routes`]'s
    /// host table.
    pub hosts: Vec<String>,
    pub path: Prefix,
    /// `None` only for a route that denies everything (checked at load).
    pub upstream: Option<Upstream>,
    /// The route's own upstream timeout; `None`: `GATEHOUSE_UPSTREAM_TIMEOUT`.
    pub timeout: Option<std::time::Duration>,
    pub policy: Policy,
    pub allow: Option<Vec<Subject>>,
    pub rules: Vec<Rule>,
    /// Every rule's `~` regexes in one set: a path none of them matches is scanned once.
    regexes: RegexSet,
}

impl Route {
    /// Whether a rule looks at the client address, which costs a read of `X-Forwarded-For`.
    pub fn uses_networks(&self) -> bool {
        self.rules.iter().any(|r| r.networks.is_some())
    }
}

/// Every route, with hosts compiled into a lookup table.
#[derive(Debug, Clone)]
pub struct Routes {
    routes: Vec<Route>,
    hosts: HostTable,
}

impl Routes {
    /// The route for a request: docs/contract.md §9 "Choosing the route". `host` is the `Host`
    /// header (or `:authority`) as received; `path` is the request path as received.
    pub fn choose(&self, host: &str, path: &str) -> Option<&Route> {
        self.choose_normalised(host, &normalise_path(path))
    }

    /// [`Routes::choose`] for a path already through [`normalise_path`], which [`decide`]
    /// needs too: the gateway normalises once per request.
    pub fn choose_normalised(&self, host: &str, path: &str) -> Option<&Route> {
        self.select(host, path).and_then(|i| self.routes.get(i))
    }

    /// The position of the chosen route, for state kept beside the table (peers, counters).
    pub fn select(&self, host: &str, normalised_path: &str) -> Option<usize> {
        let host = normalise_host(host);
        self.hosts
            .candidates(&host)
            .iter()
            .copied()
            .filter(|&i| self.routes[i].path.matches(normalised_path))
            .max_by_key(|&i| self.routes[i].path.len())
    }

    pub fn get(&self, index: usize) -> Option<&Route> {
        self.routes.get(index)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Whether an upstream that decodes the path again (`%2561dmin` → `%61dmin` → `admin`)
    /// would be judged by another route or rule than the one reading `once` (the path through
    /// [`normalise_path`]) chose: such a path is refused (400 `bad_path`) rather than guessed
    /// at. Only paths with a `%` left after one decoding are read again, so the common path
    /// pays nothing.
    pub fn reading_matters(
        &self,
        host: &str,
        method: &http::Method,
        once: &str,
        client: Option<std::net::IpAddr>,
    ) -> bool {
        if !once.contains('%') {
            return false;
        }
        let decide = |path: &str| {
            let index = self.select(host, path)?;
            let route = self.get(index)?;
            Some((index, matched(route, method, path, client).rule))
        };
        let chosen = decide(once);
        let mut reading = once.to_string();
        for _ in 0..2 {
            let next = normalise_path(&reading).into_owned();
            if next == reading {
                return false;
            }
            if decide(&next) != chosen {
                return true;
            }
            reading = next;
        }
        false
    }

    /// Whether the request's host can change which route serves it.
    pub fn by_host(&self) -> bool {
        self.routes.iter().any(|r| !r.hosts.is_empty())
    }
}

/// Compiles routes from TOML text, for the tests of every part of the module.
#[cfg(test)]
pub(crate) fn routes_from(text: &str) -> Result<Routes, RouteError> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| RouteError {
        route: "-".into(),
        field: "-".into(),
        message: e.to_string(),
    })?;
    let raw = parse_toml_routes(table.remove("routes").unwrap_or(toml::Value::Array(vec![])))?;
    Routes::compile(&raw, Policy::OneFactor)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITES: &str = r#"
        [[routes]]
        name = "catch-all"
        upstream = "127.0.0.1:1"
        [[routes]]
        name = "catch-all-admin"
        path = "/admin"
        upstream = "127.0.0.1:2"
        [[routes]]
        name = "wild"
        hosts = ["*.example.com"]
        upstream = "127.0.0.1:3"
        [[routes]]
        name = "wild-dev"
        hosts = ["*.dev.example.com"]
        upstream = "127.0.0.1:4"
        [[routes]]
        name = "app"
        hosts = ["app.example.com", "example.com"]
        upstream = "127.0.0.1:5"
        [[routes]]
        name = "app-admin"
        hosts = ["app.example.com"]
        path = "/admin"
        upstream = "127.0.0.1:6"
    "#;

    fn chosen(routes: &Routes, host: &str, path: &str) -> Option<String> {
        routes.choose(host, path).map(|r| r.name.clone())
    }

    #[test]
    fn an_exact_host_beats_a_wildcard_which_beats_routes_without_hosts() {
        let r = routes_from(SITES).unwrap();
        assert_eq!(chosen(&r, "app.example.com", "/").as_deref(), Some("app"));
        assert_eq!(
            chosen(&r, "x.dev.example.com", "/").as_deref(),
            Some("wild-dev")
        );
        assert_eq!(chosen(&r, "www.example.com", "/").as_deref(), Some("wild"));
        assert_eq!(chosen(&r, "other.org", "/").as_deref(), Some("catch-all"));
    }

    #[test]
    fn a_wildcard_does_not_match_its_own_domain() {
        let r = routes_from(SITES).unwrap();
        let only_wild = routes_from(
            r#"[[routes]]
            name = "wild"
            hosts = ["*.example.com"]
            upstream = "127.0.0.1:3""#,
        )
        .unwrap();
        assert_eq!(chosen(&only_wild, "example.com", "/"), None);
        assert_eq!(chosen(&r, "example.com", "/").as_deref(), Some("app"));
        assert_eq!(chosen(&r, "dev.example.com", "/").as_deref(), Some("wild"));
    }

    #[test]
    fn the_host_is_read_without_case_port_or_trailing_dot() {
        let r = routes_from(SITES).unwrap();
        for host in [
            "APP.Example.COM",
            "app.example.com:8443",
            "app.example.com.",
            "App.example.com.:80",
        ] {
            assert_eq!(
                chosen(&r, host, "/admin/x").as_deref(),
                Some("app-admin"),
                "{host}"
            );
        }
    }

    #[test]
    fn the_longest_path_on_whole_segments_wins_within_the_host() {
        let r = routes_from(SITES).unwrap();
        assert_eq!(
            chosen(&r, "app.example.com", "/admin").as_deref(),
            Some("app-admin")
        );
        assert_eq!(
            chosen(&r, "app.example.com", "/administrator").as_deref(),
            Some("app")
        );
        assert_eq!(
            chosen(&r, "other.org", "/admin/x").as_deref(),
            Some("catch-all-admin")
        );
        assert_eq!(
            chosen(&r, "other.org", "/administrator").as_deref(),
            Some("catch-all")
        );
    }

    #[test]
    fn path_tricks_reach_the_route_an_upstream_would_serve() {
        let r = routes_from(SITES).unwrap();
        for path in [
            "/admin;x/y",
            "/%61dmin",
            "/%61dmin/users",
            "//admin",
            "/admin;jsessionid=1",
        ] {
            assert_eq!(
                chosen(&r, "app.example.com", path).as_deref(),
                Some("app-admin"),
                "{path}"
            );
        }
    }

    #[test]
    fn a_host_named_by_a_route_does_not_fall_back_to_another_host_group() {
        let r = routes_from(
            r#"[[routes]]
            name = "api"
            hosts = ["api.example.com"]
            path = "/v1"
            upstream = "127.0.0.1:1"
            [[routes]]
            name = "rest"
            upstream = "127.0.0.1:2""#,
        )
        .unwrap();
        assert_eq!(chosen(&r, "api.example.com", "/v2"), None);
        assert_eq!(
            chosen(&r, "api.example.com", "/v1/x").as_deref(),
            Some("api")
        );
    }

    #[test]
    fn a_rule_shows_its_prefixes_then_its_regexes_and_subjects_as_written() {
        let r = routes_from(
            r#"[[routes]]
            name = "r"
            upstream = "127.0.0.1:1"
            allow = ["user:Alice", "group:ops"]
            [[routes.rules]]
            paths = ["~^/v[0-9]+$", "/a/", "/%62"]
            policy = "bypass"
            [[routes.rules]]
            policy = "deny""#,
        )
        .unwrap();
        let route = r.get(0).unwrap();
        assert_eq!(route.rules[0].paths(), ["/a", "/b", "~^/v[0-9]+$"]);
        assert!(route.rules[1].paths().is_empty());
        let allow: Vec<String> = route
            .allow
            .iter()
            .flatten()
            .map(ToString::to_string)
            .collect();
        assert_eq!(allow, ["user:alice", "group:ops"]);
    }

    #[test]
    fn a_path_that_reads_differently_when_decoded_again_matters_only_if_the_decision_moves() {
        let r = routes_from(
            r#"[[routes]]
            name = "app"
            upstream = "127.0.0.1:1"
              [[routes.rules]]
              paths = ["/admin"]
              policy = "deny""#,
        )
        .unwrap();
        let ask = |raw: &str| {
            let once = normalise_path(raw);
            r.reading_matters("h", &http::Method::GET, &once, None)
        };
        assert!(ask("/%2561dmin"));
        assert!(ask("/%252561dmin/x"));
        assert!(!ask("/%2578"));
        assert!(!ask("/100%25"));
        assert!(!ask("/admin"));
    }

    #[test]
    fn the_implicit_route_serves_every_host_and_bypasses_public_prefixes() {
        let up = parse_upstream("127.0.0.1:8080").unwrap();
        let r = Routes::implicit(up, &["/public".into()], Policy::OneFactor).unwrap();
        let route = r.choose("anything.example", "/x").unwrap();
        assert_eq!(route.name, "default");
        assert_eq!(route.policy, Policy::OneFactor);
        let facts = |path: &'static str| Facts {
            method: &http::Method::GET,
            path,
            client: None,
            user: None,
        };
        assert_eq!(decide(route, &facts("/public/a")).outcome, Outcome::Bypass);
        assert_eq!(
            decide(route, &facts("/publicity")).outcome,
            Outcome::Unauthenticated
        );
    }
}

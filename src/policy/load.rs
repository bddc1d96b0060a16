//! From the configuration file's `[[routes]]` to a compiled [`Routes`] table, or to an error
//! naming the route and its field (docs/contract.md §9 "Configuration errors"). Also the
//! implicit route used when the file has none.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use regex::{Regex, RegexSet};
use serde::Deserialize;

use super::decide::canonical_username;
use super::hosts::{HostPattern, HostTable};
use super::paths::Prefix;
use super::{parse_upstream, Policy, Route, Routes, Rule, Subject, Upstream};

/// One `[[routes]]` table as written. Unknown keys are refused, so a misspelt `alow` cannot
/// silently open a route.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub name: Option<String>,
    pub hosts: Option<Vec<String>>,
    pub path: Option<String>,
    pub upstream: Option<String>,
    /// The upstream's connect and read timeout for this route (`30s`); default
    /// `GATEHOUSE_UPSTREAM_TIMEOUT`.
    pub timeout: Option<String>,
    pub policy: Option<String>,
    pub allow: Option<Vec<String>>,
    #[serde(default)]
    pub rules: Vec<RawRule>,
}

/// One `[[routes.rules]]` table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub paths: Option<Vec<String>>,
    pub methods: Option<Vec<String>>,
    pub networks: Option<Vec<String>>,
    pub policy: Option<String>,
    pub allow: Option<Vec<String>>,
}

/// A problem with one route: its name (or position when it has none), the field, what is wrong.
/// An empty `route` is a problem with `routes` as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteError {
    pub route: String,
    pub field: String,
    pub message: String,
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.route.is_empty() {
            return write!(f, "routes: {}", self.message);
        }
        write!(f, "route {}: {}: {}", self.route, self.field, self.message)
    }
}

impl std::error::Error for RouteError {}

/// Reads the `routes` value of the configuration file, one table at a time so that an unknown
/// key is reported with the name of its route.
pub fn parse_toml_routes(value: toml::Value) -> Result<Vec<RawRoute>, RouteError> {
    let toml::Value::Array(items) = value else {
        return Err(error("", "", "must be an array of tables: [[routes]]"));
    };
    if items.is_empty() {
        // Zero routes would answer 404 to everything; the implicit route needs no `routes`.
        return Err(error(
            "",
            "",
            "is empty; leave it out to use the implicit route",
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let label = item
                .get("name")
                .and_then(toml::Value::as_str)
                .map_or_else(|| format!("#{}", i + 1), |n| format!("{n:?}"));
            item.try_into::<RawRoute>()
                .map_err(|e| error(&label, "table", e.message().trim()))
        })
        .collect()
}

fn error(route: &str, field: impl Into<String>, message: impl Into<String>) -> RouteError {
    RouteError {
        route: route.to_string(),
        field: field.into(),
        message: message.into(),
    }
}

impl Routes {
    /// Validates and compiles the configured routes; `default_policy` is the policy of a route
    /// that names none.
    pub fn compile(raw: &[RawRoute], default_policy: Policy) -> Result<Routes, RouteError> {
        let mut routes = Vec::with_capacity(raw.len());
        let mut hosts = HostTable::default();
        // (host pattern or none, path) → the route that claimed it: two routes there would
        // leave the choice to their order in the file.
        let mut claimed: HashMap<(Option<HostPattern>, String), String> = HashMap::new();
        for (i, r) in raw.iter().enumerate() {
            let (route, patterns) = compile_route(r, i, default_policy)?;
            if routes.iter().any(|other: &Route| other.name == route.name) {
                return Err(error(
                    &label(&route.name),
                    "name",
                    "is used by another route",
                ));
            }
            let keys: Vec<Option<HostPattern>> = if patterns.is_empty() {
                vec![None]
            } else {
                patterns.iter().cloned().map(Some).collect()
            };
            for key in keys {
                let shown = key
                    .as_ref()
                    .map_or_else(|| "any host".to_string(), ToString::to_string);
                if let Some(other) =
                    claimed.insert((key, route.path.as_str().into()), route.name.clone())
                {
                    return Err(error(
                        &label(&route.name),
                        "hosts",
                        format!(
                            "{shown} with path {} is already route {other:?}'s",
                            route.path.as_str()
                        ),
                    ));
                }
            }
            hosts.add(i, &patterns);
            routes.push(route);
        }
        Ok(Routes { routes, hosts })
    }

    /// docs/contract.md §9: without `[[routes]]`, one route for every host and path that
    /// behaves as §6 — the upstream, a `bypass` rule per public prefix, the default policy.
    pub fn implicit(
        upstream: Upstream,
        public_paths: &[String],
        default_policy: Policy,
    ) -> Result<Routes, RouteError> {
        let rules = public_paths
            .iter()
            .map(|p| {
                Ok(Rule {
                    prefixes: vec![
                        Prefix::parse(p).map_err(|m| error("\"default\"", "public_paths", m))?
                    ],
                    regex: None,
                    methods: None,
                    networks: None,
                    policy: Policy::Bypass,
                    allow: None,
                })
            })
            .collect::<Result<Vec<_>, RouteError>>()?;
        let route = Route {
            name: "default".into(),
            hosts: Vec::new(),
            path: Prefix::parse("/").map_err(|m| error("\"default\"", "path", m))?,
            upstream: Some(upstream),
            timeout: None,
            policy: default_policy,
            allow: None,
            rules,
            regexes: RegexSet::empty(),
        };
        let mut hosts = HostTable::default();
        hosts.add(0, &[]);
        Ok(Routes {
            routes: vec![route],
            hosts,
        })
    }
}

fn label(name: &str) -> String {
    format!("{name:?}")
}

fn compile_route(
    r: &RawRoute,
    index: usize,
    default_policy: Policy,
) -> Result<(Route, Vec<HostPattern>), RouteError> {
    let name = match r.name.as_deref() {
        Some(n) if valid_name(n) => n.to_string(),
        Some(n) => {
            return Err(error(
                &label(n),
                "name",
                "must be 1 to 64 characters a-z A-Z 0-9 . _ -",
            ))
        }
        None => return Err(error(&format!("#{}", index + 1), "name", "is required")),
    };
    let at = label(&name);
    let err = |field: &str, message: String| error(&at, field, message);

    let patterns = match &r.hosts {
        None => Vec::new(),
        Some(list) if list.is_empty() => {
            return Err(err(
                "hosts",
                "is empty; leave it out to match any host".into(),
            ))
        }
        Some(list) => list
            .iter()
            .map(|h| HostPattern::parse(h).map_err(|m| err("hosts", m)))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let path = Prefix::parse(r.path.as_deref().unwrap_or("/")).map_err(|m| err("path", m))?;
    let policy = match &r.policy {
        Some(p) => p.parse().map_err(|m| err("policy", m))?,
        None => default_policy,
    };
    let allow = subjects(r.allow.as_deref(), policy).map_err(|m| err("allow", m))?;

    let mut rules = Vec::with_capacity(r.rules.len());
    let mut patterns_re = Vec::new();
    for (i, raw) in r.rules.iter().enumerate() {
        let field = |f: &str| format!("rules[{}].{f}", i + 1);
        let rule_err = |f: &str, m: String| error(&at, field(f), m);
        let mut prefixes = Vec::new();
        let mut own_re = Vec::new();
        for p in non_empty(raw.paths.as_deref(), "paths").map_err(|m| rule_err("paths", m))? {
            if let Some(re) = p.strip_prefix('~') {
                // Compiled alone first, so the error names the pattern that is wrong.
                Regex::new(re)
                    .map_err(|e| rule_err("paths", format!("regex {re:?}: {}", regex_error(&e))))?;
                patterns_re.push(re.to_string());
                own_re.push(re.to_string());
            } else {
                prefixes.push(Prefix::parse(p).map_err(|m| rule_err("paths", m))?);
            }
        }
        let methods = optional(raw.methods.as_deref(), "methods", method)
            .map_err(|m| rule_err("methods", m))?;
        let networks = optional(raw.networks.as_deref(), "networks", network)
            .map_err(|m| rule_err("networks", m))?;
        let rule_policy = match &raw.policy {
            Some(p) => p.parse().map_err(|m| rule_err("policy", m))?,
            None => policy,
        };
        // A rule without `allow` keeps the route's: narrowing a path's policy must not widen
        // who may reach it.
        let rule_allow = match &raw.allow {
            Some(_) => {
                subjects(raw.allow.as_deref(), rule_policy).map_err(|m| rule_err("allow", m))?
            }
            None => allow.clone(),
        };
        let regex = if own_re.is_empty() {
            None
        } else {
            Some(RegexSet::new(&own_re).map_err(|e| rule_err("paths", regex_error(&e)))?)
        };
        rules.push(Rule {
            prefixes,
            regex,
            methods,
            networks,
            policy: rule_policy,
            allow: rule_allow,
        });
    }
    let regexes = RegexSet::new(&patterns_re).map_err(|e| err("rules", regex_error(&e)))?;

    let upstream = match &r.upstream {
        Some(u) => Some(parse_upstream(u).map_err(|m| err("upstream", m))?),
        None if policy == Policy::Deny && rules.is_empty() => None,
        None => {
            return Err(err(
                "upstream",
                "is required unless the route only denies (policy = \"deny\" and no rules)".into(),
            ))
        }
    };
    let timeout = match &r.timeout {
        None => None,
        Some(t) => Some(
            crate::clock::parse_duration(t)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| err("timeout", format!("{t:?} is not a duration like 30s")))?,
        ),
    };
    if timeout.is_some() && upstream.is_none() {
        return Err(err("timeout", "has no effect without an upstream".into()));
    }
    let hosts = patterns.iter().map(ToString::to_string).collect();
    let route = Route {
        name,
        hosts,
        path,
        upstream,
        timeout,
        policy,
        allow,
        rules,
        regexes,
    };
    Ok((route, patterns))
}

/// The regex crate draws a syntax error over several lines (the pattern, a caret, then
/// `error: …`); a configuration error is one line (docs/contract.md §1), and the pattern is
/// already quoted beside it, so only the last line is kept.
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

fn valid_name(n: &str) -> bool {
    (1..=64).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn non_empty<'a>(list: Option<&'a [String]>, what: &str) -> Result<&'a [String], String> {
    match list {
        Some([]) => Err(format!("is empty; leave {what} out to match every request")),
        Some(l) => Ok(l),
        None => Ok(&[]),
    }
}

fn optional<T>(
    list: Option<&[String]>,
    what: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<Vec<T>>, String> {
    match list {
        None => Ok(None),
        Some(l) => non_empty(Some(l), what)?
            .iter()
            .map(|s| parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
    }
}

/// An HTTP method as it travels: upper-case token characters. `get` would never match a GET.
fn method(s: &str) -> Result<http::Method, String> {
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'))
    {
        return Err(format!("{s:?} is not a method name like GET"));
    }
    http::Method::from_bytes(s.as_bytes()).map_err(|_| format!("{s:?} is not a method name"))
}

fn network(s: &str) -> Result<IpNet, String> {
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is not a CIDR like 10.0.0.0/8"))
}

/// `allow` entries: `user:NAME` or `group:NAME`. `None` means every signed-in user. An `allow`
/// on a policy that authenticates nobody would be silently ignored, so it is refused.
fn subjects(list: Option<&[String]>, policy: Policy) -> Result<Option<Vec<Subject>>, String> {
    let Some(list) = list else { return Ok(None) };
    if matches!(policy, Policy::Deny | Policy::Bypass) {
        return Err(format!("has no effect with policy {policy}; leave it out"));
    }
    non_empty(Some(list), "allow")?
        .iter()
        .map(|s| subject(s))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn subject(s: &str) -> Result<Subject, String> {
    match s.split_once(':') {
        Some(("group", name)) => {
            if super::is_group_name(name) {
                Ok(Subject::Group(name.to_string()))
            } else {
                Err(format!(
                    "{s:?}: a group name is 1 to 64 characters a-z 0-9 . _ -"
                ))
            }
        }
        Some(("user", name)) => {
            let canonical = canonical_username(name);
            if canonical.is_empty() || canonical.contains(char::is_whitespace) {
                Err(format!("{s:?} names no user"))
            } else {
                Ok(Subject::User(canonical))
            }
        }
        _ => Err(format!("{s:?} must be user:NAME or group:NAME")),
    }
}

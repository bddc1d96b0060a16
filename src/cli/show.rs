//! How routes and rules are written for people and for scripts. Shared by `config check`
//! (every route) and `policy check` (the route and rule that decided), so an operator reads a
//! rule the same way in both.

use serde_json::{json, Value};

use crate::policy::{Policy, Route, Rule, Subject};

/// `a, b`, or `fallback` when there is nothing to list.
pub(super) fn list<T: ToString>(items: &[T], fallback: &str) -> String {
    if items.is_empty() {
        return fallback.to_string();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn hosts(route: &Route) -> String {
    list(&route.hosts, "any host")
}

pub(super) fn upstream(route: &Route) -> String {
    route
        .upstream
        .as_ref()
        .map_or_else(|| "none (denies everything)".to_string(), |u| u.url())
}

/// The `allow` that applies with `policy`: none for `deny` and `bypass`, which authenticate
/// nobody (a rule compiled without its own `allow` carries its route's, unused).
pub(super) fn applied_allow(policy: Policy, allow: Option<&[Subject]>) -> Option<&[Subject]> {
    match policy {
        Policy::Deny | Policy::Bypass => None,
        Policy::OneFactor | Policy::TwoFactor => allow,
    }
}

/// Who an `allow` admits: its subjects, or every signed-in user when it is absent.
pub(super) fn allow(subjects: Option<&[Subject]>) -> String {
    subjects.map_or_else(|| "every signed-in user".to_string(), |s| list(s, "-"))
}

/// A rule on one line: what it matches, then what it asks.
/// `paths /api, ~^/v1$; methods GET; networks 10.0.0.0/8; policy bypass`.
pub(super) fn rule(rule: &Rule) -> String {
    let mut parts = Vec::new();
    let paths = rule.paths();
    if !paths.is_empty() {
        parts.push(format!("paths {}", paths.join(", ")));
    }
    if let Some(methods) = &rule.methods {
        parts.push(format!("methods {}", list(methods, "-")));
    }
    if let Some(networks) = &rule.networks {
        parts.push(format!("networks {}", list(networks, "-")));
    }
    if parts.is_empty() {
        parts.push("every request".to_string());
    }
    parts.push(format!("policy {}", rule.policy));
    if let Some(subjects) = applied_allow(rule.policy, rule.allow.as_deref()) {
        parts.push(format!("allow {}", list(subjects, "-")));
    }
    parts.join("; ")
}

fn strings<T: ToString>(items: Option<&[T]>) -> Value {
    items.map_or(Value::Null, |items| {
        Value::Array(items.iter().map(|i| Value::String(i.to_string())).collect())
    })
}

/// Where a route is and where it sends requests; `policy check` names its decision apart.
pub(super) fn route_json(route: &Route) -> Value {
    json!({
        "name": route.name,
        "hosts": route.hosts,
        "path": route.path.as_str(),
        "upstream": route.upstream.as_ref().map(|u| u.url()),
    })
}

/// [`route_json`] with the route's own policy and its rules, for `config check`.
pub(super) fn route_json_full(route: &Route) -> Value {
    let mut value = route_json(route);
    if let Value::Object(fields) = &mut value {
        fields.insert("policy".into(), route.policy.as_str().into());
        fields.insert(
            "allow".into(),
            strings(applied_allow(route.policy, route.allow.as_deref())),
        );
        let rules = route
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| rule_json(i, r))
            .collect();
        fields.insert("rules".into(), Value::Array(rules));
    }
    value
}

/// A rule with its position as people count it (`index` 1 is the first rule). Absent fields
/// are `null`: they match everything.
pub(super) fn rule_json(index: usize, rule: &Rule) -> Value {
    let paths = rule.paths();
    json!({
        "index": index + 1,
        "paths": if paths.is_empty() { Value::Null } else { json!(paths) },
        "methods": strings(rule.methods.as_deref()),
        "networks": strings(rule.networks.as_deref()),
        "policy": rule.policy.as_str(),
        "allow": strings(applied_allow(rule.policy, rule.allow.as_deref())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::routes_from;

    const ROUTES: &str = r#"
        [[routes]]
        name = "app"
        hosts = ["app.example.com", "*.dev.example.com"]
        upstream = "127.0.0.1:5"
        allow = ["group:staff"]
        [[routes.rules]]
        paths = ["/health", "~^/v[0-9]+/status$"]
        methods = ["GET", "HEAD"]
        networks = ["10.0.0.0/8"]
        policy = "bypass"
        [[routes.rules]]
        policy = "two_factor"
        [[routes]]
        name = "closed"
        path = "/closed"
        policy = "deny"
    "#;

    #[test]
    fn a_rule_reads_as_what_it_matches_then_what_it_asks() {
        let routes = routes_from(ROUTES).unwrap();
        let app = routes.get(0).unwrap();
        assert_eq!(
            rule(&app.rules[0]),
            "paths /health, ~^/v[0-9]+/status$; methods GET, HEAD; networks 10.0.0.0/8; \
             policy bypass"
        );
        assert_eq!(
            rule(&app.rules[1]),
            "every request; policy two_factor; allow group:staff",
            "a rule without allow keeps the route's, and says so"
        );
    }

    #[test]
    fn a_route_without_hosts_or_upstream_says_so() {
        let routes = routes_from(ROUTES).unwrap();
        let closed = routes.get(1).unwrap();
        assert_eq!(hosts(closed), "any host");
        assert_eq!(upstream(closed), "none (denies everything)");
        assert_eq!(allow(closed.allow.as_deref()), "every signed-in user");
        assert_eq!(
            route_json(closed),
            json!({"name": "closed", "hosts": [], "path": "/closed", "upstream": null})
        );
    }

    #[test]
    fn the_full_route_json_numbers_rules_from_one() {
        let routes = routes_from(ROUTES).unwrap();
        let app = route_json_full(routes.get(0).unwrap());
        assert_eq!(app["upstream"], "http://127.0.0.1:5");
        assert_eq!(app["allow"], json!(["group:staff"]));
        assert_eq!(app["rules"][0]["index"], 1);
        assert_eq!(app["rules"][0]["networks"], json!(["10.0.0.0/8"]));
        assert_eq!(app["rules"][0]["allow"], Value::Null);
        assert_eq!(app["rules"][1]["paths"], Value::Null);
        assert_eq!(app["rules"][1]["policy"], "two_factor");
    }
}

//! How a `policy check` explanation is printed: aligned `label: value` lines for people, one
//! JSON object for scripts. Routes and rules are spelt by `cli/show.rs`, as `config check`
//! spells them.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::{Asker, Explanation, Verdict};
use crate::cli::show;
use crate::policy::Policy;

impl Asker {
    /// `alice (groups ops, staff; one-factor session)`.
    fn describe(&self) -> String {
        let groups = show::list(&self.groups, "no groups");
        let groups = if self.groups.is_empty() {
            groups
        } else {
            format!("groups {groups}")
        };
        let state = if self.disabled {
            "disabled: no session"
        } else if self.two_factor {
            "two-factor session, supposed by --mfa"
        } else {
            "one-factor session"
        };
        format!("{} ({groups}; {state})", self.name)
    }
}

impl Explanation<'_> {
    /// Aligned `label: value` lines, for people.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let host = if self.host.is_empty() {
            "(no host)"
        } else {
            &self.host
        };
        let _ = write!(out, "request:  {} {host} {}", self.method, self.path);
        if self.sent.0 != self.host || self.sent.1 != self.path {
            let sent_host = if self.sent.0.is_empty() {
                "(no host)"
            } else {
                &self.sent.0
            };
            let _ = write!(out, " (as sent: {sent_host} {})", self.sent.1);
        }
        out.push('\n');
        let client = self.client.map_or_else(
            || "unknown: rules with networks do not match".into(),
            |ip| ip.to_string(),
        );
        let _ = writeln!(out, "client:   {client}");
        let user = self
            .asker
            .as_ref()
            .map_or_else(|| "anonymous".into(), Asker::describe);
        let _ = writeln!(out, "user:     {user}");
        if let Some(route) = self.route {
            let _ = writeln!(
                out,
                "route:    {} (hosts {}; path {}; upstream {})",
                route.name,
                show::hosts(route),
                route.path.as_str(),
                show::upstream(route)
            );
        } else if self.verdict == Verdict::NoRoute {
            let _ = writeln!(out, "route:    none");
        }
        if let (Some(route), Some(m)) = (self.route, &self.matched) {
            match m.rule.and_then(|i| route.rules.get(i).map(|r| (i, r))) {
                Some((i, rule)) => {
                    let _ = writeln!(out, "rule:     {} ({})", i + 1, show::rule(rule));
                }
                None => {
                    let _ = writeln!(out, "rule:     none matched: the route's own policy");
                }
            }
            let _ = write!(out, "policy:   {}", m.policy);
            if matches!(m.policy, Policy::OneFactor | Policy::TwoFactor) {
                let _ = write!(out, "; allow {}", show::allow(m.allow));
            }
            out.push('\n');
        }
        let _ = writeln!(out, "decision: {}: {}", self.verdict.as_str(), self.reason);
        out
    }

    /// One JSON object, for scripts.
    pub fn json(&self) -> Value {
        let rule = match (self.route, &self.matched) {
            (Some(route), Some(m)) => m
                .rule
                .and_then(|i| route.rules.get(i).map(|r| show::rule_json(i, r))),
            _ => None,
        };
        let allow = self
            .matched
            .as_ref()
            .and_then(|m| show::applied_allow(m.policy, m.allow))
            .map(|subjects| subjects.iter().map(ToString::to_string).collect::<Vec<_>>());
        json!({
            "request": {"method": self.method, "host": self.host, "path": self.path},
            "client": self.client.map(|ip| ip.to_string()),
            "user": self.asker.as_ref().map(|a| json!({
                "name": a.name,
                "groups": a.groups,
                "disabled": a.disabled,
                "two_factor": a.two_factor,
            })),
            "route": self.route.map(show::route_json),
            "rule": rule,
            "policy": self.matched.as_ref().map(|m| m.policy.as_str()),
            "allow": allow,
            "decision": self.verdict.as_str(),
            "forwarded": self.verdict.forwarded(),
            "reason": self.reason,
        })
    }
}

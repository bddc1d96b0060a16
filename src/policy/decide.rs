//! Deciding a request (docs/contract.md §9 "Deciding"): the first rule of its route whose every
//! given field matches, else the route's own `policy` and `allow`.

use std::net::IpAddr;

use unicode_normalization::UnicodeNormalization;

use super::{Policy, Route, Rule, Subject};

/// The signed-in user, as the session says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn<'a> {
    pub name: &'a str,
    pub groups: &'a [String],
    /// Whether the session's sign-in used a second factor.
    pub two_factor: bool,
}

/// What a decision looks at.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub method: &'a http::Method,
    /// The path as `normalise_path` gives it.
    pub path: &'a str,
    /// The client address of §6, when known; a rule with `networks` never matches without one.
    pub client: Option<IpAddr>,
    pub user: Option<SignedIn<'a>>,
}

/// What happens to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 403 `forbidden`: `deny`, or a signed-in user outside `allow`.
    Forbidden,
    /// Forwarded without authentication.
    Bypass,
    /// `one_factor`/`two_factor` without a session: §6's answers (302 or 401).
    Unauthenticated,
    /// `two_factor` with a one-factor session: 403 `mfa_required` or the MFA page.
    MfaRequired,
    /// Forwarded with the user's identity.
    Forward,
}

impl Outcome {
    /// A bounded label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Forbidden => "forbidden",
            Outcome::Bypass => "bypass",
            Outcome::Unauthenticated => "unauthenticated",
            Outcome::MfaRequired => "mfa_required",
            Outcome::Forward => "forward",
        }
    }
}

/// The outcome and what decided it: the rule's position in the route (0-based), or `None`
/// when the route's own policy did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    pub rule: Option<usize>,
}

pub fn decide(route: &Route, facts: &Facts<'_>) -> Decision {
    // One scan of the path for every rule's regexes, and only when some rule has one.
    let regex_hits: Vec<bool> = if route.regex_rule.is_empty() {
        Vec::new()
    } else {
        let mut hits = vec![false; route.rules.len()];
        for i in route.regexes.matches(facts.path).iter() {
            if let Some(&rule) = route.regex_rule.get(i) {
                hits[rule] = true;
            }
        }
        hits
    };
    for (index, rule) in route.rules.iter().enumerate() {
        let regex_hit = regex_hits.get(index).copied().unwrap_or(false);
        if rule_matches(rule, facts, regex_hit) {
            return Decision {
                outcome: judge(rule.policy, rule.allow.as_deref(), facts.user.as_ref()),
                rule: Some(index),
            };
        }
    }
    Decision {
        outcome: judge(route.policy, route.allow.as_deref(), facts.user.as_ref()),
        rule: None,
    }
}

fn rule_matches(rule: &Rule, facts: &Facts<'_>, regex_hit: bool) -> bool {
    let path =
        !rule.has_paths() || regex_hit || rule.prefixes.iter().any(|p| p.matches(facts.path));
    let method = rule
        .methods
        .as_ref()
        .is_none_or(|methods| methods.contains(facts.method));
    let network = rule.networks.as_ref().is_none_or(|networks| {
        facts
            .client
            .is_some_and(|ip| networks.iter().any(|n| n.contains(&ip)))
    });
    path && method && network
}

fn judge(policy: Policy, allow: Option<&[Subject]>, user: Option<&SignedIn<'_>>) -> Outcome {
    match (policy, user) {
        (Policy::Deny, _) => Outcome::Forbidden,
        (Policy::Bypass, _) => Outcome::Bypass,
        (_, None) => Outcome::Unauthenticated,
        // The factor comes before `allow` (the contract's order): a one-factor session learns
        // nothing about which paths its user may reach.
        (Policy::TwoFactor, Some(u)) if !u.two_factor => Outcome::MfaRequired,
        (_, Some(u)) => {
            if allow.is_none_or(|subjects| subjects.iter().any(|s| names(s, u))) {
                Outcome::Forward
            } else {
                Outcome::Forbidden
            }
        }
    }
}

fn names(subject: &Subject, user: &SignedIn<'_>) -> bool {
    match subject {
        Subject::User(name) => *name == canonical_username(user.name),
        Subject::Group(group) => user.groups.iter().any(|g| g == group),
    }
}

/// Usernames compare as the store compares them (docs/contract.md §5): NFKC, lower-cased.
pub(super) fn canonical_username(name: &str) -> String {
    let display: String = name.trim().nfkc().collect();
    display.to_lowercase().nfkc().collect()
}

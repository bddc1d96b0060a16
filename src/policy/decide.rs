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

/// What the request's route asks of it, before anyone is known: the policy and `allow` of the
/// first matching rule, or the route's own. The gateway matches first (a `deny` or `bypass`
/// needs no session) and judges once it knows who is asking.
#[derive(Debug, Clone, Copy)]
pub struct Matched<'r> {
    pub policy: Policy,
    pub allow: Option<&'r [Subject]>,
    pub rule: Option<usize>,
}

impl Matched<'_> {
    pub fn judge(&self, user: Option<&SignedIn<'_>>) -> Decision {
        Decision {
            outcome: judge(self.policy, self.allow, user),
            rule: self.rule,
        }
    }

    /// Whether judging needs to know who is asking.
    pub fn needs_session(&self) -> bool {
        matches!(self.policy, Policy::OneFactor | Policy::TwoFactor)
    }
}

pub fn decide(route: &Route, facts: &Facts<'_>) -> Decision {
    matched(route, facts.method, facts.path, facts.client).judge(facts.user.as_ref())
}

/// The first rule of `route` whose every given field matches. Allocates nothing: the route's
/// regexes are scanned once as a set, and a rule's own set only when that scan found something.
pub fn matched<'r>(
    route: &'r Route,
    method: &http::Method,
    path: &str,
    client: Option<IpAddr>,
) -> Matched<'r> {
    let mut any_regex: Option<bool> = None;
    for (index, rule) in route.rules.iter().enumerate() {
        let path_hit = !rule.has_paths()
            || rule.prefixes.iter().any(|p| p.matches(path))
            || rule.regex.as_ref().is_some_and(|set| {
                *any_regex.get_or_insert_with(|| route.regexes.is_match(path)) && set.is_match(path)
            });
        if path_hit && rule_matches(rule, method, client) {
            return Matched {
                policy: rule.policy,
                allow: rule.allow.as_deref(),
                rule: Some(index),
            };
        }
    }
    Matched {
        policy: route.policy,
        allow: route.allow.as_deref(),
        rule: None,
    }
}

fn rule_matches(rule: &Rule, method: &http::Method, client: Option<IpAddr>) -> bool {
    let method = rule
        .methods
        .as_ref()
        .is_none_or(|methods| methods.contains(method));
    let network = rule
        .networks
        .as_ref()
        .is_none_or(|networks| client.is_some_and(|ip| networks.iter().any(|n| n.contains(&ip))));
    method && network
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

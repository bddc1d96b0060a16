//! Tests of `decide.rs`: every field of a rule, rule order, and each policy's outcomes with and
//! without a session (docs/contract.md §9 "Deciding").

use super::decide::*;
use super::{normalise_path, routes_from, Routes};
use http::Method;

const APP: &str = r#"
    [[routes]]
    name = "app"
    upstream = "127.0.0.1:1"
    policy = "one_factor"
    allow = ["group:staff", "user:Alice"]

      [[routes.rules]]
      paths = ["/api/health", "~^/v[0-9]+/status$"]
      methods = ["GET", "HEAD"]
      networks = ["10.0.0.0/8", "fd00::/8"]
      policy = "bypass"

      [[routes.rules]]
      paths = ["/admin"]
      policy = "two_factor"
      allow = ["group:ops"]

      [[routes.rules]]
      paths = ["/closed"]
      policy = "deny"

      [[routes.rules]]
      paths = ["/open"]
      policy = "bypass"

      [[routes.rules]]
      methods = ["DELETE"]
      policy = "two_factor"
"#;

struct Ask {
    method: Method,
    path: &'static str,
    ip: Option<&'static str>,
    user: Option<(&'static str, String, bool)>,
}

fn ask(path: &'static str) -> Ask {
    Ask {
        method: Method::GET,
        path,
        ip: None,
        user: None,
    }
}

impl Ask {
    fn method(mut self, m: Method) -> Self {
        self.method = m;
        self
    }
    fn from(mut self, ip: &'static str) -> Self {
        self.ip = Some(ip);
        self
    }
    fn by(mut self, name: &'static str, groups: &[&str], two_factor: bool) -> Self {
        self.user = Some((name, groups.join(","), two_factor));
        self
    }
    fn on(&self, routes: &Routes) -> Decision {
        let route = routes.choose("app.example", self.path).unwrap();
        let path = normalise_path(self.path);
        let facts = Facts {
            method: &self.method,
            path: &path,
            client: self.ip.map(|ip| ip.parse().unwrap()),
            user: self
                .user
                .as_ref()
                .map(|(name, groups, two_factor)| SignedIn {
                    name,
                    groups,
                    two_factor: *two_factor,
                }),
        };
        decide(route, &facts)
    }
}

fn outcome(a: Ask) -> (Outcome, Option<usize>) {
    let d = a.on(&routes_from(APP).unwrap());
    (d.outcome, d.rule)
}

#[test]
fn a_rule_matches_only_when_every_given_field_matches() {
    let health = || ask("/api/health").from("10.1.2.3");
    assert_eq!(outcome(health()), (Outcome::Bypass, Some(0)));
    // The wrong method, the wrong network or no known address: the rule does not apply.
    assert_eq!(
        outcome(health().method(Method::POST)),
        (Outcome::Unauthenticated, None)
    );
    assert_eq!(
        outcome(ask("/api/health").from("192.168.1.1")),
        (Outcome::Unauthenticated, None)
    );
    assert_eq!(
        outcome(ask("/api/health")),
        (Outcome::Unauthenticated, None)
    );
    assert_eq!(
        outcome(ask("/api/healthz").from("10.1.2.3")),
        (Outcome::Unauthenticated, None)
    );
}

#[test]
fn networks_hold_ipv4_and_ipv6_clients() {
    assert_eq!(
        outcome(ask("/api/health").from("fd12::1")).0,
        Outcome::Bypass
    );
    assert_eq!(
        outcome(ask("/api/health").from("fe80::1")).0,
        Outcome::Unauthenticated
    );
    assert_eq!(
        outcome(ask("/api/health").from("10.255.255.255")).0,
        Outcome::Bypass
    );
    assert_eq!(
        outcome(ask("/api/health").from("11.0.0.1")).0,
        Outcome::Unauthenticated
    );
}

#[test]
fn a_regex_path_matches_the_normalised_path() {
    assert_eq!(
        outcome(ask("/v2/status").from("10.0.0.1")),
        (Outcome::Bypass, Some(0))
    );
    assert_eq!(
        outcome(ask("/v2;x/st%61tus").from("10.0.0.1")),
        (Outcome::Bypass, Some(0))
    );
    assert_eq!(outcome(ask("/v2/status/x").from("10.0.0.1")).1, None);
    assert_eq!(outcome(ask("/vx/status").from("10.0.0.1")).1, None);
}

#[test]
fn the_first_matching_rule_decides() {
    let routes = routes_from(
        r#"[[routes]]
        name = "r"
        upstream = "127.0.0.1:1"
          [[routes.rules]]
          paths = ["/a"]
          policy = "deny"
          [[routes.rules]]
          paths = ["/a/b"]
          policy = "bypass""#,
    )
    .unwrap();
    let d = ask("/a/b").on(&routes);
    assert_eq!((d.outcome, d.rule), (Outcome::Forbidden, Some(0)));
}

#[test]
fn deny_forbids_everyone_even_a_two_factor_member() {
    assert_eq!(outcome(ask("/closed")), (Outcome::Forbidden, Some(2)));
    assert_eq!(
        outcome(ask("/closed/x").by("alice", &["ops", "staff"], true)),
        (Outcome::Forbidden, Some(2))
    );
}

#[test]
fn bypass_needs_no_session_and_ignores_the_route_allow() {
    assert_eq!(outcome(ask("/open/x")), (Outcome::Bypass, Some(3)));
    assert_eq!(
        outcome(ask("/open").by("mallory", &[], false)).0,
        Outcome::Bypass
    );
}

#[test]
fn allow_admits_a_listed_user_or_group_member_and_forbids_the_rest() {
    assert_eq!(
        outcome(ask("/x").by("alice", &[], false)),
        (Outcome::Forward, None)
    );
    // Names compare as the store compares them.
    assert_eq!(
        outcome(ask("/x").by("ALICE", &[], false)).0,
        Outcome::Forward
    );
    assert_eq!(
        outcome(ask("/x").by("bob", &["staff"], false)).0,
        Outcome::Forward
    );
    assert_eq!(
        outcome(ask("/x").by("bob", &["staffers"], false)).0,
        Outcome::Forbidden
    );
    assert_eq!(
        outcome(ask("/x").by("mallory", &[], true)).0,
        Outcome::Forbidden
    );
    assert_eq!(outcome(ask("/x")).0, Outcome::Unauthenticated);
}

#[test]
fn a_route_without_allow_admits_every_signed_in_user() {
    let routes = routes_from(
        r#"[[routes]]
        name = "r"
        upstream = "127.0.0.1:1""#,
    )
    .unwrap();
    assert_eq!(
        ask("/").by("anyone", &[], false).on(&routes).outcome,
        Outcome::Forward
    );
    assert_eq!(ask("/").on(&routes).outcome, Outcome::Unauthenticated);
}

#[test]
fn two_factor_asks_for_a_session_then_a_factor_then_allow() {
    assert_eq!(outcome(ask("/admin")), (Outcome::Unauthenticated, Some(1)));
    assert_eq!(
        outcome(ask("/admin/x").by("carol", &["ops"], false)),
        (Outcome::MfaRequired, Some(1))
    );
    assert_eq!(
        outcome(ask("/admin/x").by("carol", &["ops"], true)),
        (Outcome::Forward, Some(1))
    );
    // The rule's own allow replaces the route's: alice is not in ops.
    assert_eq!(
        outcome(ask("/admin").by("alice", &["staff"], true)).0,
        Outcome::Forbidden
    );
    // The factor is asked before allow is judged.
    assert_eq!(
        outcome(ask("/admin").by("alice", &["staff"], false)).0,
        Outcome::MfaRequired
    );
}

#[test]
fn a_rule_without_allow_keeps_the_route_allow() {
    let delete = |who: &'static str, groups: &[&str]| {
        outcome(ask("/x").method(Method::DELETE).by(who, groups, true))
    };
    assert_eq!(delete("bob", &["staff"]), (Outcome::Forward, Some(4)));
    assert_eq!(delete("mallory", &[]), (Outcome::Forbidden, Some(4)));
}

#[test]
fn a_method_rule_matches_only_its_methods() {
    let by_bob = |m: Method| outcome(ask("/x").method(m).by("bob", &["staff"], false));
    assert_eq!(by_bob(Method::DELETE), (Outcome::MfaRequired, Some(4)));
    assert_eq!(by_bob(Method::GET), (Outcome::Forward, None));
}

#[test]
fn a_method_rule_catches_every_letter_case_of_its_method() {
    let routes = routes_from(
        r#"[[routes]]
        name = "r"
        upstream = "127.0.0.1:1"
        policy = "bypass"
          [[routes.rules]]
          methods = ["DELETE"]
          policy = "deny""#,
    )
    .unwrap();
    for spelt in ["DELETE", "delete", "Delete"] {
        let method = Method::from_bytes(spelt.as_bytes()).unwrap();
        let route = routes.choose("h", "/x").unwrap();
        let d = decide(
            route,
            &Facts {
                method: &method,
                path: "/x",
                client: None,
                user: None,
            },
        );
        assert_eq!(d.outcome, Outcome::Forbidden, "{spelt}");
    }
}

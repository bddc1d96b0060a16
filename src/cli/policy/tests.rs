//! Tests of `policy check`: the explanation follows the gateway's order and the policy module's
//! decision, and says why in one sentence.

use serde_json::Value;

use super::*;
use crate::policy::routes_from;

const ROUTES: &str = r#"
    [[routes]]
    name = "app"
    hosts = ["app.example.com", "example.com"]
    upstream = "127.0.0.1:5"
      [[routes.rules]]
      paths = ["/health", "~^/v[0-9]+/status$"]
      methods = ["GET", "HEAD"]
      policy = "bypass"
      [[routes.rules]]
      paths = ["/internal"]
      networks = ["10.0.0.0/8"]
      policy = "one_factor"
      [[routes.rules]]
      paths = ["/internal"]
      policy = "deny"
    [[routes]]
    name = "app-admin"
    hosts = ["app.example.com"]
    path = "/admin"
    upstream = "https://127.0.0.1:6"
    policy = "two_factor"
    allow = ["group:ops", "user:root"]
    [[routes]]
    name = "dev"
    hosts = ["*.dev.example.com"]
    upstream = "127.0.0.1:7"
"#;

fn routes() -> Routes {
    routes_from(ROUTES).unwrap()
}

fn request(url: &str) -> Request {
    Request::parse(url, "GET", None).unwrap()
}

fn user(name: &str, groups: &[&str]) -> Asker {
    Asker {
        name: name.into(),
        groups: groups.iter().map(ToString::to_string).collect(),
        disabled: false,
        two_factor: false,
    }
}

fn verdict(url: &str, asker: Option<&Asker>) -> (Option<String>, Option<usize>, Verdict) {
    let r = routes();
    let e = explain(&r, &request(url), asker);
    (
        e.route.map(|r| r.name.clone()),
        e.matched.and_then(|m| m.rule),
        e.verdict,
    )
}

#[test]
fn urls_and_bare_paths_become_a_host_and_a_target() {
    let r = request("HTTPS://App.Example.com:8443/a;b/c?x=1");
    assert_eq!(
        (r.host.as_str(), r.target.as_str()),
        ("App.Example.com:8443", "/a;b/c?x=1")
    );
    assert_eq!(r.path, "/a;b/c");
    let r = request("http://app.example.com?x");
    assert_eq!(
        (r.host.as_str(), r.target.as_str()),
        ("app.example.com", "/?x")
    );
    let r = request("/only/a/path");
    assert_eq!((r.host.as_str(), r.target.as_str()), ("", "/only/a/path"));
    for bad in [
        "app.example.com/x",
        "ftp://h/x",
        "https:///x",
        "/a b",
        "/a\nb",
    ] {
        assert!(Request::parse(bad, "GET", None).is_err(), "{bad}");
    }
}

#[test]
fn methods_are_tokens_taken_as_given() {
    assert_eq!(
        Request::parse("/", "PROPFIND", None)
            .unwrap()
            .method
            .as_str(),
        "PROPFIND"
    );
    assert_eq!(
        Request::parse("/", "get", None).unwrap().method.as_str(),
        "get"
    );
    for bad in ["", "GE T", "GET/1", "(GET)"] {
        assert!(Request::parse("/", bad, None).is_err(), "{bad:?}");
    }
}

#[test]
fn a_matching_rule_decides_and_is_counted_from_one_for_people() {
    let r = routes();
    let e = explain(&r, &request("https://app.example.com/v2/status"), None);
    assert_eq!(e.verdict, Verdict::Decided(Outcome::Bypass));
    assert_eq!(e.matched.unwrap().rule, Some(0));
    let text = e.text();
    assert!(
        text.contains(
            "rule:     1 (paths /health, ~^/v[0-9]+/status$; methods GET, HEAD; policy bypass)"
        ),
        "{text}"
    );
    assert!(text.contains("decision: bypass: "), "{text}");
    let j = e.json();
    assert_eq!(j["rule"]["index"], 1);
    assert_eq!(j["forwarded"], true);
    assert_eq!(j["route"]["name"], "app");
    assert_eq!(j["route"]["upstream"], "http://127.0.0.1:5");
}

#[test]
fn without_a_matching_rule_the_routes_own_policy_decides() {
    let r = routes();
    let e = explain(&r, &request("https://app.example.com/anything"), None);
    assert_eq!(e.verdict, Verdict::Decided(Outcome::Unauthenticated));
    assert_eq!(e.matched.unwrap().rule, None);
    assert!(e
        .text()
        .contains("rule:     none matched: the route's own policy"));
    assert!(e.reason.contains("--user NAME"), "{}", e.reason);
    assert_eq!(e.json()["rule"], Value::Null);
    assert_eq!(e.json()["policy"], "one_factor");
    assert_eq!(e.json()["forwarded"], false);
}

#[test]
fn a_rule_with_networks_matches_only_a_known_client_inside_them() {
    let r = routes();
    let alice = user("alice", &[]);
    let url = "https://app.example.com/internal/x";
    let inside = Request::parse(url, "GET", Some("10.1.2.3".parse().unwrap())).unwrap();
    let e = explain(&r, &inside, Some(&alice));
    assert_eq!(
        (e.matched.unwrap().rule, e.verdict),
        (Some(1), Verdict::Decided(Outcome::Forward))
    );
    assert!(e.text().contains("client:   10.1.2.3"));
    let outside = Request::parse(url, "GET", Some("192.0.2.1".parse().unwrap())).unwrap();
    let e = explain(&r, &outside, Some(&alice));
    assert_eq!(
        (e.matched.unwrap().rule, e.verdict),
        (Some(2), Verdict::Decided(Outcome::Forbidden))
    );
    assert!(e.reason.starts_with("deny is 403"), "{}", e.reason);
    let e = explain(&r, &request(url), Some(&alice));
    assert_eq!(
        e.matched.unwrap().rule,
        Some(2),
        "an unknown client is in no network"
    );
    assert!(e.text().contains("client:   unknown"));
}

#[test]
fn allow_and_the_second_factor_are_judged_and_explained() {
    let url = "https://app.example.com/admin/users";
    let ops = user("alice", &["ops", "staff"]);
    let (route, rule, v) = verdict(url, Some(&ops));
    assert_eq!(
        (route.as_deref(), rule, v),
        (
            Some("app-admin"),
            None,
            Verdict::Decided(Outcome::MfaRequired)
        )
    );

    let r = routes();
    let e = explain(&r, &request(url), Some(&ops));
    assert!(e.reason.contains("--mfa"), "{}", e.reason);
    assert!(e.text().contains("one-factor session"), "{}", e.text());

    let with_mfa = Asker {
        two_factor: true,
        ..ops.clone()
    };
    let e = explain(&r, &request(url), Some(&with_mfa));
    assert_eq!(e.verdict, Verdict::Decided(Outcome::Forward));
    assert_eq!(
        e.reason,
        "alice has a session with a second factor as two_factor needs, and allow names \
         group:ops: forwarded with their identity"
    );
    assert!(
        e.text().contains("two-factor session, supposed by --mfa"),
        "{}",
        e.text()
    );
    assert_eq!(
        e.json()["allow"],
        serde_json::json!(["group:ops", "user:root"])
    );
    assert_eq!(
        e.json()["user"]["groups"],
        serde_json::json!(["ops", "staff"])
    );

    let root = Asker {
        two_factor: true,
        ..user("Root", &[])
    };
    let e = explain(&r, &request(url), Some(&root));
    assert!(e.reason.contains("allow names user:root"), "{}", e.reason);

    let bob = Asker {
        two_factor: true,
        ..user("bob", &["staff"])
    };
    let e = explain(&r, &request(url), Some(&bob));
    assert_eq!(e.verdict, Verdict::Decided(Outcome::Forbidden));
    assert!(
        e.reason
            .contains("bob is signed in, but allow (group:ops, user:root)"),
        "{}",
        e.reason
    );
    assert!(e.reason.contains("(staff)"), "{}", e.reason);
}

#[test]
fn a_disabled_user_has_no_session() {
    let r = routes();
    let gone = Asker {
        disabled: true,
        ..user("carol", &["ops"])
    };
    let e = explain(&r, &request("https://app.example.com/x"), Some(&gone));
    assert_eq!(e.verdict, Verdict::Decided(Outcome::Unauthenticated));
    assert!(e.reason.contains("carol is disabled"), "{}", e.reason);
}

#[test]
fn path_and_host_spellings_reach_the_canonical_decision() {
    let ops = Asker {
        two_factor: true,
        ..user("alice", &["ops"])
    };
    let canonical = verdict("https://app.example.com/admin", Some(&ops));
    assert_eq!(canonical.0.as_deref(), Some("app-admin"));
    for url in [
        "https://app.example.com/admin;x",
        "https://app.example.com/%61dmin",
        "https://app.example.com//admin",
        "https://APP.Example.com.:443/admin",
    ] {
        assert_eq!(verdict(url, Some(&ops)), canonical, "{url}");
    }
    let r = routes();
    let text = explain(&r, &request("https://APP.Example.com.:443/%61dmin"), None).text();
    assert!(
        text.starts_with(
            "request:  GET app.example.com /admin (as sent: APP.Example.com.:443 /%61dmin)\n"
        ),
        "{text}"
    );
}

#[test]
fn paths_and_hosts_the_gateway_refuses_are_400_before_any_route() {
    for url in [
        "https://app.example.com/health/../admin",
        "https://app.example.com/health/%2e%2e/admin",
        "https://app.example.com/a%2Fb",
        "https://app.example.com/health#/../admin",
        "/x%zz",
    ] {
        let (route, _, v) = verdict(url, None);
        assert_eq!((route, v), (None, Verdict::BadPath), "{url}");
    }
    for url in [
        "https://user@app.example.com/",
        "https://ex%61mple.com/",
        "https://a..b/",
    ] {
        assert_eq!(verdict(url, None).2, Verdict::BadHost, "{url}");
    }
    let r = routes();
    let e = explain(&r, &request("https://app.example.com/a/../b"), None);
    assert!(e.reason.ends_with("400 bad_path"), "{}", e.reason);
    assert_eq!(e.json()["route"], Value::Null);
    assert_eq!(e.json()["decision"], "bad_path");
    assert!(!e.verdict.forwarded());
}

#[test]
fn the_gateways_own_routes_and_unrouted_requests_are_not_forwarded() {
    let (route, _, v) = verdict("https://app.example.com/auth/login", None);
    assert_eq!((route, v), (None, Verdict::Gateway));
    let r = routes();
    let e = explain(&r, &request("https://other.org/x"), None);
    assert_eq!(e.verdict, Verdict::NoRoute);
    assert_eq!(
        e.reason,
        "no route serves other.org with path /x: 404 not_found"
    );
    assert!(e.text().contains("route:    none\n"));
    let e = explain(&r, &request("/x"), None);
    assert_eq!(
        e.reason,
        "no route serves no host with path /x: 404 not_found"
    );
    assert!(
        e.text().starts_with("request:  GET (no host) /x\n"),
        "{}",
        e.text()
    );
}

#[test]
fn a_wildcard_host_chooses_its_route() {
    let alice = user("alice", &[]);
    let (route, rule, v) = verdict("http://api.dev.example.com/", Some(&alice));
    assert_eq!(
        (route.as_deref(), rule, v),
        (Some("dev"), None, Verdict::Decided(Outcome::Forward))
    );
    assert_eq!(verdict("http://dev.example.com/", None).2, Verdict::NoRoute);
}

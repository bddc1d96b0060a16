//! Tests of `load.rs`: every configuration error names its route and field
//! (docs/contract.md §9 "Configuration errors"), and what loads is what was written.

use super::{routes_from, Policy, RouteError, Subject};

fn refused(text: &str) -> RouteError {
    match routes_from(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

/// One route named `r` with `body` added to it (and an upstream unless `body` sets one).
fn route(body: &str) -> String {
    let upstream = if body.contains("upstream") {
        ""
    } else {
        "upstream = \"127.0.0.1:1\"\n"
    };
    format!("[[routes]]\nname = \"r\"\n{upstream}{body}")
}

fn assert_names(e: &RouteError, route: &str, field: &str, says: &str) {
    assert_eq!(e.route, format!("{route:?}"), "{e}");
    assert_eq!(e.field, field, "{e}");
    assert!(e.message.contains(says), "{e}");
}

#[test]
fn an_unknown_policy_names_its_route() {
    assert_names(
        &refused(&route("policy = \"sometimes\"")),
        "r",
        "policy",
        "sometimes",
    );
    let e = refused(&route("[[routes.rules]]\npolicy = \"two-factor\""));
    assert_names(&e, "r", "rules[1].policy", "two-factor");
}

#[test]
fn a_bad_regex_or_cidr_names_its_route_and_rule() {
    let e = refused(&route(
        "[[routes.rules]]\npaths = [\"/ok\", \"~^/v[0-9+$\"]\npolicy = \"bypass\"",
    ));
    assert_names(&e, "r", "rules[1].paths", "^/v[0-9+$");
    assert!(
        e.message.contains("unclosed character class") && !e.message.contains('\n'),
        "one line saying what is wrong: {e}"
    );
    let e = refused(&route(
        "[[routes.rules]]\npolicy = \"bypass\"\n[[routes.rules]]\nnetworks = [\"10.0.0.0/33\"]\npolicy = \"deny\"",
    ));
    assert_names(&e, "r", "rules[2].networks", "10.0.0.0/33");
}

#[test]
fn duplicate_names_are_refused() {
    let text = format!("{}\npath = \"/a\"\n{}\npath = \"/b\"", route(""), route(""));
    assert_names(&refused(&text), "r", "name", "another route");
}

#[test]
fn two_routes_with_the_same_host_and_path_are_refused() {
    let text = r#"
        [[routes]]
        name = "one"
        hosts = ["a.example", "b.example"]
        upstream = "127.0.0.1:1"
        [[routes]]
        name = "two"
        hosts = ["B.example."]
        path = "/"
        upstream = "127.0.0.1:2"
    "#;
    assert_names(&refused(text), "two", "hosts", "\"one\"");
    let no_hosts = "[[routes]]\nname = \"a\"\nupstream = \"h:1\"\n[[routes]]\nname = \"b\"\nupstream = \"h:2\"";
    assert_names(&refused(no_hosts), "b", "hosts", "any host");
    // The same host with different paths, or different hosts with one path, is fine.
    let fine = "[[routes]]\nname = \"a\"\nupstream = \"h:1\"\n[[routes]]\nname = \"b\"\npath = \"/b\"\nupstream = \"h:2\"";
    assert!(routes_from(fine).is_ok());
}

#[test]
fn a_route_without_upstream_must_only_deny() {
    let e = refused("[[routes]]\nname = \"r\"\npolicy = \"one_factor\"");
    assert_names(&e, "r", "upstream", "only denies");
    let e = refused("[[routes]]\nname = \"r\"\npolicy = \"deny\"\n[[routes.rules]]\npaths = [\"/x\"]\npolicy = \"bypass\"");
    assert_names(&e, "r", "upstream", "only denies");
    let ok = routes_from("[[routes]]\nname = \"r\"\npolicy = \"deny\"").unwrap();
    assert!(ok.iter().all(|r| r.upstream.is_none()));
    assert_names(
        &refused(&route("upstream = \"ftp://x:1\"")),
        "r",
        "upstream",
        "ftp",
    );
}

#[test]
fn a_wildcard_must_be_a_leading_label() {
    for bad in ["*example.com", "a.*.example.com", "*", "example.*"] {
        let e = refused(&route(&format!("hosts = [\"{bad}\"]")));
        assert_names(&e, "r", "hosts", bad);
    }
}

#[test]
fn subjects_are_users_or_valid_groups() {
    for bad in [
        "role:admin",
        "admins",
        "group:",
        "group:Admins",
        "group:a b",
        "user:",
    ] {
        let e = refused(&route(&format!("allow = [\"{bad}\"]")));
        assert_eq!(e.field, "allow", "{bad}: {e}");
        assert_eq!(e.route, "\"r\"");
    }
    let long = "a".repeat(65);
    assert_eq!(
        refused(&route(&format!("allow = [\"group:{long}\"]"))).field,
        "allow"
    );
    let ok = routes_from(&route("allow = [\"group:a-z.0_9\", \"user:Ｂob\"]")).unwrap();
    let r = ok.iter().next().unwrap();
    assert_eq!(
        r.allow.as_deref(),
        Some(
            &[
                Subject::Group("a-z.0_9".into()),
                Subject::User("bob".into())
            ][..]
        )
    );
}

#[test]
fn method_names_are_upper_case_tokens() {
    for bad in ["get", "GE T", "", "GET/1"] {
        let e = refused(&route(&format!("[[routes.rules]]\nmethods = [\"{bad}\"]")));
        assert_names(&e, "r", "rules[1].methods", "method");
    }
    assert!(routes_from(&route(
        "[[routes.rules]]\nmethods = [\"PROPFIND\", \"M-SEARCH\"]"
    ))
    .is_ok());
}

#[test]
fn unknown_keys_and_missing_names_are_refused_by_route() {
    let e = refused(&route("alow = [\"group:x\"]"));
    assert_names(&e, "r", "table", "alow");
    let e = refused(&route("[[routes.rules]]\npath = [\"/x\"]"));
    assert_names(&e, "r", "table", "path");
    let e = refused("[[routes]]\nupstream = \"h:1\"");
    assert_eq!((e.route.as_str(), e.field.as_str()), ("#1", "name"), "{e}");
    assert_names(
        &refused("[[routes]]\nname = \"a b\"\nupstream = \"h:1\""),
        "a b",
        "name",
        "characters",
    );
}

#[test]
fn empty_lists_and_allow_that_cannot_apply_are_refused() {
    assert_eq!(refused(&route("hosts = []")).field, "hosts");
    assert_eq!(refused(&route("allow = []")).field, "allow");
    assert_eq!(
        refused(&route("[[routes.rules]]\npaths = []")).field,
        "rules[1].paths"
    );
    assert_eq!(
        refused(&route("policy = \"bypass\"\nallow = [\"user:a\"]")).field,
        "allow"
    );
    let e = refused(&route(
        "[[routes.rules]]\npolicy = \"deny\"\nallow = [\"user:a\"]",
    ));
    assert_eq!(e.field, "rules[1].allow");
}

#[test]
fn a_route_and_its_rules_load_as_written() {
    let r = routes_from(&route(
        "hosts = [\"App.Example.com\", \"*.dev.example.com\"]\npath = \"/app/\"\npolicy = \"two_factor\"\n\
         [[routes.rules]]\npaths = [\"/app/health\"]\nmethods = [\"GET\"]\nnetworks = [\"10.0.0.1\", \"::1/128\"]\npolicy = \"bypass\"",
    ))
    .unwrap();
    let route = r.iter().next().unwrap();
    assert_eq!(route.hosts, vec!["app.example.com", "*.dev.example.com"]);
    assert_eq!(route.path.as_str(), "/app");
    assert_eq!(route.policy, Policy::TwoFactor);
    assert_eq!(route.rules[0].policy, Policy::Bypass);
    assert_eq!(route.rules[0].networks.as_ref().map(Vec::len), Some(2));
    let up = route.upstream.as_ref().unwrap();
    assert_eq!((up.host.as_str(), up.port, up.tls), ("127.0.0.1", 1, false));
}

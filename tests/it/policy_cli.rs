//! `policy check` and `config check` against a configuration file with several routes
//! (docs/contract.md §9): the real binary, its exit status, its text and JSON, users and
//! groups from a real database, and configuration errors that name their route.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::harness::*;

const ROUTES: &str = r#"
default_policy = "one_factor"

[[routes]]
name = "app"
hosts = ["app.example.com", "www.example.com"]
upstream = "127.0.0.1:5001"
  [[routes.rules]]
  paths = ["/health", "~^/v[0-9]+/status$"]
  methods = ["GET", "HEAD"]
  policy = "bypass"
  [[routes.rules]]
  paths = ["/metrics"]
  networks = ["10.0.0.0/8"]
  policy = "bypass"
  [[routes.rules]]
  paths = ["/metrics"]
  policy = "deny"

[[routes]]
name = "app-admin"
hosts = ["app.example.com"]
path = "/admin"
upstream = "127.0.0.1:5002"
allow = ["group:ops"]
  [[routes.rules]]
  paths = ["/admin/keys"]
  policy = "two_factor"

[[routes]]
name = "dev"
hosts = ["*.dev.example.com"]
upstream = "https://127.0.0.1:5003"
allow = ["user:alice"]

[[routes]]
name = "retired"
hosts = ["old.example.com"]
policy = "deny"
"#;

/// A directory of its own holding `gatehouse.toml`, removed when the test lets go of it.
struct Dir(PathBuf);

impl Dir {
    fn with_config(toml: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("gh-policy-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("gatehouse.toml"), toml).unwrap();
        Dir(dir)
    }

    fn config(&self) -> String {
        self.0.join("gatehouse.toml").display().to_string()
    }

    /// Runs gatehouse here with nothing but `env`: a database nobody listens on, so any
    /// attempt to connect would fail the command.
    fn run(&self, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
        let refusing = Refusing::new();
        let closed = format!("postgres://postgres@127.0.0.1:{}/gh_never", refusing.port());
        let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .current_dir(&self.0)
            .env_clear()
            .env("DATABASE_URL", closed)
            .envs(env.iter().copied())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `policy check URL extra… --json` with this directory's configuration.
    fn check(&self, url: &str, extra: &[&str]) -> (i32, Value) {
        let config = self.config();
        let mut args = vec!["--config", &config, "policy", "check", url, "--json"];
        args.extend_from_slice(extra);
        let (code, out, err) = self.run(&[], &args);
        assert_eq!(err, "", "a check says nothing on stderr: {url} {extra:?}");
        (
            code,
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}")),
        )
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a decision comes down to: the route, the rule's position, the decision.
fn gist(v: &Value) -> (Value, Value, Value) {
    (
        v["route"]["name"].clone(),
        v["rule"]["index"].clone(),
        v["decision"].clone(),
    )
}

#[test]
fn policy_check_explains_routes_and_rules_without_touching_the_database() {
    let dir = Dir::with_config(ROUTES);

    let (code, v) = dir.check("https://app.example.com/health", &[]);
    assert_eq!(code, 0);
    assert_eq!(
        v["route"],
        serde_json::json!({"name": "app", "hosts": ["app.example.com", "www.example.com"],
                           "path": "/", "upstream": "http://127.0.0.1:5001"})
    );
    assert_eq!(v["rule"]["index"], 1);
    assert_eq!(v["rule"]["methods"], serde_json::json!(["GET", "HEAD"]));
    assert_eq!(
        (&v["policy"], &v["decision"], &v["forwarded"]),
        (&"bypass".into(), &"bypass".into(), &true.into())
    );
    assert!(v["reason"]
        .as_str()
        .unwrap()
        .contains("without authentication"));

    let (code, v) = dir.check("https://www.example.com/v2/status", &[]);
    assert_eq!(
        (code, gist(&v)),
        (0, ("app".into(), 1.into(), "bypass".into()))
    );
    let (code, v) = dir.check("https://app.example.com/health", &["--method", "POST"]);
    assert_eq!(
        (code, gist(&v)),
        (1, ("app".into(), Value::Null, "unauthenticated".into())),
        "the bypass rule names GET and HEAD only"
    );

    let (code, v) = dir.check("https://app.example.com/metrics", &["--ip", "10.1.2.3"]);
    assert_eq!(
        (code, gist(&v)),
        (0, ("app".into(), 2.into(), "bypass".into()))
    );
    for outside in [&["--ip", "192.0.2.7"][..], &[][..]] {
        let (code, v) = dir.check("https://app.example.com/metrics", outside);
        assert_eq!(
            (code, gist(&v)),
            (1, ("app".into(), 3.into(), "forbidden".into())),
            "{outside:?}: outside the network, or unknown, the deny rule decides"
        );
    }

    let (code, v) = dir.check("http://old.example.com/", &[]);
    assert_eq!(
        (code, gist(&v)),
        (1, ("retired".into(), Value::Null, "forbidden".into()))
    );
    assert_eq!(v["route"]["upstream"], Value::Null);

    for url in ["https://other.org/", "/health", "http://dev.example.com/"] {
        let (code, v) = dir.check(url, &[]);
        assert_eq!(
            (code, &v["decision"], &v["route"]),
            (1, &"no_route".into(), &Value::Null),
            "{url}"
        );
        assert!(
            v["reason"].as_str().unwrap().ends_with("404 not_found"),
            "{v}"
        );
    }
    let (code, v) = dir.check("https://app.example.com/auth/login", &[]);
    assert_eq!((code, &v["decision"]), (1, &"gateway".into()));

    // The text form, for people: the route, the rule by position, the decision.
    let config = dir.config();
    let (code, out, err) = dir.run(
        &[],
        &[
            "--config",
            &config,
            "policy",
            "check",
            "https://app.example.com/health",
        ],
    );
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out.contains("route:    app (hosts app.example.com, www.example.com; path /; upstream http://127.0.0.1:5001)"), "{out}");
    assert!(
        out.contains(
            "rule:     1 (paths /health, ~^/v[0-9]+/status$; methods GET, HEAD; policy bypass)"
        ),
        "{out}"
    );
    assert!(out.contains("decision: bypass: "), "{out}");
}

#[test]
fn path_and_host_spellings_reach_the_decision_of_the_canonical_spelling() {
    let dir = Dir::with_config(ROUTES);
    let (_, canonical) = dir.check("https://app.example.com/admin/keys", &[]);
    assert_eq!(
        gist(&canonical),
        ("app-admin".into(), 1.into(), "unauthenticated".into())
    );
    for url in [
        "https://app.example.com/admin;x/keys",
        "https://app.example.com/%61dmin/keys",
        "https://app.example.com//admin//keys",
        "https://APP.Example.com.:443/admin/keys",
        "HTTPS://app.example.com/admin/k%65ys;jsessionid=1",
    ] {
        let (code, v) = dir.check(url, &[]);
        assert_eq!((code, gist(&v)), (1, gist(&canonical)), "{url}");
        assert_eq!(v["request"]["path"], "/admin/keys", "{url}");
        assert_eq!(v["request"]["host"], "app.example.com", "{url}");
    }
    // What the gateway refuses before routing is a 400, whatever a route would have said.
    for url in [
        "https://app.example.com/health/../admin",
        "https://app.example.com/health/%2e%2e/admin",
        "https://app.example.com/admin%2fkeys",
        "https://app.example.com/health/..;/admin",
    ] {
        let (code, v) = dir.check(url, &[]);
        assert_eq!(
            (code, &v["decision"], &v["route"]),
            (1, &"bad_path".into(), &Value::Null),
            "{url}"
        );
        assert!(
            v["reason"].as_str().unwrap().ends_with("400 bad_path"),
            "{v}"
        );
    }
    for url in [
        "https://ex%61mple.com/",
        "https://a..b/",
        "https://app.example.com:80:80/",
    ] {
        let (code, v) = dir.check(url, &[]);
        assert_eq!((code, &v["decision"]), (1, &"bad_host".into()), "{url}");
    }
}

#[test]
fn policy_check_refuses_what_it_cannot_answer_with_status_2() {
    let dir = Dir::with_config(ROUTES);
    let config = dir.config();
    for (args, says) in [
        (
            vec!["app.example.com/x"],
            "neither an http(s):// URL nor a path",
        ),
        (vec!["/x", "--method", "GE T"], "not an HTTP method"),
        (vec!["/x", "--ip", "10.0.0.300"], "--ip"),
        (vec!["/x", "--mfa"], "--user"),
        // --user reads the database, which nobody serves here.
        (vec!["/x", "--user", "alice"], "cannot reach PostgreSQL"),
    ] {
        let mut full = vec!["--config", config.as_str(), "policy", "check"];
        full.extend(args.iter().copied());
        let (code, out, err) = dir.run(&[], &full);
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn policy_check_as_a_user_reads_their_groups_from_the_database() {
    let gw = Gateway::start().await;
    for name in ["alice", "bob"] {
        let (code, out, err) = gw.cli(&["user", "add", name, "--password-stdin"], PASSWORD);
        assert_eq!(code, 0, "{out}{err}");
    }
    assert_eq!(gw.cli(&["group", "create", "ops"], "").0, 0);
    assert_eq!(gw.cli(&["group", "add", "ops", "alice"], "").0, 0);
    let dir = Dir::with_config(ROUTES);
    let config = dir.config();
    let check = |url: &str, extra: &[&str]| {
        let mut args = vec![
            "--config",
            config.as_str(),
            "policy",
            "check",
            url,
            "--json",
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = gw.cli(&args, "");
        assert_eq!(err, "", "{url} {extra:?}");
        let v: Value = serde_json::from_str(&out).unwrap();
        (code, v)
    };

    let (code, v) = check("https://app.example.com/admin", &["--user", "alice"]);
    assert_eq!(
        (code, gist(&v)),
        (0, ("app-admin".into(), Value::Null, "forward".into()))
    );
    assert_eq!(v["user"]["groups"], serde_json::json!(["ops"]));
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("allow names group:ops"),
        "{v}"
    );
    let (code, v) = check("https://app.example.com/admin", &["--user", "bob"]);
    assert_eq!((code, &v["decision"]), (1, &"forbidden".into()));
    assert_eq!(v["allow"], serde_json::json!(["group:ops"]));

    // A session has no second factor yet: two_factor asks for one, --mfa supposes it.
    let (code, v) = check("https://app.example.com/admin/keys", &["--user", "alice"]);
    assert_eq!(
        (code, gist(&v)),
        (1, ("app-admin".into(), 1.into(), "mfa_required".into()))
    );
    let (code, v) = check(
        "https://app.example.com/admin/keys",
        &["--user", "alice", "--mfa"],
    );
    assert_eq!(
        (code, &v["decision"], &v["user"]["two_factor"]),
        (0, &"forward".into(), &true.into())
    );

    let (code, v) = check("https://api.dev.example.com/", &["--user", "ALICE"]);
    assert_eq!(
        (code, gist(&v)),
        (0, ("dev".into(), Value::Null, "forward".into()))
    );
    assert_eq!(v["route"]["upstream"], "https://127.0.0.1:5003");
    assert_eq!(
        check("https://api.dev.example.com/", &["--user", "bob"]).0,
        1
    );

    assert_eq!(gw.cli(&["user", "disable", "alice"], "").0, 0);
    let (code, v) = check("https://app.example.com/admin", &["--user", "alice"]);
    assert_eq!((code, &v["decision"]), (1, &"unauthenticated".into()));
    assert!(
        v["reason"].as_str().unwrap().contains("alice is disabled"),
        "{v}"
    );

    let (code, out, err) = gw.cli(
        &[
            "--config", &config, "policy", "check", "/", "--user", "nobody",
        ],
        "",
    );
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("no such user: nobody"), "{err}");
}

#[test]
fn config_check_prints_the_routes_and_the_files_it_read() {
    let dir = Dir::with_config(ROUTES);
    let config = dir.config();
    let (code, out, err) = dir.run(&[], &["--config", &config, "config", "check"]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let here = dir.0.canonicalize().unwrap().display().to_string();
    assert!(
        out.contains(&format!(
            "config file: {config}\n.env file: none (no .env in {here})\n"
        )),
        "{out}"
    );
    assert!(out.contains("routes (4, from the config file):"), "{out}");
    let at = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s:?} in {out}"));
    assert!(at("\napp ") < at("  rule 1: paths /health, ~^/v[0-9]+/status$"));
    assert!(at("  rule 3: paths /metrics; policy deny") < at("\napp-admin "));
    assert!(at("\nretired ") > at("\ndev "));
    assert!(out.contains("none (denies everything)"), "{out}");

    let (code, out, _) = dir.run(&[], &["--config", &config, "config", "check", "--json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["config_file"], config.as_str());
    assert_eq!(v["implicit_route"], false);
    assert_eq!(
        v["routes"][0]["rules"][1]["networks"],
        serde_json::json!(["10.0.0.0/8"])
    );
    assert_eq!(v["routes"][1]["allow"], serde_json::json!(["group:ops"]));
    assert!(v["settings"]["GATEHOUSE_JWT_SECRET"].is_string());

    // Without [[routes]]: the implicit route, from the settings, and the .env that was read.
    std::fs::write(
        dir.0.join(".env"),
        "GATEHOUSE_PUBLIC_PATHS=/public,/status\n",
    )
    .unwrap();
    let (code, out, err) = dir.run(
        &[("GATEHOUSE_UPSTREAM", "127.0.0.1:7777")],
        &["config", "check"],
    );
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(
        out.contains(&format!(
            "config file: none (no --config, and no config/gatehouse.toml in {here})\n\
             .env file: {here}/.env\n"
        )),
        "{out}"
    );
    assert!(out.contains("the implicit route"), "{out}");
    assert!(
        out.contains("default  any host  /     http://127.0.0.1:7777  one_factor"),
        "{out}"
    );
    assert!(
        out.contains("  rule 2: paths /status; policy bypass"),
        "{out}"
    );
}

/// Every configuration error of §9, with the route and the field it must name.
const BROKEN: &[(&str, &str, &str)] = &[
    (
        "unknown policy",
        r#"routes."grafana".policy"#,
        "[[routes]]\nname = \"grafana\"\nupstream = \"h:1\"\npolicy = \"sometimes\"",
    ),
    (
        "bad regex",
        r#"routes."grafana".rules[1].paths"#,
        "[[routes]]\nname = \"grafana\"\nupstream = \"h:1\"\n[[routes.rules]]\npaths = [\"~^/v[0-9+$\"]\npolicy = \"bypass\"",
    ),
    (
        "bad CIDR",
        r#"routes."grafana".rules[1].networks"#,
        "[[routes]]\nname = \"grafana\"\nupstream = \"h:1\"\n[[routes.rules]]\nnetworks = [\"10.0.0.0/33\"]\npolicy = \"bypass\"",
    ),
    (
        "duplicate names",
        r#"routes."grafana".name"#,
        "[[routes]]\nname = \"grafana\"\nupstream = \"h:1\"\n[[routes]]\nname = \"grafana\"\npath = \"/b\"\nupstream = \"h:2\"",
    ),
    (
        "same hosts and path",
        r#"routes."two".hosts"#,
        "[[routes]]\nname = \"one\"\nhosts = [\"a.example\"]\nupstream = \"h:1\"\n[[routes]]\nname = \"two\"\nhosts = [\"A.example\"]\npath = \"/\"\nupstream = \"h:2\"",
    ),
    (
        "no upstream without only denying",
        r#"routes."api".upstream"#,
        "[[routes]]\nname = \"api\"\npolicy = \"one_factor\"",
    ),
    (
        "wildcard not *.suffix",
        r#"routes."grafana".hosts"#,
        "[[routes]]\nname = \"grafana\"\nhosts = [\"a.*.example.com\"]\nupstream = \"h:1\"",
    ),
    (
        "unknown subject kind",
        r#"routes."grafana".allow"#,
        "[[routes]]\nname = \"grafana\"\nupstream = \"h:1\"\nallow = [\"role:admin\"]",
    ),
    (
        "invalid group name",
        r#"routes."grafana".allow"#,
        "[[routes]]\nname = \"grafana\"\nupstream = \"h:1\"\nallow = [\"group:Admins\"]",
    ),
];

#[test]
fn configuration_errors_name_the_route_and_field_in_one_line_and_exit_2() {
    for (what, names, toml) in BROKEN {
        let dir = Dir::with_config(toml);
        let config = dir.config();
        for command in [
            &["config", "check"][..],
            &["serve"][..],
            &["policy", "check", "/"][..],
        ] {
            let mut args = vec!["--config", config.as_str()];
            args.extend_from_slice(command);
            let (code, out, err) = dir.run(&[], &args);
            assert_eq!(code, 2, "{what}, {command:?}: {err}");
            assert_eq!(out, "", "{what}, {command:?}");
            assert_eq!(
                err.trim_end().lines().count(),
                1,
                "{what}, {command:?}: {err}"
            );
            assert!(
                err.contains(&format!("configuration error: {names}: ")),
                "{what}, {command:?}: {err}"
            );
        }
    }
}

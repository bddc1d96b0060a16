//! Routes and access policies through the real proxy (docs/contract.md §9): hosts and paths
//! choose a route and its upstream, rules decide, and no spelling of a path or host reaches an
//! upstream a rule keeps it from. Forward auth decides with the same code; SIGHUP swaps the
//! routes whole.

use crate::harness::upstreams::labelled;
use crate::harness::*;

/// Two apps on two hosts, an admin path for a group, public health checks, a closed path.
fn sites(app: std::net::SocketAddr, dev: std::net::SocketAddr) -> String {
    format!(
        r#"
[[routes]]
name = "app"
hosts = ["app.example"]
upstream = "http://{app}"

  [[routes.rules]]
  paths = ["/health", "~^/v[0-9]+/status$"]
  methods = ["GET", "HEAD"]
  policy = "bypass"

  [[routes.rules]]
  paths = ["/admin"]
  allow = ["group:ops"]

  [[routes.rules]]
  paths = ["/closed"]
  policy = "deny"

  [[routes.rules]]
  paths = ["/internal"]
  networks = ["10.0.0.0/8"]
  policy = "bypass"

[[routes]]
name = "dev"
hosts = ["*.dev.example"]
upstream = "{dev}"

[[routes]]
name = "vault"
hosts = ["vault.example"]
policy = "deny"
"#
    )
}

async fn start() -> Gateway {
    let (app, dev) = (labelled("app"), labelled("dev"));
    Gateway::start_with(
        Options::default()
            .config(&sites(app, dev))
            .env("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1"),
    )
    .await
}

async fn at(gw: &Gateway, host: &str, path: &str, jar: &Jar) -> Resp {
    send(gw.req("GET", path).header("host", host).with(jar)).await
}

fn upstream_of(r: &Resp) -> String {
    r.json()["upstream"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn each_host_reaches_its_own_upstream_and_an_unknown_host_gets_404() {
    let gw = start().await;
    let jar = gw.signup("alice").await;
    let r = at(&gw, "app.example", "/x", &jar).await;
    assert_eq!((r.status, upstream_of(&r)), (200, "app".into()));
    assert_eq!(r.echoed("x-auth-user"), ["alice"]);
    // The path goes upstream unchanged.
    assert_eq!(r.json()["path"], "/x");
    for host in [
        "web.dev.example",
        "WEB.Dev.Example.:8443",
        "a.b.dev.example",
    ] {
        let r = at(&gw, host, "/", &jar).await;
        assert_eq!((r.status, upstream_of(&r)), (200, "dev".into()), "{host}");
    }
    // `*.dev.example` does not cover `dev.example`, and nothing covers other hosts.
    for host in ["dev.example", "other.example", "127.0.0.1"] {
        let r = at(&gw, host, "/", &jar).await;
        assert_eq!(r.status, 404, "{host}");
        assert_eq!(r.error(), "not_found");
    }
    let page = send(
        gw.req("GET", "/")
            .header("host", "other.example")
            .header("accept", "text/html"),
    )
    .await;
    assert_eq!(page.status, 404);
    assert!(page.text().contains("Nothing is served at this address"));
    // The gateway's own routes answer on every host.
    let me = send(
        gw.req("GET", "/auth/me")
            .header("host", "other.example")
            .with(&jar),
    )
    .await;
    assert_eq!(me.status, 200);
}

#[tokio::test]
async fn an_admin_path_admits_its_group_only_and_membership_changes_take_effect() {
    let gw = start().await;
    let alice = gw.signup("alice").await;
    let r = at(&gw, "app.example", "/admin/users", &alice).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.error(), "forbidden");
    let page = send(
        gw.req("GET", "/admin")
            .header("host", "app.example")
            .header("accept", "text/html")
            .with(&alice),
    )
    .await;
    assert_eq!(page.status, 403);
    assert!(page.text().contains("signed in as <strong>alice</strong>"));
    assert!(page.text().contains("action=\"/auth/logout\""));
    // A path that only starts like the admin prefix is not under it.
    assert_eq!(
        at(&gw, "app.example", "/administrator", &alice)
            .await
            .status,
        200
    );

    let (code, out, err) = gw.cli_async(&["group", "create", "ops"], "").await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = gw.cli_async(&["group", "add", "ops", "alice"], "").await;
    assert_eq!(code, 0, "{out}{err}");
    let status = eventually(200, || async {
        at(&gw, "app.example", "/admin/users", &alice).await.status
    })
    .await;
    assert_eq!(status, 200, "the new membership reaches the decision");
}

#[tokio::test]
async fn a_bypass_rule_forwards_anonymously_whoever_asks() {
    let gw = start().await;
    let jar = gw.signup("alice").await;
    for path in ["/health", "/health/db", "/v2/status"] {
        for who in [&jar, &Jar::default()] {
            let r = send(
                gw.req("GET", path)
                    .header("host", "app.example")
                    .header("x-auth-user", "mallory")
                    .header("x_auth_groups", "ops")
                    .with(who),
            )
            .await;
            assert_eq!((r.status, upstream_of(&r)), (200, "app".into()), "{path}");
            let names = r.echoed_names();
            assert!(
                !names
                    .iter()
                    .any(|n| n.replace(['_', '.'], "-").starts_with("x-auth-")),
                "{path}: identity reached a bypassed upstream: {names:?}"
            );
            // The gateway's cookies stay with the gateway.
            assert!(r
                .echoed("cookie")
                .iter()
                .all(|c| !c.contains("access_token")));
        }
    }
    // The rule names GET and HEAD, and the regex is anchored: these need a session.
    let post = send(gw.req("POST", "/health").header("host", "app.example")).await;
    assert_eq!(post.status, 401);
    assert_eq!(
        at(&gw, "app.example", "/v2/status/x", &Jar::default())
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn a_denied_path_is_never_forwarded_however_it_is_spelt() {
    let gw = start().await;
    let jar = gw.signup("alice").await;
    for path in [
        "/closed",
        "/closed/x",
        "/closed;jsessionid=1",
        "/closed;x/y",
        "/%63losed",
        "/%63%6C%6F%73%65%64/x",
        "//closed",
        "/closed/",
    ] {
        for who in [&jar, &Jar::default()] {
            let r = at(&gw, "app.example", path, who).await;
            assert_eq!(r.status, 403, "{path}");
            assert_eq!(r.error(), "forbidden", "{path}");
        }
    }
    // An upstream that decodes twice would read these as /closed: the gateway refuses them
    // rather than judge them as some other path.
    for path in ["/%2563losed", "/%252563losed/x", "/%2563losed;x"] {
        let r = at(&gw, "app.example", path, &jar).await;
        assert_eq!(r.status, 400, "{path}");
        assert_eq!(r.error(), "bad_path", "{path}");
    }
    // An escaped `%` that reads the same either way is left alone.
    assert_eq!(at(&gw, "app.example", "/100%25", &jar).await.status, 200);
    // Paths an upstream would read as climbing out are refused before any route is chosen
    // (sent raw: an HTTP client would resolve the dots itself).
    for path in [
        "/x/..;/closed",
        "/x/%2e%2e/closed",
        "/closed%2fx",
        "/x/%252e%252e/closed",
    ] {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n");
        let (status, body) = raw(&gw, &request).await;
        assert_eq!(status, 400, "{path}: {body}");
    }
    // A route that denies everything, under every spelling of its host.
    for host in [
        "vault.example",
        "VAULT.example",
        "vault.example.",
        "vault.example:9",
    ] {
        let r = at(&gw, host, "/", &jar).await;
        assert_eq!(r.status, 403, "{host}");
    }
}

#[tokio::test]
async fn a_host_that_could_mean_two_things_is_refused() {
    let gw = start().await;
    for request in [
        // Absolute-form naming the open dev host while Host names the denied vault, and back.
        "GET http://x.dev.example/ HTTP/1.1\r\nHost: vault.example\r\nConnection: close\r\n\r\n",
        "GET http://vault.example/ HTTP/1.1\r\nHost: x.dev.example\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: vault.example\r\nHost: x.dev.example\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: vault.example..\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x.dev.example@vault.example\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: vault.example/\r\nConnection: close\r\n\r\n",
    ] {
        let (status, body) = raw(&gw, request).await;
        assert_eq!(status, 400, "{request:?}: {body}");
    }
}

#[tokio::test]
async fn a_trusted_proxys_forwarded_host_must_name_the_host_routed_on() {
    let gw = start().await;
    let jar = gw.signup("alice").await;
    let with = |xfh: &'static str| {
        send(
            gw.req("GET", "/")
                .header("host", "x.dev.example")
                .header("x-forwarded-host", xfh)
                .with(&jar),
        )
    };
    // The upstream would hear `vault.example` for a request decided as the dev route.
    assert_eq!(with("vault.example").await.status, 400);
    assert_eq!(with("x.dev.example, vault.example").await.status, 400);
    let r = with("X.Dev.Example:443").await;
    assert_eq!((r.status, upstream_of(&r)), (200, "dev".into()));
}

#[tokio::test]
async fn a_networks_rule_reads_the_client_address_a_trusted_proxy_gives() {
    let gw = start().await;
    let from = |xff: &'static str| {
        send(
            gw.req("GET", "/internal")
                .header("host", "app.example")
                .header("x-forwarded-for", xff),
        )
    };
    let r = from("10.1.2.3").await;
    assert_eq!((r.status, upstream_of(&r)), (200, "app".into()));
    assert_eq!(from("203.0.113.9").await.status, 401);
    // The address the client claims first is not the one the proxy saw.
    assert_eq!(from("10.1.2.3, 203.0.113.9").await.status, 401);
}

#[tokio::test]
async fn decisions_are_counted_by_route() {
    let gw = start().await;
    let jar = gw.signup("alice").await;
    at(&gw, "app.example", "/closed", &jar).await;
    at(&gw, "app.example", "/x", &jar).await;
    at(&gw, "nowhere.example", "/x", &jar).await;
    let metrics = send(gw.http.get(format!("{}/metrics", gw.admin)))
        .await
        .text();
    for line in [
        "gatehouse_policy_decisions_total{decision=\"forbidden\",route=\"app\"} 1",
        "gatehouse_policy_decisions_total{decision=\"forward\",route=\"app\"} 1",
        "gatehouse_policy_decisions_total{decision=\"no_route\",route=\"\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
}

#[tokio::test]
async fn two_factor_sends_a_one_factor_session_to_the_second_factor_page() {
    let upstream = labelled("app");
    let gw = Gateway::start_with(Options::default().config(&format!(
        "[[routes]]\nname = \"app\"\nupstream = \"{upstream}\"\npolicy = \"two_factor\"\n"
    )))
    .await;
    let jar = gw.signup("alice").await;
    let api = gw.get("/reports?q=1", &jar).await;
    assert_eq!(api.status, 403);
    assert_eq!(api.error(), "mfa_required");
    let browser = send(
        gw.req("GET", "/reports?q=1")
            .header("accept", "text/html")
            .with(&jar),
    )
    .await;
    assert_eq!(browser.status, 302);
    assert_eq!(
        browser.header("location"),
        Some("/auth/mfa?rd=%2Freports%3Fq%3D1")
    );
    let page = send(
        gw.req("GET", "/auth/mfa?rd=%2Freports")
            .header("accept", "text/html")
            .with(&jar),
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("second factor"), "{}", page.text());
    assert!(page.text().contains("alice"));
    // Without a session the answer is the usual one: sign in first.
    let anonymous = gw.get("/reports", &Jar::default()).await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn the_default_policy_applies_to_the_implicit_route() {
    let gw = Gateway::start_env(&[
        ("GATEHOUSE_DEFAULT_POLICY", "deny"),
        ("GATEHOUSE_PUBLIC_PATHS", "/pub"),
    ])
    .await;
    let jar = gw.signup("alice").await;
    assert_eq!(gw.get("/x", &jar).await.status, 403);
    assert_eq!(gw.get("/pub/x", &Jar::default()).await.status, 200);
}

#[tokio::test]
async fn forward_auth_decides_by_the_forwarded_host_path_and_method() {
    let gw = start().await;
    let jar = gw.signup("alice").await;
    let ask = |endpoint: &'static str, host: &'static str, uri: &'static str, who: &Jar| {
        send(
            gw.req("GET", endpoint)
                .header("x-forwarded-proto", "https")
                .header("x-forwarded-host", host)
                .header("x-forwarded-uri", uri)
                .header("x-forwarded-method", "GET")
                .with(who),
        )
    };
    for endpoint in ["/auth/verify", "/auth/forward"] {
        let ok = ask(endpoint, "app.example", "/x", &jar).await;
        assert_eq!(ok.status, 200, "{endpoint}");
        assert_eq!(ok.header("x-auth-user"), Some("alice"));
        let bypass = ask(endpoint, "app.example", "/health", &Jar::default()).await;
        assert_eq!(bypass.status, 200, "{endpoint}");
        assert_eq!(bypass.header("x-auth-user"), Some(""));
        for (host, uri) in [
            ("app.example", "/closed"),
            ("app.example", "/%63losed;x"),
            ("app.example", "/admin"),
            ("vault.example", "/"),
        ] {
            let r = ask(endpoint, host, uri, &jar).await;
            assert_eq!(r.status, 403, "{endpoint} {host}{uri}");
            assert!(r.header("x-auth-user").is_none());
        }
        let anonymous = ask(endpoint, "app.example", "/x", &Jar::default()).await;
        assert_eq!(anonymous.status, 401, "{endpoint}");
        let bad_host = ask(endpoint, "app.example, vault.example", "/", &jar).await;
        assert_eq!(bad_host.status, 400, "{endpoint}");
    }
    // No route: nginx understands only 401 and 403; Traefik and Caddy show the answer.
    assert_eq!(
        ask("/auth/verify", "nowhere.example", "/", &jar)
            .await
            .status,
        403
    );
    assert_eq!(
        ask("/auth/forward", "nowhere.example", "/", &jar)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn forward_auth_from_an_untrusted_caller_allows_nothing_when_routes_are_configured() {
    let (app, dev) = (labelled("app"), labelled("dev"));
    // Loopback is trusted by default; here nobody is.
    let gw = Gateway::start_with(
        Options::default()
            .config(&sites(app, dev))
            .env("GATEHOUSE_TRUSTED_PROXIES", "192.0.2.1"),
    )
    .await;
    let jar = gw.signup("alice").await;
    let r = send(
        gw.req("GET", "/auth/verify")
            .header("x-forwarded-host", "app.example")
            .header("x-forwarded-uri", "/x")
            .with(&jar),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("GATEHOUSE_TRUSTED_PROXIES"),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn sighup_swaps_the_routes_and_a_bad_file_keeps_the_running_ones() {
    let (app, dev) = (labelled("app"), labelled("dev"));
    let gw = Gateway::start_with(Options::default().config(&sites(app, dev))).await;
    let jar = gw.signup("alice").await;
    assert_eq!(at(&gw, "app.example", "/closed", &jar).await.status, 403);
    let path = gw.config_path.clone().unwrap();

    // An invalid file: one error line, and the running routes stay.
    std::fs::write(&path, sites(app, dev).replace("\"deny\"", "\"dney\"")).unwrap();
    gw.hangup();
    let mut logged = String::new();
    for _ in 0..100 {
        logged = gw.log_text();
        if logged.contains("not reloaded") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let errors: Vec<&str> = logged
        .lines()
        .filter(|l| l.contains("not reloaded"))
        .collect();
    assert_eq!(errors.len(), 1, "{logged}");
    assert!(errors[0].contains("dney"), "{}", errors[0]);
    assert_eq!(at(&gw, "app.example", "/closed", &jar).await.status, 403);
    assert_eq!(at(&gw, "x.dev.example", "/", &jar).await.status, 200);

    // A valid one: the closed path opens, the dev host goes away.
    let opened = sites(app, dev).replace("paths = [\"/closed\"]", "paths = [\"/elsewhere\"]");
    let without_dev = opened.replace(
        "name = \"dev\"\nhosts = [\"*.dev.example\"]",
        "name = \"dev\"\nhosts = [\"dev2.example\"]",
    );
    std::fs::write(&path, without_dev).unwrap();
    gw.hangup();
    let status = eventually(200, || async {
        at(&gw, "app.example", "/closed", &jar).await.status
    })
    .await;
    assert_eq!(status, 200);
    assert_eq!(at(&gw, "x.dev.example", "/", &jar).await.status, 404);
    let r = at(&gw, "dev2.example", "/", &jar).await;
    assert_eq!((r.status, upstream_of(&r)), (200, "dev".into()));
}

#[tokio::test]
async fn an_upstream_that_refuses_is_a_502_page_for_browsers() {
    let refusing = Refusing::new();
    let closed = refusing.port();
    let gw = Gateway::start_with(Options::default().config(&format!(
        "[[routes]]\nname = \"gone\"\nupstream = \"127.0.0.1:{closed}\"\ntimeout = \"2s\"\n"
    )))
    .await;
    let jar = gw.signup("alice").await;
    let api = gw.get("/x", &jar).await;
    assert_eq!(api.status, 502);
    assert_eq!(api.error(), "bad_gateway");
    let page = send(gw.req("GET", "/x").header("accept", "text/html").with(&jar)).await;
    assert_eq!(page.status, 502);
    assert!(page.text().contains("not answering"), "{}", page.text());
}

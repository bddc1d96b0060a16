//! gatehouse beside the proxies people run: Debian's nginx (`auth_request` → `/auth/verify`)
//! and Caddy (`forward_auth` → `/auth/forward`), configured with the very snippets in
//! `deploy/` that the README shows, in front of the echo upstream.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::*;

const HTML: &str = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8";

struct Proxy {
    child: Child,
    base: String,
    dir: PathBuf,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn require(binary: &str) -> String {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin"] {
        let path = format!("{dir}/{binary}");
        if std::path::Path::new(&path).exists() {
            return path;
        }
    }
    panic!("{binary} is not installed: apt-get install -y {binary} (.ci/run does)");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gh-{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn wait_for(base: &str, log: &std::path::Path) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "proxy did not start: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// The README's snippet with its example addresses swapped for this test's.
fn snippet(text: &str, gw: &Gateway) -> String {
    text.replace("127.0.0.1:8000", gw.base.trim_start_matches("http://"))
        .replace("127.0.0.1:8080", &gw.upstream.to_string())
}

async fn nginx(gw: &Gateway, port: u16) -> Proxy {
    let bin = require("nginx");
    let dir = temp_dir("nginx");
    let d = dir.display();
    let server = snippet(include_str!("../../deploy/nginx/gatehouse.conf"), gw)
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
    let conf = format!(
        "daemon off;\nmaster_process off;\nerror_log {d}/error.log warn;\npid {d}/nginx.pid;\nevents {{}}\n\
         http {{\naccess_log off;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n{server}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let log = dir.join("error.log");
    let child = Command::new(bin)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_for(&base, &log).await;
    Proxy { child, base, dir }
}

async fn caddy(gw: &Gateway, port: u16) -> Proxy {
    let bin = require("caddy");
    let dir = temp_dir("caddy");
    let site = snippet(include_str!("../../deploy/caddy/Caddyfile"), gw)
        .replace(":80 {", &format!("http://127.0.0.1:{port} {{"));
    // Test-only globals: no admin endpoint (tests run in parallel), no certificates.
    let conf = format!("{{\n\tadmin off\n\tauto_https off\n}}\n\n{site}");
    std::fs::write(dir.join("Caddyfile"), conf).unwrap();
    let log = dir.join("caddy.log");
    let child = Command::new(bin)
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(dir.join("Caddyfile"))
        .env("XDG_DATA_HOME", &dir)
        .env("XDG_CONFIG_HOME", &dir)
        .env("HOME", &dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_for(&base, &log).await;
    Proxy { child, base, dir }
}

/// The same journey through either proxy.
async fn journey(proxy: &Proxy, gw: &Gateway) {
    let http = &gw.http;
    let url = |p: &str| format!("{}{p}", proxy.base);

    // 1. An unauthenticated browser is sent to the sign-in page, on the proxy's origin.
    let r = send(http.get(url("/app?x=1")).header("accept", HTML)).await;
    assert_eq!(r.status, 302, "{}", r.text());
    let location = r.header("location").unwrap().to_string();
    assert!(
        location.starts_with(&format!("{}/auth/login?rd=", proxy.base)),
        "{location}"
    );
    let page = send(http.get(&location).header("accept", HTML)).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("action=\"/auth/login\""));
    // An API client just gets 401.
    assert_eq!(
        send(http.get(url("/app")).header("accept", "application/json"))
            .await
            .status,
        401
    );

    // 2. Signing in through the proxy lands back on the page asked for.
    let r = send(
        http.post(url("/auth/register"))
            .json(&serde_json::json!({"username": "alice", "password": PASSWORD})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let rd = format!("{}/app?x=1", proxy.base);
    let r = send(http.post(url("/auth/login")).form(&[
        ("username", "alice"),
        ("password", PASSWORD),
        ("rd", rd.as_str()),
    ]))
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some(rd.as_str()));
    let jar = r.jar();
    assert_eq!(jar.0.len(), 2);

    // 3. The upstream sees the gateway's identity, and none of the client's spoofed headers.
    let r = send(
        http.get(url("/app?x=1"))
            .with(&jar)
            .header("accept", HTML)
            .header("X-Auth-User", "mallory")
            .header("X_Auth_User", "mallory")
            .header("X.Auth.User-Id", "00000000-0000-0000-0000-000000000000")
            .header("x-auth-session-id", "forged"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-auth-user"), vec!["alice"]);
    assert_eq!(
        r.echoed("x-auth-session-id"),
        vec![claims_of(jar.access())["sid"].as_str().unwrap()]
    );
    assert_eq!(r.echoed("x-auth-user-id").len(), 1);
    for name in r.echoed_names() {
        let normal = name.replace(['_', '.'], "-");
        if normal.starts_with("x-auth-") {
            assert!(
                ["x-auth-user", "x-auth-user-id", "x-auth-session-id"].contains(&name.as_str()),
                "spoofed {name} reached the upstream"
            );
        }
    }

    // 4. Signing out through the proxy: the next request is refused.
    let r = send(http.post(url("/auth/logout")).with(&jar)).await;
    assert_eq!(r.status, 204);
    let r = send(http.get(url("/app")).with(&jar).header("accept", HTML)).await;
    assert_eq!(r.status, 302);
    let r = send(http.get(url("/app")).with(&jar)).await;
    assert_eq!(r.status, 401);
}

async fn gateway_for(proxy_port: u16) -> Gateway {
    Gateway::start_env(&[
        ("GATEHOUSE_COOKIE_SECURE", "false"),
        (
            "GATEHOUSE_PUBLIC_URL",
            &format!("http://127.0.0.1:{proxy_port}"),
        ),
    ])
    .await
}

#[tokio::test]
async fn nginx_auth_request_in_front_of_the_upstream() {
    let port = free_port();
    let gw = gateway_for(port).await;
    let proxy = nginx(&gw, port).await;
    journey(&proxy, &gw).await;
}

#[tokio::test]
async fn caddy_forward_auth_in_front_of_the_upstream() {
    let port = free_port();
    let gw = gateway_for(port).await;
    let proxy = caddy(&gw, port).await;
    journey(&proxy, &gw).await;
}

#[test]
fn the_readme_shows_the_tested_snippets() {
    let readme = include_str!("../../README.md");
    for snippet in [
        include_str!("../../deploy/nginx/gatehouse.conf"),
        include_str!("../../deploy/caddy/Caddyfile"),
    ] {
        assert!(
            readme.contains(snippet.trim()),
            "README must show deploy/ snippets verbatim"
        );
    }
}

/// After the access cookie expired, a request through the proxy refreshes in line; the browser
/// must receive both new cookies, or its next refresh would be taken for token reuse.
async fn in_line_refresh_keeps_the_session(proxy: &Proxy, gw: &Gateway) {
    let jar = gw.signup("alice").await;
    let r = send(
        gw.http
            .get(format!("{}/app", proxy.base))
            .with(&jar.only("refresh_token")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let fresh = r.jar();
    assert_eq!(
        fresh.0.len(),
        2,
        "both cookies reach the browser: {:?}",
        r.cookies()
    );
    assert_eq!(claims_of(fresh.refresh())["gen"], 1);
    let r = send(
        gw.http
            .get(format!("{}/app", proxy.base))
            .with(&fresh.only("refresh_token")),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        claims_of(r.jar().refresh())["gen"],
        2,
        "the new refresh cookie works"
    );
}

#[tokio::test]
async fn an_in_line_refresh_through_nginx_delivers_both_cookies() {
    let port = free_port();
    let gw = gateway_for(port).await;
    let proxy = nginx(&gw, port).await;
    in_line_refresh_keeps_the_session(&proxy, &gw).await;
}

#[tokio::test]
async fn an_in_line_refresh_through_caddy_delivers_both_cookies() {
    let port = free_port();
    let gw = gateway_for(port).await;
    let proxy = caddy(&gw, port).await;
    in_line_refresh_keeps_the_session(&proxy, &gw).await;
}

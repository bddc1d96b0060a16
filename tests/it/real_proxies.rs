//! gatehouse beside the proxies people run: Debian's nginx (`auth_request` → `/auth/verify`)
//! and Caddy (`forward_auth` → `/auth/forward`), configured with the very snippets in
//! `deploy/` that the README shows, in front of the echo upstream; Traefik's file, which no
//! Debian package can run, is read instead.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::*;

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
    nginx_with(gw, port, "").await
}

/// nginx with `globals` in its `http {}` block, where a user's own settings would be.
async fn nginx_with(gw: &Gateway, port: u16, globals: &str) -> Proxy {
    let bin = require("nginx");
    let dir = temp_dir("nginx");
    let d = dir.display();
    let server = snippet(include_str!("../../deploy/nginx/gatehouse.conf"), gw)
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
    let conf = format!(
        "daemon off;\nmaster_process off;\nerror_log {d}/error.log warn;\npid {d}/nginx.pid;\nevents {{}}\n\
         http {{\naccess_log off;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n{globals}\n{server}\n}}\n"
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
            .header("x-auth-session-id", "forged")
            .header("X-Auth-Groups", "root"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-auth-user"), vec!["alice"]);
    // alice is in no group: the gateway's empty value (nginx sends no header for it).
    assert!(
        r.echoed("x-auth-groups").iter().all(String::is_empty),
        "{:?}",
        r.echoed("x-auth-groups")
    );
    assert_eq!(
        r.echoed("x-auth-session-id"),
        vec![claims_of(jar.access())["sid"].as_str().unwrap()]
    );
    assert_eq!(r.echoed("x-auth-user-id").len(), 1);
    for name in r.echoed_names() {
        let normal = name.replace(['_', '.'], "-");
        if normal.starts_with("x-auth-") {
            assert!(
                [
                    "x-auth-user",
                    "x-auth-user-id",
                    "x-auth-session-id",
                    "x-auth-groups"
                ]
                .contains(&name.as_str()),
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
        ("GATEHOUSE_PUBLIC_PATHS", "/public"),
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

/// The identity headers of docs/contract.md §6.
const IDENTITY: [&str; 5] = [
    "X-Auth-User-Id",
    "X-Auth-User",
    "X-Auth-Session-Id",
    "X-Auth-Groups",
    "X-Auth-Assertion",
];

/// Every spelling of `name` with `-`, `_` or `.` between its words, the all-hyphen one first.
fn spellings(name: &str) -> Vec<String> {
    let words: Vec<&str> = name.split('-').collect();
    let gaps = u32::try_from(words.len() - 1).unwrap();
    (0..3usize.pow(gaps))
        .map(|mut n| {
            let mut spelling = words[0].to_string();
            for word in &words[1..] {
                spelling.push(['-', '_', '.'][n % 3]);
                n /= 3;
                spelling.push_str(word);
            }
            spelling
        })
        .collect()
}

fn all_identity_spellings() -> Vec<String> {
    IDENTITY.into_iter().flat_map(spellings).collect()
}

/// The identity header `name` stands for under docs/contract.md §6, if any.
fn identity_of(name: &str) -> Option<&'static str> {
    let normal = name.replace(['_', '.'], "-");
    IDENTITY
        .into_iter()
        .find(|id| id.eq_ignore_ascii_case(&normal))
}

/// `name` in one of four letter cases: as written, lower, upper, and alternating.
fn in_case(name: &str, case: usize) -> String {
    match case {
        0 => name.to_string(),
        1 => name.to_ascii_lowercase(),
        2 => name.to_ascii_uppercase(),
        _ => name
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect(),
    }
}

#[test]
fn the_spellings_are_every_separator_mix_and_read_as_their_name() {
    for name in IDENTITY {
        let all = spellings(name);
        let gaps = name.matches('-').count();
        assert_eq!(
            all.len(),
            3usize.pow(u32::try_from(gaps).unwrap()),
            "{name}"
        );
        assert_eq!(all[0], name);
        let distinct: std::collections::BTreeSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), all.len(), "{name}");
        for spelling in &all {
            for case in 0..4 {
                assert_eq!(identity_of(&in_case(spelling, case)), Some(name));
            }
        }
    }
    assert!(all_identity_spellings().contains(&"X_Auth-Session.Id".to_string()));
    for other in [
        "X-Auth-Token",
        "X-Authorization",
        "X-Auth-Username",
        "X-Auth-User-Ids",
    ] {
        assert_eq!(identity_of(other), None, "{other}");
    }
}

/// A response read off the wire, headers in the order and case they came.
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    /// The headers the echo upstream received.
    fn echoed(&self) -> Vec<(String, String)> {
        let json: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {e}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        });
        json["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h[0].as_str().unwrap().to_string(),
                    h[1].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// A GET with `headers` sent byte for byte: an HTTP client library would fold their case.
async fn raw_get(proxy: &Proxy, path: &str, headers: &[(String, String)]) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = proxy.base.trim_start_matches("http://");
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("the proxy answers")
        .unwrap();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8(out[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect();
    let mut body = out[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size_text = std::str::from_utf8(&rest[..eol]).unwrap();
        let size_text = size_text.split(';').next().unwrap().trim();
        let size = usize::from_str_radix(size_text, 16).unwrap();
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
        rest = &rest[eol + 2 + size + 2..];
    }
}

/// Headers that only look like identity headers: the snippets must let them through.
const BYSTANDERS: [(&str, &str); 3] = [
    ("X-Auth-Token", "keep-token"),
    ("X-Authorization", "keep-authorization"),
    ("X-Auth-Username", "keep-username"),
];

/// What reached the upstream carries no client-sent identity: no header whose name reads as an
/// identity header except in its own spelling, none twice, no spoofed value, no placeholder.
fn assert_no_spoofed_identity(echoed: &[(String, String)], what: &str) {
    for id in IDENTITY {
        let seen: Vec<_> = echoed
            .iter()
            .filter(|(name, _)| identity_of(name) == Some(id))
            .collect();
        assert!(seen.len() <= 1, "{what}: {id} arrived as {seen:?}");
        for (name, value) in seen {
            assert!(
                name.eq_ignore_ascii_case(id),
                "{what}: spoofed {name}: {value} reached the upstream"
            );
            assert!(
                !value.contains("spoof") && !value.contains('{'),
                "{what}: {name}: {value} reached the upstream"
            );
        }
    }
    for (name, value) in BYSTANDERS {
        let got: Vec<_> = echoed
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(got, vec![value], "{what}: {name} must pass untouched");
    }
}

fn echoed_values(echoed: &[(String, String)], id: &str) -> Vec<String> {
    echoed
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(id))
        .map(|(_, v)| v.clone())
        .collect()
}

/// A client sends every spelling of every identity header, in four letter cases, on a public
/// path without a session and on a protected path with one: the upstream sees none of them.
async fn no_spelling_of_an_identity_header_gets_through(proxy: &Proxy, gw: &Gateway) {
    let jar = gw.signup("alice").await;
    let claims = claims_of(jar.access());
    let (user_id, session_id) = (
        claims["sub"].as_str().unwrap().to_string(),
        claims["sid"].as_str().unwrap().to_string(),
    );
    for case in 0..4 {
        let mut headers: Vec<(String, String)> = all_identity_spellings()
            .iter()
            .enumerate()
            .map(|(i, name)| (in_case(name, case), format!("spoof-{i}")))
            .collect();
        headers.extend(BYSTANDERS.map(|(k, v)| (k.to_string(), v.to_string())));

        let r = raw_get(proxy, "/public/page", &headers).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let echoed = r.echoed();
        let what = format!("public path, case {case}");
        assert_no_spoofed_identity(&echoed, &what);
        for id in IDENTITY {
            for value in echoed_values(&echoed, id) {
                assert_eq!(value, "", "{what}: {id}");
            }
        }

        headers.push(("Cookie".to_string(), jar.header()));
        let r = raw_get(proxy, "/app", &headers).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let echoed = r.echoed();
        let what = format!("signed in, case {case}");
        assert_no_spoofed_identity(&echoed, &what);
        assert_eq!(
            echoed_values(&echoed, "X-Auth-User"),
            vec!["alice"],
            "{what}"
        );
        assert_eq!(
            echoed_values(&echoed, "X-Auth-User-Id"),
            vec![user_id.clone()]
        );
        assert_eq!(
            echoed_values(&echoed, "X-Auth-Session-Id"),
            vec![session_id.clone()]
        );
        // Without a refresh there is no cookie to hand on, and no placeholder for one.
        let cookies: Vec<_> = r
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .collect();
        assert!(cookies.is_empty(), "{what}: {cookies:?}");
    }
}

#[tokio::test]
async fn nginx_lets_no_spelling_of_an_identity_header_through() {
    let port = free_port();
    let gw = gateway_for(port).await;
    let proxy = nginx(&gw, port).await;
    no_spelling_of_an_identity_header_gets_through(&proxy, &gw).await;
}

#[tokio::test]
async fn nginx_lets_no_spelling_through_even_when_http_accepts_odd_names() {
    let port = free_port();
    let gw = gateway_for(port).await;
    let proxy = nginx_with(
        &gw,
        port,
        "underscores_in_headers on;\nignore_invalid_headers off;",
    )
    .await;
    no_spelling_of_an_identity_header_gets_through(&proxy, &gw).await;
}

#[tokio::test]
async fn caddy_lets_no_spelling_of_an_identity_header_through() {
    let port = free_port();
    let gw = gateway_for(port).await;
    let proxy = caddy(&gw, port).await;
    no_spelling_of_an_identity_header_gets_through(&proxy, &gw).await;
}

/// The lines of the block that `header` opens in `text`, list dashes dropped (a line scan: no
/// YAML crate for one test).
fn yaml_block(text: &str, header: &str) -> Vec<String> {
    let mut lines = text.lines().skip_while(|l| l.trim() != header);
    let indent = |l: &str| l.len() - l.trim_start().len();
    let opener = lines.next().unwrap_or_else(|| panic!("no {header}"));
    lines
        .take_while(|l| indent(l) > indent(opener))
        .map(|l| l.trim().trim_start_matches("- ").to_string())
        .collect()
}

#[test]
fn traefik_strips_every_spelling_forward_auth_does_not_replace() {
    let file = include_str!("../../deploy/traefik/dynamic.yml");
    // Go folds the case of a name but not its separators, so each spelling is listed once.
    let mut got: Vec<String> = yaml_block(file, "customRequestHeaders:")
        .iter()
        .map(|l| {
            let (name, value) = l.split_once(':').unwrap();
            assert_eq!(value.trim(), "\"\"", "{name} must be deleted");
            name.trim().to_ascii_lowercase()
        })
        .collect();
    let mut want: Vec<String> = all_identity_spellings()
        .iter()
        .filter(|s| s.contains(['_', '.']))
        .map(|s| s.to_ascii_lowercase())
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // ForwardAuth deletes the listed names from the client's request before copying them over.
    assert_eq!(yaml_block(file, "authResponseHeaders:"), IDENTITY);
}

/// A gateway with routes, for a proxy on `proxy_port` in front of the echo upstream.
async fn gateway_with_routes(proxy_port: u16) -> Gateway {
    let upstream = gatehouse::demo::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let config = format!(
        r#"
[[routes]]
name = "app"
upstream = "{upstream}"
  [[routes.rules]]
  paths = ["/public"]
  policy = "bypass"
  [[routes.rules]]
  paths = ["/closed"]
  policy = "deny"
  [[routes.rules]]
  paths = ["/admin"]
  allow = ["group:ops"]
  [[routes.rules]]
  paths = ["/secure"]
  policy = "two_factor"
"#
    );
    let options = Options {
        upstream: Some(upstream),
        ..Options::default()
    }
    .config(&config)
    .env("GATEHOUSE_COOKIE_SECURE", "false")
    .env(
        "GATEHOUSE_PUBLIC_URL",
        &format!("http://127.0.0.1:{proxy_port}"),
    );
    Gateway::start_with(options).await
}

/// What a proxy in front does with each decision of docs/contract.md §9.
async fn routes_through(proxy: &Proxy, gw: &Gateway) {
    let http = &gw.http;
    let url = |p: &str| format!("{}{p}", proxy.base);
    let r = send(
        http.post(url("/auth/register"))
            .json(&serde_json::json!({"username": "alice", "password": PASSWORD})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = send(
        http.post(url("/auth/login"))
            .json(&serde_json::json!({"username": "alice", "password": PASSWORD})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let jar = r.jar();

    let r = send(http.get(url("/x")).with(&jar)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-auth-user"), ["alice"]);
    let public = send(http.get(url("/public/a")).header("x-auth-user", "mallory")).await;
    assert_eq!(public.status, 200);
    assert!(public.echoed("x-auth-user").iter().all(String::is_empty));
    for path in ["/closed", "/%63losed", "/closed;x", "/admin/users"] {
        let r = send(http.get(url(path)).with(&jar)).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text());
    }
    let api = send(http.get(url("/secure")).with(&jar)).await;
    assert_eq!(api.status, 403);
    let browser = send(
        http.get(url("/secure?a=1"))
            .header("accept", HTML)
            .with(&jar),
    )
    .await;
    assert_eq!(browser.status, 302, "{}", browser.text());
    let location = browser.header("location").unwrap();
    assert!(
        location.starts_with(&format!("{}/auth/mfa?rd=", proxy.base)),
        "{location}"
    );
}

#[tokio::test]
async fn nginx_passes_on_every_route_decision() {
    let port = free_port();
    let gw = gateway_with_routes(port).await;
    let proxy = nginx(&gw, port).await;
    routes_through(&proxy, &gw).await;
}

#[tokio::test]
async fn caddy_passes_on_every_route_decision() {
    let port = free_port();
    let gw = gateway_with_routes(port).await;
    let proxy = caddy(&gw, port).await;
    routes_through(&proxy, &gw).await;
}

//! TLS and HTTP/2 on the public listener (docs/contract.md §11): handshakes by curl and
//! OpenSSL, the session flows over h2 with reqwest, the certificate replaced on SIGHUP, the
//! https redirect, and the h2 floods sent by a raw client over a real TLS connection.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Command;
use std::time::Duration;

use openssl::hash::MessageDigest;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use crate::harness::*;

/// A directory with a fresh self-signed P-256 certificate for `localhost` and 127.0.0.1.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("gh-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let certs = Self { dir };
        certs.make("cert.pem", "key.pem");
        certs
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A new key and certificate written to `cert` and `key` in the directory.
    fn make(&self, cert: &str, key: &str) {
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(self.path(key))
            .arg("-out")
            .arg(self.path(cert))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The SHA-256 fingerprint of a certificate file, as OpenSSL's command line computes it.
    fn fingerprint(&self, cert: &str) -> String {
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(self.path(cert))
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.trim().rsplit('=').next().unwrap().to_string()
    }

    /// Replaces the served files with `cert`/`key` the way a renewal tool does: a rename.
    fn install(&self, cert: &str, key: &str) {
        std::fs::copy(self.path(cert), self.path("cert.pem.new")).unwrap();
        std::fs::copy(self.path(key), self.path("key.pem.new")).unwrap();
        std::fs::rename(self.path("key.pem.new"), self.path("key.pem")).unwrap();
        std::fs::rename(self.path("cert.pem.new"), self.path("cert.pem")).unwrap();
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn port(gw: &Gateway) -> u16 {
    gw.base.rsplit(':').next().unwrap().parse().unwrap()
}

/// A gateway whose public listener speaks TLS with `certs`; `gw.base` and `gw.http` are its
/// `https://localhost:port` and a reqwest client that trusts the certificate and negotiates
/// h2 by ALPN, so the harness's helpers (sign-up, cookie jars) run over HTTP/2.
async fn tls_gateway(certs: &Certs, options: Options) -> Gateway {
    let options = options
        .env(
            "GATEHOUSE_TLS_CERT",
            certs.path("cert.pem").to_str().unwrap(),
        )
        .env("GATEHOUSE_TLS_KEY", certs.path("key.pem").to_str().unwrap());
    let mut gw = Gateway::start_with(options).await;
    let port = port(&gw);
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(certs.path("cert.pem")).unwrap()).unwrap();
    gw.base = format!("https://localhost:{port}");
    gw.http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    gw
}

/// `curl` against the gateway with the test CA: (status, negotiated HTTP version, TLS
/// version from the verbose trace, exit code).
fn curl(certs: &Certs, gw: &Gateway, args: &[&str]) -> (u16, String, String, i32) {
    let port = port(gw);
    let out = Command::new("curl")
        .args([
            "-sS",
            "-v",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{http_version}",
        ])
        .arg("--cacert")
        .arg(certs.path("cert.pem"))
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .args(args)
        .arg(format!("https://localhost:{port}/auth/me"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut words = stdout.split_whitespace();
    let status = words.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let version = words.next().unwrap_or("").to_string();
    let tls = stderr
        .lines()
        .find_map(|l| l.strip_prefix("* SSL connection using "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or("")
        .to_string();
    (status, version, tls, out.status.code().unwrap_or(-1))
}

#[tokio::test]
async fn curl_negotiates_h2_and_http11_over_tls_12_and_13() {
    let certs = Certs::new();
    let gw = tls_gateway(&certs, Options::default()).await;
    let cases: &[(&[&str], &str, &str)] = &[
        (&["--http2", "--tlsv1.3"], "2", "TLSv1.3"),
        (
            &["--http2", "--tlsv1.2", "--tls-max", "1.2"],
            "2",
            "TLSv1.2",
        ),
        (&["--http1.1", "--tlsv1.3"], "1.1", "TLSv1.3"),
        (
            &["--http1.1", "--tlsv1.2", "--tls-max", "1.2"],
            "1.1",
            "TLSv1.2",
        ),
    ];
    for (args, version, tls) in cases {
        let got = curl(&certs, &gw, args);
        assert_eq!(
            got,
            (401, version.to_string(), tls.to_string(), 0),
            "{args:?}"
        );
    }
}

#[tokio::test]
async fn tls_1_1_is_refused() {
    let certs = Certs::new();
    let gw = tls_gateway(&certs, Options::default()).await;
    // OpenSSL 3 clients refuse TLS 1.1 themselves at the default security level; level 0
    // makes this one offer it, so the refusal seen is the gateway's.
    let out = Command::new("openssl")
        .args(["s_client", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
        .args(["-connect", &format!("127.0.0.1:{}", port(&gw))])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("alert protocol version"), "{text}");
    // The same client at TLS 1.2 gets in: the refusal is about the version.
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-tls1_2",
            "-connect",
            &format!("127.0.0.1:{}", port(&gw)),
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Protocol  : TLSv1.2"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn sign_in_refresh_and_proxying_work_over_h2() {
    let certs = Certs::new();
    let gw = tls_gateway(&certs, Options::default()).await;
    let r = gw.req("GET", "/auth/me").send().await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 401);

    // The default cookies are `__Host-` and `Secure`: over https they need no setting.
    let jar = gw.signup("alice").await;
    assert!(
        jar.header().contains("__Host-access_token="),
        "{}",
        jar.header()
    );
    let me = gw.get("/auth/me", &jar).await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["user"]["username"], "alice");

    let r = gw.get("/app/page?x=1", &jar).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-auth-user"), ["alice"]);
    assert_eq!(r.echoed("x-forwarded-proto"), ["https"]);

    // Refresh: a new pair for the same session.
    let refreshed = gw.post("/auth/refresh", &jar).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text());
    assert_eq!(
        refreshed.json()["session"]["id"],
        me.json()["session"]["id"]
    );
    let jar = refreshed.jar();

    // In-line refresh: only the refresh cookie, and the proxied request still goes through
    // with a new access cookie set on the way back.
    let r = gw.get("/app/inline", &jar.only("refresh_token")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-auth-user"), ["alice"]);
    assert!(
        r.cookies()
            .iter()
            .any(|c| c.contains("access_token=") && !c.contains("Max-Age=0")),
        "{:?}",
        r.cookies()
    );

    // Forward auth over h2.
    let r = send(gw.req("GET", "/auth/verify").with(&jar)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-auth-user"), Some("alice"));

    // Logout ends it over h2 as well.
    assert_eq!(gw.post("/auth/logout", &jar).await.status, 204);
    assert_eq!(gw.get("/auth/me", &jar).await.status, 401);
}

#[tokio::test]
async fn routes_are_chosen_by_authority_over_h2() {
    let certs = Certs::new();
    let a = upstreams::labelled("a");
    let b = upstreams::labelled("b");
    let gw = tls_gateway(
        &certs,
        Options::default().config(&format!(
            r#"
[[routes]]
name = "a"
hosts = ["localhost"]
upstream = "{a}"
policy = "bypass"

[[routes]]
name = "b"
hosts = ["127.0.0.1"]
upstream = "{b}"
policy = "bypass"
"#
        )),
    )
    .await;
    let r = gw.req("GET", "/who").send().await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["upstream"], "a");
    // The same connection details, another :authority: curl sends no Host header over h2.
    let out = Command::new("curl")
        .args(["-sS", "--http2", "--cacert"])
        .arg(certs.path("cert.pem"))
        .arg(format!("https://127.0.0.1:{}/who", port(&gw)))
        .output()
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["upstream"], "b");
}

#[tokio::test]
async fn websocket_upgrades_pass_over_http11_through_tls() {
    let certs = Certs::new();
    let gw = tls_gateway(&certs, Options::default()).await;
    let jar = gw.signup("alice").await;
    let mut tls = connect_tls(port(&gw), b"\x08http/1.1").await;
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: localhost\r\nCookie: {}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
        jar.header()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let head = read_head(&mut tls).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
}

/// A TLS connection to the gateway offering `alpn` (wire format), certificate unchecked: the
/// tests read the certificate themselves.
async fn connect_tls(port: u16, alpn: &[u8]) -> SslStream<TcpStream> {
    let mut builder = SslConnector::builder(SslMethod::tls()).unwrap();
    builder.set_verify(SslVerifyMode::NONE);
    builder.set_alpn_protos(alpn).unwrap();
    let ssl = builder
        .build()
        .configure()
        .unwrap()
        .into_ssl("localhost")
        .unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut stream = SslStream::new(ssl, tcp).unwrap();
    Pin::new(&mut stream).connect().await.unwrap();
    stream
}

fn peer_fingerprint(stream: &SslStream<TcpStream>) -> String {
    let cert = stream.ssl().peer_certificate().unwrap();
    let digest = cert.digest(MessageDigest::sha256()).unwrap();
    digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Reads one HTTP/1.1 response head and its `Content-Length` body.
async fn read_head(stream: &mut SslStream<TcpStream>) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 1, "closed after {:?}", String::from_utf8_lossy(&buf));
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    head
}

async fn new_handshake_fingerprint(gw: &Gateway) -> String {
    peer_fingerprint(&connect_tls(port(gw), b"\x08http/1.1").await)
}

#[tokio::test]
async fn sighup_serves_a_renewed_certificate_to_new_handshakes_and_keeps_connections() {
    let certs = Certs::new();
    let first = certs.fingerprint("cert.pem");
    let gw = tls_gateway(&certs, Options::default()).await;
    assert_eq!(new_handshake_fingerprint(&gw).await, first);

    // A keep-alive connection made before the renewal.
    let mut kept = connect_tls(port(&gw), b"\x08http/1.1").await;
    let request = "GET /auth/me HTTP/1.1\r\nHost: localhost\r\n\r\n";
    kept.write_all(request.as_bytes()).await.unwrap();
    assert!(read_head(&mut kept).await.starts_with("HTTP/1.1 401"));

    certs.make("renewed.pem", "renewed.key");
    let renewed = certs.fingerprint("renewed.pem");
    assert_ne!(renewed, first);
    certs.install("renewed.pem", "renewed.key");
    gw.hangup();
    let log = gw.log_once("TLS certificate reloaded").await;
    assert!(
        log.contains(&renewed),
        "the log names the new certificate:\n{log}"
    );

    assert_eq!(new_handshake_fingerprint(&gw).await, renewed);
    // The old connection was not dropped and still speaks with its own certificate.
    kept.write_all(request.as_bytes()).await.unwrap();
    assert!(read_head(&mut kept).await.starts_with("HTTP/1.1 401"));
    assert_eq!(peer_fingerprint(&kept), first);

    // A broken renewal: one error line, and the running certificate stays.
    std::fs::write(
        certs.path("cert.pem"),
        "-----BEGIN CERTIFICATE-----\nnope\n",
    )
    .unwrap();
    gw.hangup();
    let log = gw.log_once("TLS certificate not reloaded").await;
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("TLS certificate not reloaded"))
        .collect();
    assert_eq!(errors.len(), 1, "{log}");
    assert!(errors[0].contains("cert.pem"), "{}", errors[0]);
    assert_eq!(new_handshake_fingerprint(&gw).await, renewed);
    // A key that belongs to another certificate is refused the same way.
    certs.make("other.pem", "other.key");
    std::fs::copy(certs.path("renewed.pem"), certs.path("cert.pem")).unwrap();
    std::fs::copy(certs.path("other.key"), certs.path("key.pem")).unwrap();
    gw.hangup();
    eventually(2, || async {
        gw.log_text()
            .matches("TLS certificate not reloaded")
            .count() as u16
    })
    .await;
    assert!(gw.log_text().contains("does not belong to the certificate"));
    assert_eq!(new_handshake_fingerprint(&gw).await, renewed);
}

/// Runs `gatehouse serve` with TLS settings and no database behind it: what it says and its
/// exit status.
fn start_without_db(env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .current_dir(std::env::temp_dir())
        .env_clear()
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/never")
        .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env(
            "GATEHOUSE_ADMIN_LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .envs(env.iter().copied())
        .arg("serve")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_bad_certificate_or_half_a_pair_stops_start_up_naming_it() {
    let certs = Certs::new();
    let cert = certs.path("cert.pem");
    let key = certs.path("key.pem");
    let garbage = certs.path("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let missing = certs.path("missing.pem");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    for (cert, key, names) in [
        (s(&garbage), s(&key), s(&garbage)),
        (s(&cert), s(&garbage), s(&garbage)),
        (s(&missing), s(&key), s(&missing)),
    ] {
        let (code, stderr) =
            start_without_db(&[("GATEHOUSE_TLS_CERT", &cert), ("GATEHOUSE_TLS_KEY", &key)]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(&names), "{stderr}");
    }
    let (code, stderr) = start_without_db(&[("GATEHOUSE_TLS_CERT", &s(&cert))]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("GATEHOUSE_TLS_KEY"), "{stderr}");
    // A redirect to https needs an https public URL.
    let (code, stderr) = start_without_db(&[
        ("GATEHOUSE_REDIRECT_LISTEN", "127.0.0.1:0"),
        ("GATEHOUSE_PUBLIC_URL", "http://app.example.com"),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("GATEHOUSE_REDIRECT_LISTEN"), "{stderr}");
}

#[tokio::test]
async fn the_redirect_listener_answers_308_to_the_https_public_url() {
    let certs = Certs::new();
    let redirect = free_port();
    let gw = tls_gateway(
        &certs,
        Options::default()
            .env(
                "GATEHOUSE_REDIRECT_LISTEN",
                &format!("127.0.0.1:{redirect}"),
            )
            .env("GATEHOUSE_PUBLIC_URL", "https://app.example.com"),
    )
    .await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (path, want) in [
        ("/a/b?c=d&e=%20f", "https://app.example.com/a/b?c=d&e=%20f"),
        ("/", "https://app.example.com/"),
        ("/auth/login", "https://app.example.com/auth/login"),
    ] {
        let r = plain
            .post(format!("http://127.0.0.1:{redirect}{path}"))
            .header("cookie", "__Host-access_token=x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 308);
        assert_eq!(r.headers()["location"], want);
    }
    drop(gw);
}

/// One HTTP/2 frame.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

/// `GET /auth/me` on `localhost` in HPACK, without touching the dynamic table.
fn get_block() -> Vec<u8> {
    let mut b = vec![0x82, 0x87]; // :method GET, :scheme https
    b.extend_from_slice(&[0x04, 8]); // :path, literal, not indexed
    b.extend_from_slice(b"/auth/me");
    b.extend_from_slice(&[0x01, 9]); // :authority
    b.extend_from_slice(b"localhost");
    b
}

/// An h2 connection after the preface and an empty SETTINGS frame.
async fn h2_connection(gw: &Gateway) -> SslStream<TcpStream> {
    let mut s = connect_tls(port(gw), b"\x02h2").await;
    assert_eq!(s.ssl().selected_alpn_protocol(), Some(&b"h2"[..]));
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend(frame(SETTINGS, 0, 0, &[]));
    s.write_all(&hello).await.unwrap();
    s
}

/// How the server ended a flooded connection.
#[derive(Debug, PartialEq)]
enum End {
    /// GOAWAY with this error code.
    GoAway(u32),
    /// Closed without a GOAWAY the client read.
    Closed,
}

/// Reads frames until GOAWAY or the end of the connection; `None` when the server leaves it
/// open for 10 s more (what an unprotected server does after a flood).
async fn read_until_end(s: &mut SslStream<TcpStream>) -> Option<End> {
    let read = async {
        loop {
            let mut head = [0u8; 9];
            if s.read_exact(&mut head).await.is_err() {
                return End::Closed;
            }
            let len =
                (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
            let mut payload = vec![0; len];
            if s.read_exact(&mut payload).await.is_err() {
                return End::Closed;
            }
            if head[3] == GOAWAY && payload.len() >= 8 {
                return End::GoAway(u32::from_be_bytes(payload[4..8].try_into().unwrap()));
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

const ENHANCE_YOUR_CALM: u32 = 0xb;

#[tokio::test]
async fn h2_rapid_reset_ends_the_connection_and_others_are_still_served() {
    let certs = Certs::new();
    let gw = tls_gateway(&certs, Options::default()).await;
    let before = rss_kib(gw.pid());
    let mut s = h2_connection(&gw).await;
    let block = get_block();
    // CVE-2023-44487: open and cancel streams as fast as the socket takes them, in batches,
    // well past any concurrency limit. A protected server stops the connection.
    let mut sent = 0u32;
    'flood: for batch in 0..100u32 {
        let mut bytes = Vec::new();
        for i in 0..100u32 {
            let id = 2 * (batch * 100 + i) + 1;
            bytes.extend(frame(HEADERS, END_STREAM | END_HEADERS, id, &block));
            bytes.extend(frame(RST_STREAM, 0, id, &8u32.to_be_bytes())); // CANCEL
        }
        if s.write_all(&bytes).await.is_err() {
            break 'flood;
        }
        sent += 100;
    }
    let end = read_until_end(&mut s).await;
    eprintln!("rapid reset: {end:?} after {sent} streams");
    assert!(
        matches!(
            end,
            Some(End::GoAway(ENHANCE_YOUR_CALM)) | Some(End::Closed)
        ),
        "after {sent} reset streams: {end:?}"
    );
    assert!(sent < 10_000 || end.is_some());

    // Everyone else is still served, over h2 and HTTP/1.1.
    let r = gw.req("GET", "/auth/me").send().await.unwrap();
    assert_eq!(
        (r.version(), r.status().as_u16()),
        (reqwest::Version::HTTP_2, 401)
    );
    let jar = gw.signup("alice").await;
    assert_eq!(gw.get("/auth/me", &jar).await.status, 200);
    let grown = rss_kib(gw.pid()).saturating_sub(before);
    assert!(grown < 64 * 1024, "resident memory grew by {grown} KiB");
}

#[tokio::test]
async fn h2_continuation_flood_ends_the_connection() {
    let certs = Certs::new();
    let gw = tls_gateway(&certs, Options::default()).await;
    let before = rss_kib(gw.pid());
    // CVE-2024-27316: a header block that never ends, one CONTINUATION after another. Each
    // carries a literal header, so the block grows as well as the frame count.
    for payload_len in [0usize, 1000] {
        let mut s = h2_connection(&gw).await;
        s.write_all(&frame(HEADERS, END_STREAM, 1, &get_block()))
            .await
            .unwrap();
        let mut literal = vec![0x00, 0x01, b'x', 0x7f, 0x00];
        literal.resize(payload_len.max(literal.len()), b'y');
        let payload = if payload_len == 0 {
            Vec::new()
        } else {
            literal
        };
        let mut batch = Vec::new();
        for _ in 0..100 {
            batch.extend(frame(CONTINUATION, 0, 1, &payload));
        }
        let mut sent = 0usize;
        // At most ~100 MB or 1,000,000 frames: far past any header limit.
        while sent < 1_000_000 && sent * payload.len() < 100 << 20 {
            if s.write_all(&batch).await.is_err() {
                break;
            }
            sent += 100;
        }
        let end = read_until_end(&mut s).await;
        eprintln!("CONTINUATION {payload_len} B: {end:?} after {sent} frames");
        assert!(
            end.is_some(),
            "{payload_len}-byte CONTINUATION frames: still open after {sent}"
        );
        assert!(
            sent < 1_000_000 && sent * payload.len().max(1) < 100 << 20,
            "the gateway read all {sent} frames"
        );
    }
    let r = gw.req("GET", "/auth/me").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let grown = rss_kib(gw.pid()).saturating_sub(before);
    assert!(grown < 64 * 1024, "resident memory grew by {grown} KiB");
}

#[tokio::test]
async fn h2_streams_and_header_lists_are_bounded() {
    let certs = Certs::new();
    let gw = tls_gateway(&certs, Options::default()).await;
    let mut s = h2_connection(&gw).await;
    // The server's SETTINGS come first: read them and check the advertised limits.
    let mut head = [0u8; 9];
    s.read_exact(&mut head).await.unwrap();
    assert_eq!(head[3], SETTINGS);
    let len = (usize::from(head[1]) << 8) | usize::from(head[2]);
    let mut payload = vec![0; len];
    s.read_exact(&mut payload).await.unwrap();
    let settings: Vec<(u16, u32)> = payload
        .chunks(6)
        .map(|c| {
            (
                u16::from_be_bytes([c[0], c[1]]),
                u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
            )
        })
        .collect();
    assert!(
        settings.contains(&(0x3, 100)),
        "MAX_CONCURRENT_STREAMS: {settings:?}"
    );
    assert!(
        settings.contains(&(0x6, 64 * 1024)),
        "MAX_HEADER_LIST_SIZE: {settings:?}"
    );

    // A header list past the bound is refused, and the connection keeps serving.
    let big = "v".repeat(70 * 1024);
    let r = gw
        .req("GET", "/auth/me")
        .header("x-big", big.as_str())
        .send()
        .await;
    match r {
        Ok(r) => assert!(r.status().is_client_error(), "{}", r.status()),
        Err(e) => assert!(e.is_request(), "{e}"),
    }
    let r = gw.req("GET", "/auth/me").send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn h2_header_blocks_are_held_to_the_header_timeout() {
    let certs = Certs::new();
    let gw = tls_gateway(
        &certs,
        Options::default().env("GATEHOUSE_HEADER_TIMEOUT", "1s"),
    )
    .await;
    // A connection that never sends a request, and one that drips a header block: each is
    // closed, well before the 60 s h2 idle timeout (read_until_end waits 10 s).
    let mut silent = h2_connection(&gw).await;
    let mut dripping = h2_connection(&gw).await;
    dripping
        .write_all(&frame(HEADERS, END_STREAM, 1, &get_block()))
        .await
        .unwrap();
    let drip = async {
        for _ in 0..40 {
            if dripping
                .write_all(&frame(CONTINUATION, 0, 1, &[]))
                .await
                .is_err()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        read_until_end(&mut dripping).await
    };
    let (silent_end, dripping_end) = tokio::join!(read_until_end(&mut silent), drip);
    assert!(silent_end.is_some(), "a silent h2 connection stayed open");
    assert!(dripping_end.is_some(), "a dripped header block stayed open");
    // A prompt client on a connection of its own is served, with the clock stopped between
    // its requests.
    let r = gw.req("GET", "/auth/me").send().await.unwrap();
    assert_eq!(
        (r.version(), r.status().as_u16()),
        (reqwest::Version::HTTP_2, 401)
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = gw.req("GET", "/auth/me").send().await.unwrap();
    assert_eq!(r.status(), 401);
}

//! The test harness: each test gets its own database, its own echo upstream and its own
//! gatehouse process on free loopback ports, driven over real HTTP.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub const SECRET: &str = "integration-test-secret-0123456789abcdef";
pub const PASSWORD: &str = "correct horse battery";

/// Where the tests find PostgreSQL: `TEST_DATABASE_HOST` (host:port), default the local one.
pub fn pg_host() -> String {
    std::env::var("TEST_DATABASE_HOST").unwrap_or_else(|_| "127.0.0.1:5432".to_string())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Gateway {
    pub base: String,
    pub admin: String,
    pub db_name: String,
    pub upstream: SocketAddr,
    pub http: reqwest::Client,
    child: Option<Child>,
    log: PathBuf,
    owns_db: bool,
    env: Vec<(String, String)>,
    _relay: Option<Relay>,
}

#[derive(Default)]
pub struct Options {
    pub env: Vec<(String, String)>,
    /// Route the gateway's database connections through a relay the test can cut.
    pub relay: bool,
    pub upstream: Option<SocketAddr>,
    /// Join another gateway's database instead of creating one (that gateway drops it).
    pub database: Option<String>,
}

impl Options {
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_string(), v.to_string()));
        self
    }
}

impl Gateway {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    /// A gateway whose database connections pass through a relay the test can cut.
    pub async fn start_with_relay() -> Self {
        Self::start_with(Options {
            relay: true,
            ..Default::default()
        })
        .await
    }

    pub async fn start_env(env: &[(&str, &str)]) -> Self {
        let mut o = Options::default();
        for (k, v) in env {
            o = o.env(k, v);
        }
        Self::start_with(o).await
    }

    pub async fn start_with(options: Options) -> Self {
        let upstream = options
            .upstream
            .unwrap_or_else(|| gatehouse::demo::spawn("127.0.0.1:0".parse().unwrap()).unwrap());
        if TcpStream::connect(pg_host()).await.is_err() {
            panic!(
                "PostgreSQL is not reachable at {} — start one (docker compose up -d db) or set \
                 TEST_DATABASE_HOST=host:port",
                pg_host()
            );
        }
        let owns_db = options.database.is_none();
        let db_name = options
            .database
            .clone()
            .unwrap_or_else(|| format!("gh_test_{}", uuid::Uuid::new_v4().simple()));
        let relay = if options.relay {
            Some(Relay::start(&pg_host()).await)
        } else {
            None
        };
        let db_host = relay.as_ref().map_or_else(pg_host, |r| r.addr.to_string());
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = free_port();
            let admin_port = free_port();
            if port == admin_port {
                continue;
            }
            let log = std::env::temp_dir().join(format!("{db_name}-{port}.log"));
            let mut env: Vec<(String, String)> = [
                ("PATH", std::env::var("PATH").unwrap_or_default()),
                (
                    "DATABASE_URL",
                    format!("postgres://postgres@{db_host}/{db_name}"),
                ),
                ("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}")),
                ("GATEHOUSE_ADMIN_LISTEN", format!("127.0.0.1:{admin_port}")),
                ("GATEHOUSE_UPSTREAM", upstream.to_string()),
                ("GATEHOUSE_JWT_SECRET", SECRET.to_string()),
                ("GATEHOUSE_BCRYPT_COST", "4".to_string()),
                ("GATEHOUSE_LOG", "info".to_string()),
                ("GATEHOUSE_UPSTREAM_TIMEOUT", "3s".to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            env.extend(options.env.iter().cloned());
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
            cmd.current_dir(std::env::temp_dir())
                .env_clear()
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
                .stderr(std::fs::File::create(&log).unwrap());
            let child = cmd.spawn().expect("gatehouse binary starts");
            let mut gw = Gateway {
                base: format!("http://127.0.0.1:{port}"),
                admin: format!("http://127.0.0.1:{admin_port}"),
                db_name: db_name.clone(),
                upstream,
                http: reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap(),
                child: Some(child),
                log,
                owns_db,
                env,
                _relay: None,
            };
            if gw.wait_ready().await {
                gw._relay = relay;
                return gw;
            }
            last_log = gw.log_text();
            gw.stop();
        }
        panic!("gatehouse did not start:\n{last_log}");
    }

    async fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(_)) = child.try_wait() {
                    return false;
                }
            }
            // Another process took one of our ports between `free_port` and the bind: what
            // answers there is not this gateway, so start again on fresh ports.
            if self.log_text().contains("is in use") {
                return false;
            }
            if let Ok(r) = self
                .http
                .get(format!("{}/healthz", self.admin))
                .send()
                .await
            {
                if r.status() == 200 {
                    // The public listener starts beside the admin one; wait for it too.
                    if TcpStream::connect(self.base.trim_start_matches("http://"))
                        .await
                        .is_ok()
                    {
                        return true;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// What the gateway wrote to stdout (it logs to stderr, [`Gateway::log_text`]).
    pub fn stdout_text(&self) -> String {
        std::fs::read_to_string(self.log.with_extension("out")).unwrap_or_default()
    }

    /// The exit status if the process has exited by now (`Some(None)`: killed by a signal).
    pub fn try_exit(&mut self) -> Option<Option<i32>> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status.code())
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> Option<i32> {
        let child = self.child.as_mut()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts another `gatehouse` process with this gateway's settings (e.g. `serve --upgrade`).
    pub fn spawn_twin(&self, args: &[&str], log: &std::path::Path) -> Child {
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .current_dir(std::env::temp_dir())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap()
    }

    /// Runs a `gatehouse` subcommand against this gateway's database and settings.
    pub fn cli(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .current_dir(std::env::temp_dir())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("GATEHOUSE_LOG", "warn")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// [`Gateway::cli`] without blocking the test's other futures.
    pub async fn cli_async(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        use tokio::io::AsyncWriteExt;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .current_dir(std::env::temp_dir())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("GATEHOUSE_LOG", "warn")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).await.unwrap();
        drop(input);
        let out = child.wait_with_output().await.unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn req(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method.parse().unwrap(), self.url(path))
    }

    pub async fn register(&self, username: &str, password: &str) -> Resp {
        send(self.req("POST", "/auth/register").json(&serde_json::json!({
            "username": username, "password": password,
        })))
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Resp {
        self.login_as(username, password, "test-agent/1.0").await
    }

    pub async fn login_as(&self, username: &str, password: &str, agent: &str) -> Resp {
        send(
            self.req("POST", "/auth/login")
                .header("user-agent", agent)
                .json(&serde_json::json!({ "username": username, "password": password })),
        )
        .await
    }

    /// Registers `username` and logs in; returns the cookies.
    pub async fn signup(&self, username: &str) -> Jar {
        let r = self.register(username, PASSWORD).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let r = self.login(username, PASSWORD).await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.jar()
    }

    pub async fn get(&self, path: &str, jar: &Jar) -> Resp {
        send(self.req("GET", path).with(jar)).await
    }

    pub async fn post(&self, path: &str, jar: &Jar) -> Resp {
        send(self.req("POST", path).with(jar)).await
    }

    /// A direct connection to this test's database.
    pub async fn db(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(
            &format!("postgres://postgres@{}/{}", pg_host(), self.db_name),
            tokio_postgres::NoTls,
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        client
    }

    /// The refresh generation of the only session in this gateway's database.
    pub async fn refresh_gen(&self) -> i64 {
        self.db()
            .await
            .query_one("SELECT refresh_gen FROM sessions", &[])
            .await
            .unwrap()
            .get(0)
    }

    pub async fn metric(&self, name: &str) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.admin))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn relay(&self) -> &Relay {
        self._relay.as_ref().expect("started with a relay")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop();
        if !self.owns_db {
            return;
        }
        let name = self.db_name.clone();
        // Dropping runs outside any runtime the test may still hold.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok((client, conn)) = tokio_postgres::connect(
                    &format!("postgres://postgres@{}/postgres", pg_host()),
                    tokio_postgres::NoTls,
                )
                .await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A cookie jar that understands the gateway's `Set-Cookie` headers.
#[derive(Debug, Clone, Default)]
pub struct Jar(pub BTreeMap<String, String>);

impl Jar {
    pub fn update(&mut self, headers: &HeaderMap) {
        for value in headers.get_all("set-cookie") {
            let s = value.to_str().unwrap();
            let (pair, attrs) = s.split_once(';').unwrap_or((s, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_string(), value.to_string());
            }
        }
    }

    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn get(&self, suffix: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.ends_with(suffix))
            .map(|(_, v)| v.as_str())
    }

    pub fn access(&self) -> &str {
        self.get("access_token").expect("an access cookie")
    }

    pub fn refresh(&self) -> &str {
        self.get("refresh_token").expect("a refresh cookie")
    }

    pub fn only(&self, suffix: &str) -> Jar {
        Jar(self
            .0
            .iter()
            .filter(|(k, _)| k.ends_with(suffix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

pub trait WithJar {
    fn with(self, jar: &Jar) -> Self;
}

impl WithJar for reqwest::RequestBuilder {
    fn with(self, jar: &Jar) -> Self {
        if jar.0.is_empty() {
            self
        } else {
            self.header("cookie", jar.header())
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

pub async fn send(rb: reqwest::RequestBuilder) -> Resp {
    let r = rb.send().await.expect("request reaches the gateway");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.bytes().await.unwrap_or_default().to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("JSON body, got {:?}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }

    pub fn jar(&self) -> Jar {
        let mut j = Jar::default();
        j.update(&self.headers);
        j
    }

    /// The error code of a JSON error body.
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Values of `name` as the echo upstream received them (case-insensitive).
    pub fn echoed(&self, name: &str) -> Vec<String> {
        self.json()["headers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
            .map(|h| h[1].as_str().unwrap().to_string())
            .collect()
    }

    pub fn echoed_names(&self) -> Vec<String> {
        self.json()["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h[0].as_str().unwrap().to_ascii_lowercase())
            .collect()
    }
}

/// A TCP relay between the gateway and PostgreSQL that a test can cut and restore.
pub struct Relay {
    pub addr: SocketAddr,
    open: Arc<AtomicBool>,
    stalled: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Relay {
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let stalled = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let target = target.to_string();
        let accept = {
            let open = open.clone();
            let conns = conns.clone();
            let stalled = stalled.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    if !open.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let target = target.clone();
                    let stalled = stalled.clone();
                    let task = tokio::spawn(async move {
                        if let Ok(outbound) = TcpStream::connect(&target).await {
                            let (ri, wi) = inbound.into_split();
                            let (ro, wo) = outbound.into_split();
                            tokio::join!(pump(ri, wo, stalled.clone()), pump(ro, wi, stalled));
                        }
                    });
                    conns.lock().unwrap().push(task);
                }
            })
        };
        Relay {
            addr,
            open,
            stalled,
            conns,
            accept,
        }
    }

    /// Keeps every connection open but stops passing bytes: a database that hangs.
    pub fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    pub fn unstall(&self) {
        self.stalled.store(false, Ordering::SeqCst);
    }

    /// Drops every relayed connection and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for task in self.conns.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// Copies bytes one way, holding them back while `stalled` is set.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    stalled: Arc<AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Signs arbitrary claims with the test secret (or another key), for forged-token tests.
pub fn sign(claims: &Value, alg: jsonwebtoken::Algorithm, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

/// The claims inside a token, unverified.
pub fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Sends `request` byte for byte and returns the status and body text.
/// A plain TCP connection to the gateway's public listener.
pub async fn connect(gw: &Gateway) -> TcpStream {
    TcpStream::connect(gw.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

pub async fn raw(gw: &Gateway, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = connect(gw).await;
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

/// Repeats `attempt` until it answers `want`, for at most 10 s; returns the last status.
pub async fn eventually<F, Fut>(want: u16, mut attempt: F) -> u16
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let mut status = 0;
    for _ in 0..100 {
        status = attempt().await;
        if status == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    status
}

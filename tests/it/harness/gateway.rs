//! The gateway process: started on fresh ports against its own database, stopped or sent
//! SIGTERM by the test, and its database dropped when the test lets go of it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::{free_port, pg_host, Relay, SECRET};

pub struct Gateway {
    pub base: String,
    pub admin: String,
    pub db_name: String,
    pub upstream: SocketAddr,
    pub http: reqwest::Client,
    child: Option<Child>,
    log: PathBuf,
    /// The configuration file given with `--config`, which a test may rewrite before SIGHUP.
    pub config_path: Option<PathBuf>,
    owns_db: bool,
    /// Kept so that subcommands and twins run with exactly this gateway's settings.
    pub(super) env: Vec<(String, String)>,
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
    /// The text of a configuration file, passed with `--config`.
    pub config: Option<String>,
    /// Variables the harness would set that this gateway must not see (to test a default).
    pub unset: Vec<String>,
    /// The command line, instead of none (which serves).
    pub args: Vec<String>,
}

impl Options {
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    pub fn config(mut self, toml: &str) -> Self {
        self.config = Some(toml.to_string());
        self
    }

    pub fn unset(mut self, k: &str) -> Self {
        self.unset.push(k.to_string());
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
                // Most tests sign up over HTTP; the closed default has tests of its own.
                ("GATEHOUSE_REGISTRATION", "open".to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            // `{port}` in a value is the public port chosen here (a public URL on `localhost`
            // with the real port, for passkeys in a real browser).
            env.extend(
                options
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), v.replace("{port}", &port.to_string()))),
            );
            env.retain(|(k, _)| !options.unset.contains(k));
            let config_path = options.config.as_ref().map(|text| {
                let path = log.with_extension("toml");
                std::fs::write(&path, text).unwrap();
                path
            });
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
            if let Some(path) = &config_path {
                cmd.arg("--config").arg(path);
            }
            cmd.current_dir(std::env::temp_dir())
                .env_clear()
                .envs(env.iter().map(|(k, v)| (k, v)))
                .args(&options.args)
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
                config_path,
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

    /// The log once a line containing `needle` is in it (the gateway writes some lines after
    /// it has answered); the log as it is after 10 s otherwise, for the assertion to show.
    pub async fn log_once(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log_text();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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

    /// Sends SIGHUP: the gateway reads its routes again.
    pub fn hangup(&self) {
        let status = Command::new("kill")
            .arg("-HUP")
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
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

//! Configuration: TOML file, then `.env`, then the real environment (the last one wins), folded
//! into one validated [`Config`]. Nothing else in the crate reads settings.
//!
//! Every setting is listed once in [`SETTINGS`]: its environment variable, its TOML key and its
//! default. Parsing a value that was given but is wrong is an error naming the key; it never
//! falls back to the default.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;

/// One setting: how the environment and the TOML file spell it, and its default.
pub struct Setting {
    pub env: &'static str,
    pub key: &'static str,
    pub default: Option<&'static str>,
    pub help: &'static str,
}

/// The single list of settings; the README's configuration table is checked against it.
pub const SETTINGS: &[Setting] = &[
    Setting {
        env: "DATABASE_URL",
        key: "database_url",
        default: Some("postgres://postgres@127.0.0.1:5432/gatehouse"),
        help: "PostgreSQL URL",
    },
    Setting {
        env: "GATEHOUSE_LISTEN",
        key: "listen",
        default: Some("0.0.0.0:8000"),
        help: "public listener",
    },
    Setting {
        env: "GATEHOUSE_ADMIN_LISTEN",
        key: "admin_listen",
        default: Some("127.0.0.1:9000"),
        help: "health and metrics listener",
    },
    Setting {
        env: "GATEHOUSE_UPSTREAM",
        key: "upstream",
        default: Some("127.0.0.1:8080"),
        help: "default upstream: host:port or http(s)://host:port",
    },
    Setting {
        env: "GATEHOUSE_UPSTREAM_TIMEOUT",
        key: "upstream_timeout",
        default: Some("30s"),
        help: "connect and read timeout towards the upstream",
    },
    Setting {
        env: "GATEHOUSE_HEADER_TIMEOUT",
        key: "header_timeout",
        default: Some("10s"),
        help: "time a client has to send a request head",
    },
    Setting {
        env: "GATEHOUSE_PUBLIC_PATHS",
        key: "public_paths",
        default: Some(""),
        help: "comma-separated path prefixes served without auth",
    },
    Setting {
        env: "GATEHOUSE_PUBLIC_URL",
        key: "public_url",
        default: None,
        help: "the gateway's external origin, for redirects",
    },
    Setting {
        env: "GATEHOUSE_ALLOWED_REDIRECT_HOSTS",
        key: "allowed_redirect_hosts",
        default: Some(""),
        help: "extra hosts a return URL may point at",
    },
    Setting {
        env: "GATEHOUSE_JWT_SECRET",
        key: "jwt_secret",
        default: None,
        help: "HS256 key, at least 32 bytes",
    },
    Setting {
        env: "GATEHOUSE_ACCESS_TTL",
        key: "access_ttl",
        default: Some("15m"),
        help: "access token lifetime",
    },
    Setting {
        env: "GATEHOUSE_REFRESH_TTL",
        key: "refresh_ttl",
        default: Some("7d"),
        help: "refresh token lifetime; also the idle timeout",
    },
    Setting {
        env: "GATEHOUSE_SESSION_TTL",
        key: "session_ttl",
        default: Some("30d"),
        help: "absolute session lifetime",
    },
    Setting {
        env: "GATEHOUSE_REFRESH_REUSE_GRACE",
        key: "refresh_reuse_grace",
        default: Some("10s"),
        help: "window in which the previous refresh token still works",
    },
    Setting {
        env: "GATEHOUSE_COOKIE_SECURE",
        key: "cookie_secure",
        default: Some("true"),
        help: "Secure cookies with __Host-/__Secure- names",
    },
    Setting {
        env: "GATEHOUSE_COOKIE_DOMAIN",
        key: "cookie_domain",
        default: None,
        help: "Domain for cookies shared across subdomains",
    },
    Setting {
        env: "GATEHOUSE_REGISTRATION",
        key: "registration",
        default: Some("open"),
        help: "open or closed",
    },
    Setting {
        env: "GATEHOUSE_BCRYPT_COST",
        key: "bcrypt_cost",
        default: Some("12"),
        help: "4..=31",
    },
    Setting {
        env: "GATEHOUSE_CACHE_TTL",
        key: "cache_ttl",
        default: Some("5s"),
        help: "how long a validated session may be served from memory",
    },
    Setting {
        env: "GATEHOUSE_TRUSTED_PROXIES",
        key: "trusted_proxies",
        default: Some("127.0.0.1/32,::1/128"),
        help: "CIDRs whose X-Forwarded-* headers are believed",
    },
    Setting {
        env: "GATEHOUSE_LOGIN_RATE",
        key: "login_rate",
        default: Some("10/min"),
        help: "failed logins allowed per client IP and per username",
    },
    Setting {
        env: "GATEHOUSE_THREADS",
        key: "threads",
        default: Some("2"),
        help: "worker threads of the public listener",
    },
    Setting {
        env: "GATEHOUSE_LOG",
        key: "log",
        default: Some("info"),
        help: "log filter",
    },
    Setting {
        env: "GATEHOUSE_LOG_FORMAT",
        key: "log_format",
        default: Some("text"),
        help: "text or json",
    },
];

/// A configuration problem: which setting, and what is wrong with it. Printed as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error: {}: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A secret that never prints.
#[derive(Clone)]
pub struct Secret(pub Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where proxied requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl Upstream {
    /// `host:port` for resolution and for logs.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A login rate: `count` failures per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
}

/// The validated configuration: the only configuration type the rest of the code uses.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub upstream: Upstream,
    pub upstream_timeout: Duration,
    pub header_timeout: Duration,
    pub public_paths: Vec<String>,
    pub public_url: String,
    pub allowed_redirect_hosts: Vec<String>,
    pub jwt_secret: Secret,
    pub jwt_secret_generated: bool,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub session_ttl: Duration,
    pub refresh_reuse_grace: Duration,
    pub cookie_secure: bool,
    pub cookie_domain: Option<String>,
    pub registration_open: bool,
    pub bcrypt_cost: u32,
    pub cache_ttl: Duration,
    pub trusted_proxies: Vec<IpNet>,
    pub login_rate: Rate,
    pub threads: usize,
    pub log: String,
    pub log_format: LogFormat,
}

impl Config {
    /// Every setting's effective value, as `(env, value)`, with secrets masked: what
    /// `config check` prints and start-up logs.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let secs = |d: Duration| format!("{}s", d.as_secs());
        let list = |v: &[String]| v.join(",");
        vec![
            ("DATABASE_URL", crate::store::redact_url(&self.database_url)),
            ("GATEHOUSE_LISTEN", self.listen.to_string()),
            ("GATEHOUSE_ADMIN_LISTEN", self.admin_listen.to_string()),
            (
                "GATEHOUSE_UPSTREAM",
                format!(
                    "{}://{}",
                    if self.upstream.tls { "https" } else { "http" },
                    self.upstream.authority()
                ),
            ),
            ("GATEHOUSE_UPSTREAM_TIMEOUT", secs(self.upstream_timeout)),
            ("GATEHOUSE_HEADER_TIMEOUT", secs(self.header_timeout)),
            ("GATEHOUSE_PUBLIC_PATHS", list(&self.public_paths)),
            ("GATEHOUSE_PUBLIC_URL", self.public_url.clone()),
            (
                "GATEHOUSE_ALLOWED_REDIRECT_HOSTS",
                list(&self.allowed_redirect_hosts),
            ),
            (
                "GATEHOUSE_JWT_SECRET",
                if self.jwt_secret_generated {
                    "(random per process)"
                } else {
                    "***"
                }
                .to_string(),
            ),
            ("GATEHOUSE_ACCESS_TTL", secs(self.access_ttl)),
            ("GATEHOUSE_REFRESH_TTL", secs(self.refresh_ttl)),
            ("GATEHOUSE_SESSION_TTL", secs(self.session_ttl)),
            (
                "GATEHOUSE_REFRESH_REUSE_GRACE",
                secs(self.refresh_reuse_grace),
            ),
            ("GATEHOUSE_COOKIE_SECURE", self.cookie_secure.to_string()),
            (
                "GATEHOUSE_COOKIE_DOMAIN",
                self.cookie_domain.clone().unwrap_or_default(),
            ),
            (
                "GATEHOUSE_REGISTRATION",
                if self.registration_open {
                    "open"
                } else {
                    "closed"
                }
                .into(),
            ),
            ("GATEHOUSE_BCRYPT_COST", self.bcrypt_cost.to_string()),
            ("GATEHOUSE_CACHE_TTL", secs(self.cache_ttl)),
            (
                "GATEHOUSE_TRUSTED_PROXIES",
                self.trusted_proxies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (
                "GATEHOUSE_LOGIN_RATE",
                format!(
                    "{}/{}s",
                    self.login_rate.count,
                    self.login_rate.period.as_secs()
                ),
            ),
            ("GATEHOUSE_THREADS", self.threads.to_string()),
            ("GATEHOUSE_LOG", self.log.clone()),
            (
                "GATEHOUSE_LOG_FORMAT",
                match self.log_format {
                    LogFormat::Text => "text",
                    LogFormat::Json => "json",
                }
                .into(),
            ),
        ]
    }
}

/// Raw values before validation, each with the name of the layer it came from.
#[derive(Debug, Default)]
pub struct RawConfig {
    values: HashMap<&'static str, (String, String)>,
}

impl RawConfig {
    /// Reads the TOML file (if any), then `.env` in the working directory, then `env`.
    pub fn load(
        config_path: Option<&Path>,
        dotenv_path: Option<&Path>,
        env: &HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut raw = RawConfig::default();
        if let Some(path) = config_path {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::new("--config", format!("cannot read {}: {e}", path.display()))
            })?;
            raw.apply_toml(&text)?;
        }
        if let Some(path) = dotenv_path.filter(|p| p.exists()) {
            let iter = dotenvy::from_path_iter(path)
                .map_err(|e| ConfigError::new(".env", format!("cannot read: {e}")))?;
            let mut dotenv = HashMap::new();
            for item in iter {
                let (k, v) = item.map_err(|e| dotenv_error(path, &e))?;
                dotenv.insert(k, v);
            }
            raw.apply_env(&dotenv, ".env");
        }
        raw.apply_env(env, "environment");
        Ok(raw)
    }

    pub fn apply_toml(&mut self, text: &str) -> Result<(), ConfigError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| toml_error(text, &e))?;
        for (key, value) in table {
            let setting = SETTINGS
                .iter()
                .find(|s| s.key == key)
                .ok_or_else(|| ConfigError::new(key.clone(), "unknown setting"))?;
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Array(items) => {
                    let mut parts = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            toml::Value::String(s) => parts.push(s),
                            other => {
                                return Err(ConfigError::new(
                                    key,
                                    format!("expected strings in the list, found {other}"),
                                ))
                            }
                        }
                    }
                    parts.join(",")
                }
                other => {
                    return Err(ConfigError::new(key, format!("unsupported value {other}")));
                }
            };
            self.values.insert(setting.key, (text, "file".into()));
        }
        Ok(())
    }

    pub fn apply_env(&mut self, env: &HashMap<String, String>, layer: &str) {
        for setting in SETTINGS {
            if let Some(v) = env.get(setting.env) {
                self.values.insert(setting.key, (v.clone(), layer.into()));
            }
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str()).or_else(|| {
            SETTINGS
                .iter()
                .find(|s| s.key == key)
                .and_then(|s| s.default)
        })
    }

    /// Validates every value; the first problem found is returned.
    pub fn validate(&self) -> Result<Config, ConfigError> {
        let v = |key: &'static str| Field {
            key,
            value: self.get(key),
        };

        let listen = v("listen").socket_addr()?;
        let public_url = match v("public_url").value.filter(|s| !s.is_empty()) {
            Some(s) => parse_public_url(s).map_err(|m| v("public_url").err(m))?,
            None => {
                let host = if listen.ip().is_unspecified() {
                    "localhost".to_string()
                } else {
                    listen.ip().to_string()
                };
                format!("http://{host}:{}", listen.port())
            }
        };
        let (jwt_secret, jwt_secret_generated) = match v("jwt_secret").value {
            Some(s) if example_jwt_secret() == Some(s.trim()) => {
                return Err(v("jwt_secret").err(
                    "is the placeholder from .env.example, which anyone can read; set a random \
                     key of at least 32 bytes (openssl rand -base64 48)",
                ));
            }
            Some(s) if s.len() >= 32 => (Secret(s.as_bytes().to_vec()), false),
            Some(s) => {
                return Err(
                    v("jwt_secret").err(format!("must be at least 32 bytes, got {}", s.len()))
                );
            }
            None => {
                let mut key = vec![0u8; 32];
                getrandom::fill(&mut key).map_err(|e| {
                    v("jwt_secret").err(format!("cannot generate a random key: {e}"))
                })?;
                (Secret(key), true)
            }
        };
        let access_ttl = v("access_ttl").duration()?;
        let refresh_ttl = v("refresh_ttl").duration()?;
        let session_ttl = v("session_ttl").duration()?;
        if refresh_ttl < access_ttl {
            return Err(v("refresh_ttl").err("must not be shorter than access_ttl"));
        }
        let bcrypt_cost = v("bcrypt_cost").integer()?;
        if !(4..=31).contains(&bcrypt_cost) {
            return Err(v("bcrypt_cost").err(format!("must be within 4..=31, got {bcrypt_cost}")));
        }
        let threads = v("threads").integer()?;
        if !(1..=256).contains(&threads) {
            return Err(v("threads").err("must be within 1..=256"));
        }
        let cookie_domain = v("cookie_domain")
            .value
            .filter(|s| !s.is_empty())
            .map(|d| parse_cookie_domain(d).map_err(|m| v("cookie_domain").err(m)))
            .transpose()?;

        Ok(Config {
            database_url: v("database_url").database_url()?,
            listen,
            admin_listen: v("admin_listen").socket_addr()?,
            upstream: v("upstream").upstream()?,
            upstream_timeout: v("upstream_timeout").duration()?,
            header_timeout: v("header_timeout").duration()?,
            public_paths: v("public_paths").list(parse_public_path)?,
            public_url,
            allowed_redirect_hosts: v("allowed_redirect_hosts").list(parse_redirect_host)?,
            jwt_secret,
            jwt_secret_generated,
            access_ttl,
            refresh_ttl,
            session_ttl,
            refresh_reuse_grace: v("refresh_reuse_grace").duration_or_zero()?,
            cookie_secure: v("cookie_secure").boolean()?,
            cookie_domain,
            registration_open: match v("registration").value {
                Some("open") => true,
                Some("closed") => false,
                other => {
                    return Err(v("registration").err(format!(
                        "must be open or closed, got {:?}",
                        other.unwrap_or("")
                    )))
                }
            },
            bcrypt_cost: bcrypt_cost as u32,
            cache_ttl: v("cache_ttl").duration()?,
            trusted_proxies: v("trusted_proxies").list(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{s:?} is not a CIDR"))
            })?,
            login_rate: v("login_rate").rate()?,
            threads: threads as usize,
            log: v("log").value.unwrap_or("info").to_string(),
            log_format: match v("log_format").value {
                Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                other => {
                    return Err(v("log_format").err(format!(
                        "must be text or json, got {:?}",
                        other.unwrap_or("")
                    )))
                }
            },
        })
    }
}

/// The `GATEHOUSE_JWT_SECRET` value `.env.example` ships. `cp .env.example .env` would sign
/// tokens with a key published with the code; read from the file itself so the two never drift.
fn example_jwt_secret() -> Option<&'static str> {
    include_str!("../.env.example")
        .lines()
        .find_map(|line| line.trim().strip_prefix("GATEHOUSE_JWT_SECRET="))
        .map(|value| value.trim().trim_matches(['"', '\'']))
        .filter(|value| !value.is_empty())
}

/// Reads the process environment once.
pub fn process_env() -> HashMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// dotenvy quotes the whole line that does not parse, and its value may be a secret (a
/// password in `DATABASE_URL`, the JWT key): name the line by its number and key instead.
fn dotenv_error(path: &Path, e: &dotenvy::Error) -> ConfigError {
    let dotenvy::Error::LineParse(line, index) = e else {
        return ConfigError::new(".env", one_line(&e.to_string()));
    };
    let first = line.lines().next().unwrap_or_default().trim_start();
    let key = first
        .strip_prefix("export ")
        .unwrap_or(first)
        .split_once('=')
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    let number = std::fs::read_to_string(path).ok().and_then(|text| {
        let at = text.find(line.as_str())?;
        Some(text[..at].matches('\n').count() + 1)
    });
    let place = number.map_or_else(|| "a line".to_string(), |n| format!("line {n}"));
    let key = key.map_or_else(String::new, |k| format!(" ({k})"));
    ConfigError::new(
        ".env",
        format!("cannot parse {place}{key} at character {index}"),
    )
}

/// toml quotes the line it cannot parse, and that line may hold a secret: only its number and
/// what is wrong.
fn toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let message = one_line(e.message());
    let line = e
        .span()
        .and_then(|span| text.get(..span.start))
        .map(|before| before.matches('\n').count() + 1);
    ConfigError::new(
        "--config",
        match line {
            Some(n) => format!("line {n}: {message}"),
            None => message,
        },
    )
}

struct Field<'a> {
    key: &'static str,
    value: Option<&'a str>,
}

impl Field<'_> {
    fn err(&self, message: impl Into<String>) -> ConfigError {
        let env = SETTINGS
            .iter()
            .find(|s| s.key == self.key)
            .map_or("", |s| s.env);
        ConfigError::new(format!("{env} ({})", self.key), message)
    }

    fn required(&self) -> Result<&str, ConfigError> {
        self.value.ok_or_else(|| self.err("is required"))
    }

    fn socket_addr(&self) -> Result<SocketAddr, ConfigError> {
        let s = self.required()?;
        s.parse()
            .map_err(|_| self.err(format!("{s:?} is not an address like 0.0.0.0:8000")))
    }

    fn duration(&self) -> Result<Duration, ConfigError> {
        let d = self.duration_or_zero()?;
        if d.is_zero() {
            return Err(self.err("must be longer than zero"));
        }
        Ok(d)
    }

    fn duration_or_zero(&self) -> Result<Duration, ConfigError> {
        let s = self.required()?;
        parse_duration(s).ok_or_else(|| {
            self.err(format!(
                "{s:?} is not a duration (use seconds or 30s, 15m, 1h, 7d)"
            ))
        })
    }

    fn integer(&self) -> Result<u64, ConfigError> {
        let s = self.required()?;
        s.trim()
            .parse()
            .map_err(|_| self.err(format!("{s:?} is not a whole number")))
    }

    fn boolean(&self) -> Result<bool, ConfigError> {
        match self.required()?.trim() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            s => Err(self.err(format!("{s:?} is not true or false"))),
        }
    }

    fn list<T>(&self, parse: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, ConfigError> {
        self.value
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| parse(s).map_err(|m| self.err(m)))
            .collect()
    }

    fn rate(&self) -> Result<Rate, ConfigError> {
        let s = self.required()?;
        parse_rate(s).ok_or_else(|| self.err(format!("{s:?} is not a rate like 10/min")))
    }

    fn database_url(&self) -> Result<String, ConfigError> {
        let s = self.required()?;
        s.parse::<tokio_postgres::Config>()
            .map_err(|_| self.err("is not a PostgreSQL URL (postgres://user@host:port/db)"))?;
        if crate::store::database_name(s).is_none() {
            return Err(self.err("names no database"));
        }
        Ok(s.to_string())
    }

    fn upstream(&self) -> Result<Upstream, ConfigError> {
        let s = self.required()?;
        parse_upstream(s).map_err(|m| self.err(m))
    }
}

/// `900`, `30s`, `15m`, `1h`, `7d`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    // Refuse durations that overflow token arithmetic (a century is plenty).
    let secs = n.checked_mul(mult).filter(|s| *s <= 100 * 365 * 86_400)?;
    Some(Duration::from_secs(secs))
}

/// `10/min`, `5/s`, `100/hour`.
pub fn parse_rate(s: &str) -> Option<Rate> {
    let (count, period) = s.trim().split_once('/')?;
    let count: u32 = count.trim().parse().ok().filter(|c| *c > 0)?;
    let period = match period.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        "d" | "day" => Duration::from_secs(86_400),
        _ => return None,
    };
    Some(Rate { count, period })
}

pub fn parse_upstream(s: &str) -> Result<Upstream, String> {
    let (tls, rest) = if let Some(r) = s.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = s.strip_prefix("http://") {
        (false, r)
    } else if s.contains("://") {
        return Err(format!(
            "{s:?}: only http:// and https:// upstreams are supported"
        ));
    } else {
        (false, s)
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') || rest.contains('@') || rest.contains('?') {
        return Err(format!("{s:?} must be host:port without a path"));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !h.ends_with(':') => {
            let port: u16 = p
                .parse()
                .map_err(|_| format!("{s:?} has an invalid port"))?;
            (
                h.trim_start_matches('[').trim_end_matches(']').to_string(),
                port,
            )
        }
        _ if !rest.is_empty() && !rest.contains(':') => {
            (rest.to_string(), if tls { 443 } else { 80 })
        }
        _ => return Err(format!("{s:?} is not host:port")),
    };
    if host.is_empty() || port == 0 {
        return Err(format!("{s:?} is not host:port"));
    }
    Ok(Upstream { host, port, tls })
}

/// Resolves the upstream once; failure is reported by the caller as a configuration error.
pub fn resolve_upstream(up: &Upstream) -> Result<SocketAddr, ConfigError> {
    up.authority()
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            ConfigError::new(
                "GATEHOUSE_UPSTREAM (upstream)",
                format!("cannot resolve {}", up.authority()),
            )
        })
}

fn parse_public_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') {
        return Err(format!("public path {s:?} must start with /"));
    }
    if s.contains(['?', '#', '\\']) || s.split('/').any(|seg| seg == ".." || seg == ".") {
        return Err(format!("public path {s:?} must be a plain path"));
    }
    if s == "/auth" || s.starts_with("/auth/") {
        return Err(format!(
            "public path {s:?} overlaps the gateway's own /auth routes"
        ));
    }
    let trimmed = s.trim_end_matches('/');
    Ok(if trimmed.is_empty() {
        "/".to_string()
    } else {
        trimmed.to_string()
    })
}

fn parse_public_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| format!("{s:?} must start with http:// or https://"))?;
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "{s:?} must be an origin like https://app.example.com"
        ));
    }
    Ok(s.trim_end_matches('/').to_ascii_lowercase())
}

fn parse_redirect_host(s: &str) -> Result<String, String> {
    let h = s.trim().to_ascii_lowercase();
    let bare = h.strip_prefix('.').unwrap_or(&h);
    if bare.is_empty()
        || !bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ':')
    {
        return Err(format!("{s:?} is not a host name"));
    }
    Ok(h)
}

fn parse_cookie_domain(s: &str) -> Result<String, String> {
    let d = s.trim().trim_start_matches('.').to_ascii_lowercase();
    if d.is_empty()
        || !d
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err(format!("{s:?} is not a domain"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut raw = RawConfig::default();
        raw.apply_env(&env, "environment");
        raw.validate()
    }

    #[test]
    fn durations_accept_seconds_and_units() {
        assert_eq!(parse_duration("900"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        for bad in ["", "m", "15x", "-1", "1.5h", "15 m", "99999999999999999999"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn rates_parse() {
        assert_eq!(
            parse_rate("10/min"),
            Some(Rate {
                count: 10,
                period: Duration::from_secs(60)
            })
        );
        assert_eq!(parse_rate("0/min"), None);
        assert_eq!(parse_rate("ten/min"), None);
    }

    #[test]
    fn upstreams_parse() {
        assert_eq!(
            parse_upstream("127.0.0.1:8080"),
            Ok(Upstream {
                host: "127.0.0.1".into(),
                port: 8080,
                tls: false
            })
        );
        assert_eq!(
            parse_upstream("https://api.example.com"),
            Ok(Upstream {
                host: "api.example.com".into(),
                port: 443,
                tls: true
            })
        );
        assert!(parse_upstream("ftp://x:1").is_err());
        assert!(parse_upstream("http://x:1/path").is_err());
        assert!(parse_upstream("x:notaport").is_err());
    }

    #[test]
    fn defaults_validate() {
        let c = validate(&[]).expect("defaults are valid");
        assert!(c.jwt_secret_generated);
        assert_eq!(c.access_ttl, Duration::from_secs(900));
        assert!(c.cookie_secure);
        assert_eq!(c.public_url, "http://localhost:8000");
    }

    #[test]
    fn a_wrong_value_names_its_key() {
        let e = validate(&[("GATEHOUSE_ACCESS_TTL", "15x")]).unwrap_err();
        assert!(e.key.contains("GATEHOUSE_ACCESS_TTL"), "{e}");
        let e = validate(&[("GATEHOUSE_JWT_SECRET", "short")]).unwrap_err();
        assert!(e.key.contains("GATEHOUSE_JWT_SECRET"), "{e}");
        let e = validate(&[("GATEHOUSE_BCRYPT_COST", "3")]).unwrap_err();
        assert!(e.key.contains("GATEHOUSE_BCRYPT_COST"), "{e}");
        let e = validate(&[("GATEHOUSE_PUBLIC_PATHS", "public")]).unwrap_err();
        assert!(e.key.contains("GATEHOUSE_PUBLIC_PATHS"), "{e}");
    }

    #[test]
    fn the_published_placeholder_key_is_refused() {
        let placeholder = example_jwt_secret().expect(".env.example sets GATEHOUSE_JWT_SECRET");
        assert!(
            placeholder.len() >= 32,
            "refused for what it is, not its length"
        );
        for value in [placeholder.to_string(), format!(" {placeholder} ")] {
            let e = validate(&[("GATEHOUSE_JWT_SECRET", &value)]).unwrap_err();
            assert!(e.key.contains("GATEHOUSE_JWT_SECRET"), "{e}");
            assert!(e.message.contains(".env.example"), "{e}");
            assert_eq!(e.to_string().lines().count(), 1);
        }
        // What .env.example would give, read the way gatehouse reads .env.
        let dir = std::env::temp_dir().join(format!("gh-example-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dotenv = dir.join(".env");
        std::fs::write(&dotenv, include_str!("../.env.example")).unwrap();
        let raw = RawConfig::load(None, Some(&dotenv), &HashMap::new()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let e = raw.validate().unwrap_err();
        assert!(e.key.contains("GATEHOUSE_JWT_SECRET"), "{e}");
        // Anything else of the length is a key.
        let c = validate(&[("GATEHOUSE_JWT_SECRET", &placeholder.replace('m', "n"))]).unwrap();
        assert!(!c.jwt_secret_generated);
    }

    #[test]
    fn environment_wins_over_the_file() {
        let mut raw = RawConfig::default();
        raw.apply_toml("access_ttl = 60\npublic_paths = [\"/a\", \"/b/\"]")
            .unwrap();
        let env = HashMap::from([("GATEHOUSE_ACCESS_TTL".to_string(), "2m".to_string())]);
        raw.apply_env(&env, "environment");
        let c = raw.validate().unwrap();
        assert_eq!(c.access_ttl, Duration::from_secs(120));
        assert_eq!(c.public_paths, vec!["/a".to_string(), "/b".to_string()]);
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let mut raw = RawConfig::default();
        let e = raw.apply_toml("acess_ttl = 60").unwrap_err();
        assert_eq!(e.key, "acess_ttl");
    }

    #[test]
    fn the_description_covers_every_setting_and_masks_secrets() {
        let c = validate(&[
            ("GATEHOUSE_JWT_SECRET", "0123456789abcdef0123456789abcdef!"),
            (
                "DATABASE_URL",
                "postgres://app:hunter2hunter2@db:5432/gatehouse",
            ),
        ])
        .unwrap();
        let d = c.describe();
        assert_eq!(d.len(), SETTINGS.len());
        let text = format!("{d:?}");
        assert!(
            !text.contains("0123456789abcdef") && !text.contains("hunter2"),
            "{text}"
        );
    }

    #[test]
    fn unparsable_lines_are_named_not_quoted() {
        let dir = std::env::temp_dir().join(format!("gh-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dotenv = dir.join(".env");
        std::fs::write(
            &dotenv,
            "GATEHOUSE_LOG=info\nGATEHOUSE_JWT_SECRET=\"0123456789abcdef0123456789abcdef-jwt-leak\n",
        )
        .unwrap();
        let e = RawConfig::load(None, Some(&dotenv), &HashMap::new()).unwrap_err();
        let text = e.to_string();
        assert!(!text.contains("jwt-leak"), "{text}");
        assert!(text.contains("line 2 (GATEHOUSE_JWT_SECRET)"), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");

        let toml = dir.join("gatehouse.toml");
        std::fs::write(
            &toml,
            "log = \"info\"\ndatabase_url = \"postgres://app:toml-leak@db/gatehouse\n",
        )
        .unwrap();
        let e = RawConfig::load(Some(&toml), None, &HashMap::new()).unwrap_err();
        let text = e.to_string();
        assert!(!text.contains("toml-leak"), "{text}");
        assert!(text.contains("line 2"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn secrets_do_not_print() {
        let c = validate(&[("GATEHOUSE_JWT_SECRET", "0123456789abcdef0123456789abcdef!")]).unwrap();
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn the_readme_documents_every_setting() {
        let readme = include_str!("../README.md");
        for s in SETTINGS {
            assert!(
                readme.contains(&format!("| `{}` | `{}` |", s.env, s.key)),
                "{}",
                s.env
            );
        }
    }

    #[test]
    fn the_example_file_lists_every_setting_and_is_valid_uncommented() {
        let example = include_str!("../config/gatehouse.toml");
        let mut uncommented = String::new();
        for s in SETTINGS {
            let line = example
                .lines()
                .find(|l| l.starts_with(&format!("# {} = ", s.key)))
                .unwrap_or_else(|| panic!("config/gatehouse.toml lacks {}", s.key));
            let value = line.trim_start_matches("# ");
            let value = value.split("   #").next().unwrap_or(value);
            uncommented.push_str(value);
            uncommented.push('\n');
        }
        let mut raw = RawConfig::default();
        raw.apply_toml(&uncommented).unwrap();
        raw.validate().unwrap();
    }
}

//! From text to the validated [`Config`]: every value parsed, checked, and refused with the
//! name of its key when it is wrong; never a silent default for a value that was given.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use ipnet::IpNet;

use crate::clock::parse_duration;
use crate::origin::Origin;
use crate::policy::{Policy, Routes};

use super::{
    parse_upstream, Config, ConfigError, LogFormat, Rate, RawConfig, Registration, Secret,
    TlsFiles, Upstream, SETTINGS,
};

impl RawConfig {
    /// Validates every value; the first problem found is returned.
    pub fn validate(&self) -> Result<Config, ConfigError> {
        let v = |key: &'static str| Field {
            key,
            value: self.get(key),
        };

        let listen = v("listen").socket_addr()?;
        let given = |key: &'static str| v(key).value.filter(|s| !s.trim().is_empty());
        let tls = match (given("tls_cert"), given("tls_key")) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.trim().into(),
                key: key.trim().into(),
            }),
            (None, None) => None,
            (Some(_), None) => return Err(v("tls_key").err("is required with tls_cert")),
            (None, Some(_)) => return Err(v("tls_cert").err("is required with tls_key")),
        };
        let public_url = match v("public_url").value.filter(|s| !s.is_empty()) {
            Some(s) => parse_public_url(s).map_err(|m| v("public_url").err(m))?,
            None => {
                let host = match listen.ip() {
                    ip if ip.is_unspecified() => "localhost".to_string(),
                    IpAddr::V6(v6) => format!("[{v6}]"),
                    ip => ip.to_string(),
                };
                let scheme = if tls.is_some() { "https" } else { "http" };
                let url = format!("{scheme}://{host}:{}", listen.port());
                Origin::parse(&url).ok_or_else(|| {
                    v("public_url").err(format!("cannot derive it from the listener ({url})"))
                })?
            }
        };
        let webauthn_rp_id = match v("webauthn_rp_id").value.map(str::trim) {
            Some(id) if !id.is_empty() => {
                Some(parse_rp_id(id, &public_url).map_err(|m| v("webauthn_rp_id").err(m))?)
            }
            _ => parse_rp_id(public_url.host(), &public_url).ok(),
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
        let redirect_listen = given("redirect_listen")
            .map(|_| v("redirect_listen").socket_addr())
            .transpose()?;
        if redirect_listen.is_some() && !public_url.as_str().starts_with("https://") {
            return Err(v("redirect_listen").err(format!(
                "redirects to the public URL, which must then be https:// (it is {})",
                public_url
            )));
        }
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

        let upstream = v("upstream").upstream()?;
        let public_paths = v("public_paths").list(parse_public_path)?;
        let default_policy: Policy = v("default_policy")
            .required()?
            .parse()
            .map_err(|m: String| v("default_policy").err(m))?;
        let routes = match &self.routes {
            Some(raw) => Routes::compile(raw, default_policy),
            None => Routes::implicit(upstream.clone(), &public_paths, default_policy),
        }
        .map_err(|e| ConfigError::new(super::layers::route_key(&e), e.message))?;

        Ok(Config {
            database_url: v("database_url").database_url()?,
            listen,
            admin_listen: v("admin_listen").socket_addr()?,
            upstream,
            upstream_timeout: v("upstream_timeout").duration()?,
            header_timeout: v("header_timeout").duration()?,
            public_paths,
            public_url,
            allowed_redirect_hosts: v("allowed_redirect_hosts").list(parse_redirect_host)?,
            webauthn_rp_id,
            jwt_secret,
            jwt_secret_generated,
            access_ttl,
            refresh_ttl,
            session_ttl,
            refresh_reuse_grace: v("refresh_reuse_grace").duration_or_zero()?,
            cookie_secure: v("cookie_secure").boolean()?,
            cookie_domain,
            registration: {
                let s = v("registration").value.unwrap_or("");
                Registration::parse(s).ok_or_else(|| {
                    v("registration").err(format!("must be closed, invite or open, got {s:?}"))
                })?
            },
            registration_groups: {
                let mut names = v("registration_groups").list(parse_group_name)?;
                names.sort_unstable();
                names.dedup();
                names
            },
            default_policy,
            routes,
            routes_configured: self.routes.is_some(),
            unused_with_routes: if self.routes.is_some() {
                ["upstream", "public_paths"]
                    .into_iter()
                    .filter(|k| self.given(k))
                    .filter_map(|k| SETTINGS.iter().find(|s| s.key == k).map(|s| s.env))
                    .collect()
            } else {
                Vec::new()
            },
            file: None,
            assertion_keys: v("assertion_keys").list(|s| Ok(std::path::PathBuf::from(s)))?,
            bcrypt_cost: bcrypt_cost as u32,
            cache_ttl: v("cache_ttl").duration()?,
            trusted_proxies: v("trusted_proxies").list(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{s:?} is not a CIDR"))
            })?,
            login_rate: v("login_rate").rate()?,
            threads: threads as usize,
            tls,
            redirect_listen,
            log: v("log").log_filter()?,
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
pub(super) fn example_jwt_secret() -> Option<&'static str> {
    include_str!("../../.env.example")
        .lines()
        .find_map(|line| line.trim().strip_prefix("GATEHOUSE_JWT_SECRET="))
        .map(|value| value.trim().trim_matches(['"', '\'']))
        .filter(|value| !value.is_empty())
}

/// Reads the process environment once.
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
        let s = self.required()?;
        parse_bool(s).ok_or_else(|| {
            self.err(format!(
                "{s:?} is not a boolean (true or false; also yes/no, on/off, 1/0)"
            ))
        })
    }

    fn log_filter(&self) -> Result<String, ConfigError> {
        let s = self.required()?;
        parse_log_filter(s).map_err(|m| self.err(m))?;
        Ok(s.trim().to_string())
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
        if super::database_name(s).is_none() {
            return Err(self.err("names no database"));
        }
        Ok(s.to_string())
    }

    fn upstream(&self) -> Result<Upstream, ConfigError> {
        let s = self.required()?;
        parse_upstream(s).map_err(|m| self.err(m))
    }
}

/// What a TOML boolean becomes as text (`true`, `false`), and the spellings environment files
/// use for the same (`yes`/`no`, `on`/`off`, `1`/`0`), in any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    const TRUE: [&str; 4] = ["true", "yes", "on", "1"];
    const FALSE: [&str; 4] = ["false", "no", "off", "0"];
    let s = s.trim();
    if TRUE.iter().any(|t| t.eq_ignore_ascii_case(s)) {
        Some(true)
    } else if FALSE.iter().any(|f| f.eq_ignore_ascii_case(s)) {
        Some(false)
    } else {
        None
    }
}

const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// A `tracing` filter (`info`, `warn,gatehouse=debug`, `pingora_core=off`), checked here so a
/// typo stops start-up rather than logging nothing. The filter syntax itself reads any bare
/// word as a module name (`warning`, `inf` would log only a module of that name, that is,
/// nothing), so a bare word must be a level; a module is written `module=level`.
pub fn parse_log_filter(s: &str) -> Result<(), String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("is empty (use a level such as info, or off)".into());
    }
    for directive in s.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let bare = !directive.contains(['=', '[', '{']);
        if bare && !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(directive)) {
            let lower = directive.to_ascii_lowercase();
            // `warning` and `inf` are a level written longer or shorter; `debgu` a typo.
            let meant = LEVELS
                .iter()
                .find(|l| lower.starts_with(*l) || l.starts_with(lower.as_str()))
                .or_else(|| {
                    LEVELS
                        .iter()
                        .map(|l| (strsim::levenshtein(l, &lower), l))
                        .min()
                        .filter(|(distance, _)| *distance <= 2)
                        .map(|(_, l)| l)
                });
            let hint = meant.map_or_else(
                || format!("for a module write {directive}=debug"),
                |l| format!("did you mean {l}?"),
            );
            return Err(format!(
                "{directive:?} is not a level (off, error, warn, info, debug, trace); {hint}"
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(s)
        .map(drop)
        .map_err(|e| format!("{s:?} is not a log filter: {e}"))
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

/// An origin and nothing more: a path, query or fragment would be silently dropped from every
/// URL built on it, so it is refused instead.
fn parse_public_url(s: &str) -> Result<Origin, String> {
    let bare = s.trim_end_matches('/');
    let origin = Origin::parse(bare)
        .ok_or_else(|| format!("{s:?} must be an origin like https://app.example.com"))?;
    // `Origin::parse` ignores a path; an origin has none.
    if !bare.eq_ignore_ascii_case(origin.as_str()) && !bare.contains(['[', ']']) {
        return Err(format!(
            "{s:?} must be an origin like https://app.example.com"
        ));
    }
    Ok(origin)
}

fn parse_group_name(s: &str) -> Result<String, String> {
    if crate::policy::is_group_name(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a group name (1-64 characters of a-z 0-9 . _ -)"
        ))
    }
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

/// A relying party id is a domain (never an IP address) equal to the public URL's host or a
/// parent of it: browsers refuse any other for a page on the public URL.
fn parse_rp_id(s: &str, public_url: &Origin) -> Result<String, String> {
    let id = s.trim().to_ascii_lowercase();
    let labels_ok = id.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    // The last label of a domain is never all digits: that is an IPv4 address.
    let numeric = id
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()));
    if id.is_empty() || !labels_ok || numeric {
        return Err(format!(
            "{s:?} is not a domain name (an IP address cannot be one)"
        ));
    }
    let host = public_url.host();
    if host != id && !host.ends_with(&format!(".{id}")) {
        return Err(format!(
            "{id:?} must be the public URL's host ({host}) or a domain above it"
        ));
    }
    Ok(id)
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

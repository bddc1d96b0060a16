//! The single list of settings: environment variable, TOML key, default, help, and how the
//! effective value prints. Loading, validation and `config check` all follow it; the README's
//! configuration table and `config/gatehouse.toml` are checked against it.

use std::time::Duration;

use super::{Config, LogFormat};

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

fn list(v: &[String]) -> String {
    v.join(",")
}

/// One setting: how the environment and the TOML file spell it, and its default.
pub struct Setting {
    pub env: &'static str,
    pub key: &'static str,
    pub default: Option<&'static str>,
    pub help: &'static str,
    /// The effective value as `config check` prints it, secrets masked.
    pub show: fn(&Config) -> String,
}

/// The single list of settings; the README's configuration table is checked against it.
pub const SETTINGS: &[Setting] = &[
    Setting {
        env: "DATABASE_URL",
        key: "database_url",
        default: Some("postgres://postgres@127.0.0.1:5432/gatehouse"),
        help: "PostgreSQL URL",
        show: |c| super::redact_url(&c.database_url),
    },
    Setting {
        env: "GATEHOUSE_LISTEN",
        key: "listen",
        default: Some("0.0.0.0:8000"),
        help: "public listener",
        show: |c| c.listen.to_string(),
    },
    Setting {
        env: "GATEHOUSE_ADMIN_LISTEN",
        key: "admin_listen",
        default: Some("127.0.0.1:9000"),
        help: "health and metrics listener",
        show: |c| c.admin_listen.to_string(),
    },
    Setting {
        env: "GATEHOUSE_UPSTREAM",
        key: "upstream",
        default: Some("127.0.0.1:8080"),
        help: "default upstream: host:port or http(s)://host:port",
        show: |c| c.upstream.url(),
    },
    Setting {
        env: "GATEHOUSE_UPSTREAM_TIMEOUT",
        key: "upstream_timeout",
        default: Some("30s"),
        help: "connect and read timeout towards the upstream",
        show: |c| secs(c.upstream_timeout),
    },
    Setting {
        env: "GATEHOUSE_HEADER_TIMEOUT",
        key: "header_timeout",
        default: Some("10s"),
        help: "time a client has to send a request head",
        show: |c| secs(c.header_timeout),
    },
    Setting {
        env: "GATEHOUSE_PUBLIC_PATHS",
        key: "public_paths",
        default: Some(""),
        help: "comma-separated path prefixes served without auth",
        show: |c| list(&c.public_paths),
    },
    Setting {
        env: "GATEHOUSE_PUBLIC_URL",
        key: "public_url",
        default: None,
        help: "the gateway's external origin, for redirects",
        show: |c| c.public_url.to_string(),
    },
    Setting {
        env: "GATEHOUSE_ALLOWED_REDIRECT_HOSTS",
        key: "allowed_redirect_hosts",
        default: Some(""),
        help: "extra hosts a return URL may point at",
        show: |c| list(&c.allowed_redirect_hosts),
    },
    Setting {
        env: "GATEHOUSE_WEBAUTHN_RP_ID",
        key: "webauthn_rp_id",
        default: Some(""),
        help: "passkeys' relying party id (default: the public URL's host)",
        show: |c| {
            c.webauthn_rp_id
                .clone()
                .unwrap_or_else(|| "(passkeys off)".into())
        },
    },
    Setting {
        env: "GATEHOUSE_JWT_SECRET",
        key: "jwt_secret",
        default: None,
        help: "HS256 key, at least 32 bytes",
        show: |c| {
            if c.jwt_secret_generated {
                "(random per process)"
            } else {
                "***"
            }
            .to_string()
        },
    },
    Setting {
        env: "GATEHOUSE_ACCESS_TTL",
        key: "access_ttl",
        default: Some("15m"),
        help: "access token lifetime",
        show: |c| secs(c.access_ttl),
    },
    Setting {
        env: "GATEHOUSE_REFRESH_TTL",
        key: "refresh_ttl",
        default: Some("7d"),
        help: "refresh token lifetime; also the idle timeout",
        show: |c| secs(c.refresh_ttl),
    },
    Setting {
        env: "GATEHOUSE_SESSION_TTL",
        key: "session_ttl",
        default: Some("30d"),
        help: "absolute session lifetime",
        show: |c| secs(c.session_ttl),
    },
    Setting {
        env: "GATEHOUSE_REFRESH_REUSE_GRACE",
        key: "refresh_reuse_grace",
        default: Some("10s"),
        help: "window in which the previous refresh token still works",
        show: |c| secs(c.refresh_reuse_grace),
    },
    Setting {
        env: "GATEHOUSE_COOKIE_SECURE",
        key: "cookie_secure",
        default: Some("true"),
        help: "Secure cookies with __Host-/__Secure- names",
        show: |c| c.cookie_secure.to_string(),
    },
    Setting {
        env: "GATEHOUSE_COOKIE_DOMAIN",
        key: "cookie_domain",
        default: None,
        help: "Domain for cookies shared across subdomains",
        show: |c| c.cookie_domain.clone().unwrap_or_default(),
    },
    Setting {
        env: "GATEHOUSE_REGISTRATION",
        key: "registration",
        default: Some("closed"),
        help: "who may sign up: closed, invite (only with an invite link) or open",
        show: |c| c.registration.as_str().into(),
    },
    Setting {
        env: "GATEHOUSE_REGISTRATION_GROUPS",
        key: "registration_groups",
        default: Some(""),
        help: "comma-separated groups that users who sign up without an invite join",
        show: |c| list(&c.registration_groups),
    },
    Setting {
        env: "GATEHOUSE_DEFAULT_POLICY",
        key: "default_policy",
        default: Some("one_factor"),
        help:
            "policy where no route or rule says otherwise: deny, bypass, one_factor or two_factor",
        show: |c| c.default_policy.to_string(),
    },
    Setting {
        env: "GATEHOUSE_ASSERTION_KEYS",
        key: "assertion_keys",
        default: Some(""),
        help: "comma-separated PEM files (PKCS#8, Ed25519 or P-256) signing X-Auth-Assertion; the first signs, all are published",
        show: |c| {
            c.assertion_keys
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(",")
        },
    },
    Setting {
        env: "GATEHOUSE_BCRYPT_COST",
        key: "bcrypt_cost",
        default: Some("12"),
        help: "4..=31",
        show: |c| c.bcrypt_cost.to_string(),
    },
    Setting {
        env: "GATEHOUSE_CACHE_TTL",
        key: "cache_ttl",
        default: Some("5s"),
        help: "how long a validated session may be served from memory",
        show: |c| secs(c.cache_ttl),
    },
    Setting {
        env: "GATEHOUSE_TRUSTED_PROXIES",
        key: "trusted_proxies",
        default: Some("127.0.0.1/32,::1/128"),
        help: "CIDRs whose X-Forwarded-* headers are believed",
        show: |c| {
            c.trusted_proxies
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        },
    },
    Setting {
        env: "GATEHOUSE_LOGIN_RATE",
        key: "login_rate",
        default: Some("10/min"),
        help: "failed logins allowed per client IP and per username",
        show: |c| format!("{}/{}s", c.login_rate.count, c.login_rate.period.as_secs()),
    },
    Setting {
        env: "GATEHOUSE_THREADS",
        key: "threads",
        default: Some("2"),
        help: "worker threads of the public listener",
        show: |c| c.threads.to_string(),
    },
    Setting {
        env: "GATEHOUSE_TLS_CERT",
        key: "tls_cert",
        default: None,
        help: "PEM certificate chain: the public listener speaks TLS (with tls_key)",
        show: |c| {
            c.tls
                .as_ref()
                .map_or_else(String::new, |t| t.cert.display().to_string())
        },
    },
    Setting {
        env: "GATEHOUSE_TLS_KEY",
        key: "tls_key",
        default: None,
        help: "PEM private key of tls_cert",
        show: |c| {
            c.tls
                .as_ref()
                .map_or_else(String::new, |t| t.key.display().to_string())
        },
    },
    Setting {
        env: "GATEHOUSE_REDIRECT_LISTEN",
        key: "redirect_listen",
        default: None,
        help: "plain-HTTP listener answering 308 to the https public URL",
        show: |c| {
            c.redirect_listen
                .map_or_else(String::new, |a| a.to_string())
        },
    },
    Setting {
        env: "GATEHOUSE_LOG",
        key: "log",
        default: Some("info"),
        help: "log filter",
        show: |c| c.log.clone(),
    },
    Setting {
        env: "GATEHOUSE_LOG_FORMAT",
        key: "log_format",
        default: Some("text"),
        help: "text or json",
        show: |c| {
            match c.log_format {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            }
            .into()
        },
    },
];

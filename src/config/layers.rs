//! The layers a setting may come from, weakest first: the TOML file, `.env` in the working
//! directory, the real environment. Values stay text here; `validate.rs` reads them.

use std::collections::HashMap;
use std::path::Path;

use crate::policy::{parse_toml_routes, RawRoute, RouteError};

use super::{ConfigError, SETTINGS};

/// Raw values before validation, each with the name of the layer it came from.
#[derive(Debug, Default)]
pub struct RawConfig {
    values: HashMap<&'static str, (String, String)>,
    /// The file's `[[routes]]`, read into route tables by validation; only the file has them.
    pub(super) routes: Option<Vec<RawRoute>>,
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
            refuse_unknown(&dotenv, ".env")?;
            raw.apply_env(&dotenv, ".env");
        }
        refuse_unknown(env, "environment")?;
        raw.apply_env(env, "environment");
        Ok(raw)
    }

    pub fn apply_toml(&mut self, text: &str) -> Result<(), ConfigError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| toml_error(text, &e))?;
        for (key, value) in table {
            if key == "routes" {
                let routes = parse_toml_routes(value)
                    .map_err(|e| ConfigError::new(route_key(&e), e.message))?;
                self.routes = Some(routes);
                continue;
            }
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

    /// Whether a layer gave `key` (rather than its default).
    pub(super) fn given(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// Sets `key` to `value` unless a layer (file, `.env`, environment) gave it: the default
    /// that a command-line flag changes. Returns whether it was set.
    pub fn default_to(&mut self, key: &str, value: &str, layer: &str) -> bool {
        let Some(setting) = SETTINGS.iter().find(|s| s.key == key) else {
            return false;
        };
        if self.values.contains_key(setting.key) {
            return false;
        }
        self.values
            .insert(setting.key, (value.to_string(), layer.to_string()));
        true
    }

    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str()).or_else(|| {
            SETTINGS
                .iter()
                .find(|s| s.key == key)
                .and_then(|s| s.default)
        })
    }
}

/// The key a route's problem is reported under: `routes."grafana".upstream`.
pub(super) fn route_key(e: &RouteError) -> String {
    if e.route.is_empty() {
        return "routes".into();
    }
    format!("routes.{}.{}", e.route, e.field)
}

/// docs/contract.md §1: a `GATEHOUSE_*` variable that names no setting stops start-up, as an
/// unknown TOML key does: a misspelt `GATEHOUSE_COOKIE_SECUR=false` must not pass silently.
/// The prefix is matched in any case, since `gatehouse_log=debug` is the same mistake.
fn refuse_unknown(env: &HashMap<String, String>, layer: &str) -> Result<(), ConfigError> {
    let mut unknown: Vec<&String> = env
        .keys()
        .filter(|k| {
            k.get(..PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX))
        })
        .filter(|k| !SETTINGS.iter().any(|s| s.env == k.as_str()))
        .collect();
    unknown.sort();
    match unknown.first() {
        None => Ok(()),
        Some(name) => Err(ConfigError::new(
            name.as_str(),
            format!(
                "unknown setting (in the {layer}); did you mean {}?",
                closest_setting(name)
            ),
        )),
    }
}

const PREFIX: &str = "GATEHOUSE_";

/// The setting `name` most likely meant: the shortest one it begins (a name cut short, such as
/// `GATEHOUSE_JWT`), else the one the fewest edits away (Levenshtein distance), in upper case.
fn closest_setting(name: &str) -> &'static str {
    let name = name.to_ascii_uppercase();
    let ours = || SETTINGS.iter().filter(|s| s.env.starts_with(PREFIX));
    ours()
        .filter(|s| s.env.starts_with(&name))
        .min_by_key(|s| s.env.len())
        .or_else(|| ours().min_by_key(|s| strsim::levenshtein(s.env, &name)))
        .map_or("", |s| s.env)
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

//! `gatehouse config check`: the validated configuration — which files it came from, every
//! setting with secrets masked, and the routes (docs/contract.md §9) in the order the gateway
//! holds them. Reaching this point means validation passed; errors never get here (exit 2).

use std::path::PathBuf;

use serde_json::{json, Value};

use super::show;
use crate::config::Config;
use crate::policy::Policy;

/// Where the configuration was read from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The TOML file: `--config`, or `config/gatehouse.toml` when it exists.
    pub file: Option<PathBuf>,
    /// `.env` in the working directory, when it exists.
    pub dotenv: Option<PathBuf>,
    /// The working directory, where both were looked for.
    pub dir: Option<PathBuf>,
}

/// The configuration file read when `--config` names none, if it exists.
pub const DEFAULT_FILE: &str = "config/gatehouse.toml";

fn shown(path: Option<&PathBuf>, missing: &str) -> String {
    path.map_or_else(|| missing.into(), |p| p.display().to_string())
}

/// The text `config check` prints.
pub fn text(config: &Config, sources: &Sources) -> String {
    let here = sources.dir.as_ref().map_or_else(
        || "the working directory".to_string(),
        |d| d.display().to_string(),
    );
    let mut lines = vec![
        "configuration is valid".to_string(),
        format!(
            "config file: {}",
            shown(
                sources.file.as_ref(),
                &format!("none (no --config, and no {DEFAULT_FILE} in {here})")
            )
        ),
        format!(
            ".env file: {}",
            shown(
                sources.dotenv.as_ref(),
                &format!("none (no .env in {here})")
            )
        ),
    ];
    lines.extend(
        config
            .describe()
            .into_iter()
            .map(|(env, value)| format!("{env}={value}")),
    );
    lines.push(String::new());
    if config.routes_configured {
        lines.push(format!(
            "routes ({}, from the config file):",
            config.routes.len()
        ));
    } else {
        lines.push(
            "routes: none configured, so the implicit route (upstream GATEHOUSE_UPSTREAM, a \
             bypass rule per GATEHOUSE_PUBLIC_PATHS prefix, GATEHOUSE_DEFAULT_POLICY):"
                .into(),
        );
    }
    lines.extend(routes_table(config));
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// One aligned row per route, each followed by its rules in order, indented and numbered as
/// `policy check` numbers them.
fn routes_table(config: &Config) -> Vec<String> {
    let header = ["ROUTE", "HOSTS", "PATH", "UPSTREAM", "POLICY", "ALLOW"].map(String::from);
    let rows: Vec<[String; 6]> = config
        .routes
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                show::hosts(r),
                r.path.as_str().to_string(),
                show::upstream(r),
                r.policy.to_string(),
                match r.policy {
                    // Nobody is authenticated, so nobody is admitted or refused by name.
                    Policy::Deny | Policy::Bypass => "-".into(),
                    Policy::OneFactor | Policy::TwoFactor => show::allow(r.allow.as_deref()),
                },
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 6]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(&header)];
    for (route, row) in config.routes.iter().zip(&rows) {
        out.push(line(row));
        for (i, rule) in route.rules.iter().enumerate() {
            out.push(format!("  rule {}: {}", i + 1, show::rule(rule)));
        }
    }
    out
}

/// The JSON `config check --json` prints: the same facts, for scripts.
pub fn json(config: &Config, sources: &Sources) -> Value {
    let settings: serde_json::Map<String, Value> = config
        .describe()
        .into_iter()
        .map(|(env, value)| (env.to_string(), Value::String(value)))
        .collect();
    let path = |p: Option<&PathBuf>| p.map(|p| p.display().to_string());
    json!({
        "valid": true,
        "config_file": path(sources.file.as_ref()),
        "dotenv_file": path(sources.dotenv.as_ref()),
        "settings": settings,
        "implicit_route": !config.routes_configured,
        "routes": config.routes.iter().map(show::route_json_full).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::RawConfig;

    fn config(toml: &str, env: &[(&str, &str)]) -> Config {
        let mut raw = RawConfig::default();
        raw.apply_toml(toml).unwrap();
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        raw.apply_env(&env, "environment");
        raw.validate().unwrap()
    }

    #[test]
    fn without_routes_the_implicit_route_is_printed_from_the_settings() {
        let c = config(
            "",
            &[
                ("GATEHOUSE_UPSTREAM", "127.0.0.1:7000"),
                ("GATEHOUSE_PUBLIC_PATHS", "/public,/health"),
            ],
        );
        let out = text(&c, &Sources::default());
        assert!(
            out.starts_with(
                "configuration is valid\nconfig file: none (no --config, and no \
                 config/gatehouse.toml in the working directory)\n.env file: none (no .env \
                 in the working directory)\n"
            ),
            "{out}"
        );
        assert!(out.contains("the implicit route"), "{out}");
        let table = out.split("the implicit route").nth(1).unwrap();
        assert!(
            table.contains("default  any host  /     http://127.0.0.1:7000  one_factor"),
            "{table}"
        );
        assert!(
            table.contains("  rule 1: paths /public; policy bypass"),
            "{table}"
        );
        assert!(
            table.contains("  rule 2: paths /health; policy bypass"),
            "{table}"
        );
        let j = json(&c, &Sources::default());
        assert_eq!(j["implicit_route"], true);
        assert_eq!(j["routes"][0]["name"], "default");
        assert_eq!(j["routes"][0]["rules"][1]["paths"][0], "/health");
    }

    #[test]
    fn configured_routes_are_printed_in_order_with_their_rules() {
        let c = config(
            r#"
            [[routes]]
            name = "grafana"
            hosts = ["grafana.example.com"]
            upstream = "127.0.0.1:3000"
            allow = ["group:ops"]
              [[routes.rules]]
              paths = ["~^/api/health$"]
              policy = "bypass"
            [[routes]]
            name = "closed"
            path = "/closed"
            policy = "deny"
            "#,
            &[],
        );
        let sources = Sources {
            file: Some("/etc/gatehouse.toml".into()),
            dotenv: Some(".env".into()),
            dir: None,
        };
        let out = text(&c, &sources);
        assert!(out.contains("config file: /etc/gatehouse.toml\n.env file: .env\n"));
        assert!(out.contains("routes (2, from the config file):"), "{out}");
        let at = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s} in {out}"));
        assert!(at("grafana  grafana.example.com") < at("  rule 1: paths ~^/api/health$"));
        assert!(at("  rule 1: paths ~^/api/health$") < at("closed "));
        assert!(
            out.contains("none (denies everything)  deny        -"),
            "{out}"
        );
        let j = json(&c, &sources);
        assert_eq!(j["config_file"], "/etc/gatehouse.toml");
        assert_eq!(j["implicit_route"], false);
        assert_eq!(j["routes"][0]["allow"][0], "group:ops");
        assert_eq!(j["routes"][1]["upstream"], Value::Null);
    }
}

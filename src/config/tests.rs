//! Tests of configuration as a whole: parsing, layering, validation, and the table checked
//! against the README and the example file.

use super::validate::example_jwt_secret;
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
    assert_eq!(c.public_url.as_str(), "http://localhost:8000");
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
    std::fs::write(&dotenv, include_str!("../../.env.example")).unwrap();
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
    let readme = include_str!("../../README.md");
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
    let example = include_str!("../../config/gatehouse.toml");
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

#[test]
fn the_public_url_is_an_origin_and_nothing_more() {
    let ok = validate(&[("GATEHOUSE_PUBLIC_URL", "HTTPS://Auth.Example.com/")]).unwrap();
    assert_eq!(ok.public_url.as_str(), "https://auth.example.com");
    for bad in [
        "auth.example.com",
        "ftp://auth.example.com",
        "https://auth.example.com/base",
        "https://user@auth.example.com",
        "https://auth.example.com:x",
    ] {
        let e = validate(&[("GATEHOUSE_PUBLIC_URL", bad)]).unwrap_err();
        assert!(e.key.contains("public_url"), "{bad}: {e}");
    }
}

#[test]
fn the_relying_party_id_is_the_public_hosts_domain_or_one_above_it() {
    let c = validate(&[("GATEHOUSE_PUBLIC_URL", "https://auth.example.com")]).unwrap();
    assert_eq!(c.webauthn_rp_id.as_deref(), Some("auth.example.com"));
    let c = validate(&[
        ("GATEHOUSE_PUBLIC_URL", "https://auth.example.com"),
        ("GATEHOUSE_WEBAUTHN_RP_ID", "Example.com"),
    ])
    .unwrap();
    assert_eq!(c.webauthn_rp_id.as_deref(), Some("example.com"));
    // An IP address cannot be a relying party id: passkeys are off, nothing fails.
    let c = validate(&[("GATEHOUSE_PUBLIC_URL", "http://127.0.0.1:8000")]).unwrap();
    assert_eq!(c.webauthn_rp_id, None);
    for bad in [
        "other.com",
        "xample.com",
        "127.0.0.1",
        "auth.example.com.",
        "-x.com",
        "a b",
    ] {
        let e = validate(&[
            ("GATEHOUSE_PUBLIC_URL", "https://auth.example.com"),
            ("GATEHOUSE_WEBAUTHN_RP_ID", bad),
        ])
        .unwrap_err();
        assert!(e.key.contains("webauthn_rp_id"), "{bad}: {e}");
    }
}

#[test]
fn an_unknown_gatehouse_variable_stops_start_up_naming_the_closest_setting() {
    let env: HashMap<String, String> = [
        ("GATEHOUSE_COOKIE_SECUR".to_string(), "false".to_string()),
        ("OTHER_TOOL_SETTING".to_string(), "x".to_string()),
    ]
    .into_iter()
    .collect();
    let e = RawConfig::load(None, None, &env).unwrap_err();
    assert_eq!(e.key, "GATEHOUSE_COOKIE_SECUR");
    assert!(e.message.contains("GATEHOUSE_COOKIE_SECURE"), "{e}");
    let fine: HashMap<String, String> =
        [("GATEHOUSE_COOKIE_SECURE".to_string(), "false".to_string())]
            .into_iter()
            .collect();
    assert!(RawConfig::load(None, None, &fine).is_ok());
}

#[test]
fn without_routes_the_implicit_route_uses_the_upstream_public_paths_and_default_policy() {
    let c = validate(&[
        ("GATEHOUSE_UPSTREAM", "http://app.internal:9000"),
        ("GATEHOUSE_PUBLIC_PATHS", "/public"),
        ("GATEHOUSE_DEFAULT_POLICY", "two_factor"),
    ])
    .unwrap();
    assert_eq!(c.default_policy, crate::policy::Policy::TwoFactor);
    let route = c.routes.choose("any.example", "/x").unwrap();
    assert_eq!(route.upstream.as_ref().map(|u| u.port), Some(9000));
    assert_eq!(route.policy, crate::policy::Policy::TwoFactor);
    assert_eq!(route.rules.len(), 1);
    assert_eq!(route.rules[0].policy, crate::policy::Policy::Bypass);
    assert_eq!(
        validate(&[]).unwrap().default_policy,
        crate::policy::Policy::OneFactor
    );
}

#[test]
fn an_unknown_default_policy_names_its_key() {
    let e = validate(&[("GATEHOUSE_DEFAULT_POLICY", "maybe")]).unwrap_err();
    assert!(e.key.contains("GATEHOUSE_DEFAULT_POLICY"), "{e}");
    assert!(e.message.contains("maybe"), "{e}");
}

#[test]
fn the_file_may_hold_routes_and_still_refuses_other_unknown_keys() {
    let mut raw = RawConfig::default();
    raw.apply_toml(
        r#"
        default_policy = "deny"
        [[routes]]
        name = "grafana"
        hosts = ["grafana.example.com"]
        upstream = "http://127.0.0.1:3000"
        policy = "one_factor"
          [[routes.rules]]
          paths = ["/api/health"]
          policy = "bypass"
        [[routes]]
        name = "closed"
        "#,
    )
    .unwrap();
    let c = raw.validate().unwrap();
    assert_eq!(c.routes.len(), 2);
    assert_eq!(
        c.routes
            .choose("grafana.example.com", "/")
            .map(|r| r.name.as_str()),
        Some("grafana")
    );
    // A route without a policy takes default_policy: here deny, so it needs no upstream.
    let closed = c.routes.choose("other.example", "/").unwrap();
    assert_eq!(closed.policy, crate::policy::Policy::Deny);

    let mut raw = RawConfig::default();
    assert_eq!(
        raw.apply_toml("[[rutes]]\nname = \"x\"").unwrap_err().key,
        "rutes"
    );
}

#[test]
fn a_route_error_names_the_route_in_its_key() {
    let mut raw = RawConfig::default();
    let e = raw
        .apply_toml("[[routes]]\nname = \"grafana\"\nupstreem = \"h:1\"")
        .unwrap_err();
    assert!(e.key.contains("grafana"), "{e}");
    assert_eq!(e.to_string().lines().count(), 1);
    let mut raw = RawConfig::default();
    raw.apply_toml("[[routes]]\nname = \"grafana\"\npolicy = \"one_factor\"")
        .unwrap();
    let e = raw.validate().unwrap_err();
    assert_eq!(e.key, "routes.\"grafana\".upstream", "{e}");
    let e = RawConfig::default()
        .apply_toml("routes = \"all\"")
        .unwrap_err();
    assert_eq!(e.key, "routes", "{e}");
}

#[test]
fn registration_is_closed_unless_set_to_one_of_three_modes() {
    assert_eq!(validate(&[]).unwrap().registration, Registration::Closed);
    for (value, mode) in [
        ("closed", Registration::Closed),
        ("invite", Registration::Invite),
        ("open", Registration::Open),
    ] {
        let c = validate(&[("GATEHOUSE_REGISTRATION", value)]).unwrap();
        assert_eq!(c.registration, mode);
        assert_eq!(mode.as_str(), value);
    }
    // The old boolean spellings and near misses are refused, never read as a default.
    for bad in ["", "true", "false", "Open", "invites", "yes"] {
        let e = validate(&[("GATEHOUSE_REGISTRATION", bad)]).unwrap_err();
        assert!(e.key.contains("GATEHOUSE_REGISTRATION"), "{bad}: {e}");
        assert!(e.message.contains("closed, invite or open"), "{bad}: {e}");
    }
}

#[test]
fn registration_groups_are_group_names_sorted_without_repeats() {
    assert!(validate(&[]).unwrap().registration_groups.is_empty());
    let c = validate(&[("GATEHOUSE_REGISTRATION_GROUPS", "users, beta,users,")]).unwrap();
    assert_eq!(c.registration_groups, ["beta", "users"]);
    let mut raw = RawConfig::default();
    raw.apply_toml("registration_groups = [\"staff\", \"ops.eu-1\"]")
        .unwrap();
    assert_eq!(
        raw.validate().unwrap().registration_groups,
        ["ops.eu-1", "staff"]
    );
    for bad in ["Admins", "a b", "ops/x", &"g".repeat(65)] {
        let e = validate(&[("GATEHOUSE_REGISTRATION_GROUPS", bad)]).unwrap_err();
        assert!(
            e.key.contains("GATEHOUSE_REGISTRATION_GROUPS"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn a_flag_changes_a_default_but_never_a_value_that_was_given() {
    let mut raw = RawConfig::default();
    assert!(raw.default_to("registration", "open", "--demo-upstream"));
    assert_eq!(raw.validate().unwrap().registration, Registration::Open);

    for layer in ["environment", ".env"] {
        let mut raw = RawConfig::default();
        let env = HashMap::from([("GATEHOUSE_REGISTRATION".to_string(), "closed".to_string())]);
        raw.apply_env(&env, layer);
        assert!(!raw.default_to("registration", "open", "--demo-upstream"));
        assert_eq!(raw.validate().unwrap().registration, Registration::Closed);
    }
    let mut raw = RawConfig::default();
    raw.apply_toml("registration = \"invite\"").unwrap();
    assert!(!raw.default_to("registration", "open", "--demo-upstream"));
    assert_eq!(raw.validate().unwrap().registration, Registration::Invite);
    assert!(!RawConfig::default().default_to("no_such_key", "x", "test"));
}

#[test]
fn the_example_files_routes_compile_uncommented() {
    let example = include_str!("../../config/gatehouse.toml");
    let start = example.find("# [[routes]]").expect("a routes example");
    let uncommented: String = example[start..]
        .lines()
        .map(|l| l.trim_start().trim_start_matches('#').trim_start())
        .collect::<Vec<_>>()
        .join("\n");
    let mut raw = RawConfig::default();
    raw.apply_toml(&uncommented).unwrap();
    let config = raw.validate().unwrap();
    assert!(config.routes_configured);
    assert_eq!(config.routes.len(), 1);
}

#[test]
fn booleans_take_the_toml_spellings_and_the_usual_environment_ones_in_any_case() {
    for (value, expected) in [
        ("true", true),
        ("TRUE", true),
        ("Yes", true),
        ("on", true),
        ("1", true),
        (" true ", true),
        ("false", false),
        ("False", false),
        ("NO", false),
        ("Off", false),
        ("0", false),
    ] {
        assert_eq!(parse_bool(value), Some(expected), "{value}");
        let c = validate(&[("GATEHOUSE_COOKIE_SECURE", value)]).unwrap();
        assert_eq!(c.cookie_secure, expected, "{value}");
    }
    for bad in ["", "t", "y", "2", "enabled", "truee", "yes please"] {
        assert_eq!(parse_bool(bad), None, "{bad}");
        let e = validate(&[("GATEHOUSE_COOKIE_SECURE", bad)]).unwrap_err();
        assert!(e.key.contains("GATEHOUSE_COOKIE_SECURE"), "{bad}: {e}");
        assert!(e.message.contains("true or false"), "{bad}: {e}");
    }
    // What the file's own booleans become.
    let mut raw = RawConfig::default();
    raw.apply_toml("cookie_secure = false").unwrap();
    assert!(!raw.validate().unwrap().cookie_secure);
}

#[test]
fn a_log_filter_must_log_something_and_parse() {
    for fine in [
        "info",
        "WARN",
        "off",
        "warn,gatehouse=debug",
        "pingora_core=off,info",
        "gatehouse[request]=trace",
    ] {
        assert_eq!(parse_log_filter(fine), Ok(()), "{fine}");
        assert_eq!(validate(&[("GATEHOUSE_LOG", fine)]).unwrap().log, fine);
    }
    for (bad, says) in [
        ("warning", "did you mean warn?"),
        ("inf", "did you mean info?"),
        ("debgu", "did you mean debug?"),
        ("gatehouse", "for a module write gatehouse=debug"),
        ("info,verbose", "\"verbose\" is not a level"),
        ("gatehouse=loud", "not a log filter"),
        ("", "empty"),
        ("  ", "empty"),
    ] {
        let e = validate(&[("GATEHOUSE_LOG", bad)]).unwrap_err();
        assert!(e.key.contains("GATEHOUSE_LOG"), "{bad}: {e}");
        assert!(e.message.contains(says), "{bad}: {e}");
        assert_eq!(e.to_string().lines().count(), 1, "{e}");
    }
    let mut raw = RawConfig::default();
    raw.apply_toml("log = \"infoo\"").unwrap();
    assert!(raw
        .validate()
        .unwrap_err()
        .message
        .contains("did you mean info?"));
}

#[test]
fn an_unknown_variable_in_dotenv_or_with_a_lowercase_prefix_is_refused_too() {
    let dir = std::env::temp_dir().join(format!("gh-dotenv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dotenv = dir.join(".env");
    std::fs::write(
        &dotenv,
        "GATEHOUSE_ACCESS_TTL=5m\nGATEHOUSE_SESION_TTL=1d\n",
    )
    .unwrap();
    let e = RawConfig::load(None, Some(&dotenv), &HashMap::new()).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(e.key, "GATEHOUSE_SESION_TTL");
    assert!(e.message.contains("in the .env"), "{e}");
    assert!(
        e.message.contains("did you mean GATEHOUSE_SESSION_TTL?"),
        "{e}"
    );

    for (name, meant) in [
        ("gatehouse_log", "GATEHOUSE_LOG"),
        ("Gatehouse_Bcrypt_Cost", "GATEHOUSE_BCRYPT_COST"),
        ("GATEHOUSE_TRUSTED_PROXY", "GATEHOUSE_TRUSTED_PROXIES"),
        ("GATEHOUSE_JWT", "GATEHOUSE_JWT_SECRET"),
    ] {
        let env = HashMap::from([(name.to_string(), "x".to_string())]);
        let e = RawConfig::load(None, None, &env).unwrap_err();
        assert_eq!(e.key, name);
        assert!(
            e.message.contains(&format!("did you mean {meant}?")),
            "{name}: {e}"
        );
    }
    // Other programs' variables, and DATABASE_URL, are not gatehouse's to judge.
    let env = HashMap::from([
        ("GATEHOUSEKEEPER".to_string(), "x".to_string()),
        ("MY_GATEHOUSE_LOG".to_string(), "x".to_string()),
        ("DATABASE_URL".to_string(), "postgres://db/x".to_string()),
    ]);
    assert!(RawConfig::load(None, None, &env).is_ok());
}

#[test]
fn tls_takes_both_files_and_makes_the_derived_public_url_https() {
    let c = validate(&[
        ("GATEHOUSE_TLS_CERT", "/tls/cert.pem"),
        ("GATEHOUSE_TLS_KEY", "/tls/key.pem"),
        ("GATEHOUSE_LISTEN", "127.0.0.1:8443"),
    ])
    .unwrap();
    assert_eq!(c.public_url.as_str(), "https://127.0.0.1:8443");
    assert_eq!(
        c.tls.unwrap().cert,
        std::path::PathBuf::from("/tls/cert.pem")
    );
    let e = validate(&[("GATEHOUSE_TLS_CERT", "/tls/cert.pem")]).unwrap_err();
    assert!(e.key.contains("GATEHOUSE_TLS_KEY"), "{e}");
    let e = validate(&[("GATEHOUSE_TLS_KEY", "/tls/key.pem")]).unwrap_err();
    assert!(e.key.contains("GATEHOUSE_TLS_CERT"), "{e}");
    assert!(validate(&[]).unwrap().tls.is_none());
}

#[test]
fn the_redirect_listener_needs_an_https_public_url() {
    let e = validate(&[("GATEHOUSE_REDIRECT_LISTEN", "0.0.0.0:80")]).unwrap_err();
    assert!(e.key.contains("GATEHOUSE_REDIRECT_LISTEN"), "{e}");
    let c = validate(&[
        ("GATEHOUSE_REDIRECT_LISTEN", "0.0.0.0:80"),
        ("GATEHOUSE_PUBLIC_URL", "https://app.example.com"),
    ])
    .unwrap();
    assert_eq!(c.redirect_listen, Some("0.0.0.0:80".parse().unwrap()));
    let e = validate(&[
        ("GATEHOUSE_REDIRECT_LISTEN", "port 80"),
        ("GATEHOUSE_PUBLIC_URL", "https://app.example.com"),
    ])
    .unwrap_err();
    assert!(e.key.contains("GATEHOUSE_REDIRECT_LISTEN"), "{e}");
}

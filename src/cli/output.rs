//! What the console prints beyond each command's own answer: one line for an error (clap's
//! refusals included), one JSON document for `--json`, and no log lines around a result.

use super::Failure;

/// Prints one JSON document on its own line: `--json`'s output.
pub(crate) fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

/// The console's commands answer on stdout and fail in one line on stderr, so informational
/// lines around that answer are noise: PostgreSQL's `NOTICE: relation … already exists, skipping`
/// from the migration runner, "created database", "applying migration". They log warnings and
/// errors at most, whatever `GATEHOUSE_LOG` allows (a stricter filter is kept as it is); `serve`
/// logs as configured.
pub(super) fn console_log_filter(configured: &str) -> String {
    use tracing_subscriber::filter::{EnvFilter, LevelFilter};
    match EnvFilter::try_new(configured).map(|f| f.max_level_hint()) {
        Ok(Some(level)) if level <= LevelFilter::WARN => configured.to_string(),
        _ => "warn".to_string(),
    }
}

/// Turns clap's refusal (an error, a usage block and a hint, over several lines) into the one
/// line every other error is. `--help` and `--version` are not refusals and print as clap does.
pub fn usage_failure(e: &clap::Error) -> Option<Failure> {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return None;
    }
    let rendered = e.render().to_string();
    let before_usage = rendered.split("Usage:").next().unwrap_or_default();
    let mut line = String::new();
    for part in before_usage
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        if line.is_empty() {
            line.push_str(part.strip_prefix("error:").map_or(part, str::trim_start));
        } else {
            // "… were not provided:" introduces what follows; a "tip:" is a sentence of its own.
            line.push_str(if line.ends_with(':') { " " } else { "; " });
            line.push_str(part);
        }
    }
    Some(Failure::new(e.exit_code(), format!("{line} (see --help)")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    #[test]
    fn console_commands_log_warnings_at_most() {
        for (configured, console) in [
            ("info", "warn"),
            ("debug", "warn"),
            ("gatehouse=trace,warn", "warn"),
            ("warn", "warn"),
            ("error", "error"),
            ("off", "off"),
            ("warn,tokio_postgres=error", "warn,tokio_postgres=error"),
        ] {
            assert_eq!(console_log_filter(configured), console, "{configured}");
        }
    }

    #[test]
    fn a_usage_error_is_one_line_with_its_exit_status() {
        for args in [
            &[
                "gatehouse",
                "user",
                "add",
                "dave",
                "--password",
                "hunter2hunter2",
            ][..],
            &["gatehouse", "user", "add"],
            &["gatehouse", "sessions", "revoke", "x", "--user", "y"],
            &["gatehouse", "invite", "create", "--uses", "many"],
            &["gatehouse", "nonsense"],
        ] {
            let e = Cli::try_parse_from(args).unwrap_err();
            let failure = usage_failure(&e).unwrap();
            assert_eq!(failure.status, 2, "{args:?}");
            assert_eq!(
                failure.message.lines().count(),
                1,
                "{args:?}: {}",
                failure.message
            );
            assert!(!failure.message.starts_with("error"), "{}", failure.message);
            assert!(
                failure.message.ends_with("(see --help)"),
                "{}",
                failure.message
            );
        }
        let e = Cli::try_parse_from(["gatehouse", "user", "add"]).unwrap_err();
        assert!(usage_failure(&e).unwrap().message.contains("<NAME>"));
        let e = Cli::try_parse_from(["gatehouse", "--help"]).unwrap_err();
        assert!(usage_failure(&e).is_none(), "help is printed as clap does");
    }
}

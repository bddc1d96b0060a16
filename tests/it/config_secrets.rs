//! Configuration secrets: masked in whatever the process prints, however they are spelled, and
//! refused when they are the ones published with the code.

use std::process::Command;

use crate::harness::*;

/// Runs gatehouse in an empty directory with nothing but `env`: exit status, stdout, stderr.
fn run(env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    run_with_dotenv(None, env, args)
}

/// [`run`] in a directory holding `dotenv` as `.env`.
fn run_with_dotenv(
    dotenv: Option<&str>,
    env: &[(&str, &str)],
    args: &[&str],
) -> (i32, String, String) {
    let dir = std::env::temp_dir().join(format!("gh-sec-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    if let Some(text) = dotenv {
        std::fs::write(dir.join(".env"), text).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .current_dir(&dir)
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every password below contains it, so one search finds any piece of any of them.
const MARK: &str = "Sekr1t";

#[test]
fn no_spelling_of_a_database_password_is_printed() {
    let refusing = Refusing::new();
    let closed = refusing.port();
    let pg = pg_host();
    let urls = [
        format!("postgres://postgres:{MARK}-a@127.0.0.1:{closed}/gatehouse"),
        format!("postgresql://postgres:{MARK}-b@127.0.0.1:{closed}/gatehouse"),
        format!("postgres://postgres@127.0.0.1:{closed}/gatehouse?password={MARK}-c"),
        format!(
            "postgres://postgres@127.0.0.1:{closed}/gatehouse?connect_timeout=2&pass%77ord={MARK}-d"
        ),
        // tokio-postgres refuses the name in this case: the refusal must not quote it either.
        format!("postgres://postgres@127.0.0.1:{closed}/gatehouse?PassWord={MARK}-e"),
        format!(
            "host=127.0.0.1 port={closed} user=postgres dbname=gatehouse password = \
             '{MARK} f\\'{MARK}-g'"
        ),
        format!("host=127.0.0.1 port={closed} dbname=gatehouse password={MARK}-h"),
        // A server that answers with an error: the message names the URL.
        format!("postgres://postgres:{MARK}-i@{pg}/gh_never?options=-c%20no_such_setting%3D1"),
    ];
    for url in &urls {
        let env = [("DATABASE_URL", url.as_str()), ("GATEHOUSE_LOG", "debug")];
        let (code, stdout, stderr) = run(&env, &["config", "check"]);
        assert!(
            !stdout.contains(MARK) && !stderr.contains(MARK),
            "config check printed the password of {url}:\n{stdout}{stderr}"
        );
        if code == 0 {
            assert!(
                stdout.contains("DATABASE_URL=") && stdout.contains("***"),
                "{stdout}"
            );
        } else {
            assert_eq!(code, 2, "{url}: {stderr}");
        }

        // The start-up line, then the connection error.
        let (code, stdout, stderr) = run(&env, &["serve"]);
        assert!(
            !stdout.contains(MARK) && !stderr.contains(MARK),
            "serve printed the password of {url}:\n{stdout}{stderr}"
        );
        assert!(code == 1 || code == 2, "{url}: {code} {stderr}");
        if code == 1 {
            assert!(stderr.contains("effective configuration"), "{stderr}");
            let error = stderr.lines().last().unwrap_or_default();
            assert!(
                error.starts_with("gatehouse: ") && error.contains("***"),
                "{error}"
            );
        }
    }
}

#[test]
fn the_published_placeholder_key_stops_start_up_in_one_line() {
    let example = include_str!("../../.env.example");
    let placeholder = example
        .lines()
        .find_map(|l| l.strip_prefix("GATEHOUSE_JWT_SECRET="))
        .expect(".env.example has a GATEHOUSE_JWT_SECRET line");
    let pg = format!("postgres://postgres@{}/gatehouse", pg_host());
    // Set in the environment, or by the quick start's `cp .env.example .env`.
    for (dotenv, env) in [
        (
            None,
            vec![("GATEHOUSE_JWT_SECRET", placeholder), ("DATABASE_URL", &pg)],
        ),
        (Some(example), vec![("DATABASE_URL", pg.as_str())]),
    ] {
        for args in [&["serve"][..], &["config", "check"], &["migrate"]] {
            let (code, stdout, stderr) = run_with_dotenv(dotenv, &env, args);
            assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
            assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
            assert!(
                stderr.contains("GATEHOUSE_JWT_SECRET") && stderr.contains(".env.example"),
                "{stderr}"
            );
            assert!(stdout.is_empty(), "{stdout}");
        }
    }
}

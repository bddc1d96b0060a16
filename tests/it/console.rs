//! What the console shows (docs/contract.md §1): success is quiet, with the result on stdout
//! and nothing on stderr whatever the log filter; an error is one line on stderr; passwords
//! are typed without echo on a terminal or read as one line with `--password-stdin`, never
//! taken from an argument; `--json` prints JSON wherever there is a result and is refused
//! where there is none; `migrate` says what it applied; the configuration checks name what is
//! wrong.

use std::process::Command;

use serde_json::Value;

use crate::harness::*;

/// Runs `gatehouse ARGS` and expects success in silence: exit 0, nothing on stderr, the
/// result on stdout.
fn quiet(gw: &Gateway, args: &[&str], stdin: &str) -> String {
    let (code, out, err) = gw.cli(args, stdin);
    assert_eq!(code, 0, "{args:?}: {out}{err}");
    assert_eq!(err, "", "{args:?} wrote on stderr");
    assert!(!out.is_empty(), "{args:?} printed no result");
    out
}

/// Runs `gatehouse ARGS` and expects exit `status` with one line on stderr (`gatehouse: …`)
/// and nothing on stdout; returns that line.
fn one_line_error(gw: &Gateway, status: i32, args: &[&str], stdin: &str) -> String {
    let (code, out, err) = gw.cli(args, stdin);
    assert_eq!(code, status, "{args:?}: {out}{err}");
    assert_eq!(out, "", "{args:?}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(
        err.starts_with("gatehouse: ") && err.ends_with('\n'),
        "{err:?}"
    );
    err
}

fn usernames(gw: &Gateway) -> Vec<String> {
    let out = quiet(gw, &["user", "list", "--json"], "");
    let users: Value = serde_json::from_str(&out).unwrap();
    users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn every_command_family_succeeds_quietly_even_with_a_debug_log_filter() {
    // The CLI inherits the gateway's settings, this filter included: the migration runner's
    // PostgreSQL notices and its "applying migration" lines are info, the driver's debug.
    let gw = Gateway::start_env(&[("GATEHOUSE_LOG", "debug")]).await;
    let user = quiet(
        &gw,
        &["user", "add", "alice", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(user.starts_with("created user alice ("), "{user}");
    let jar = gw.login("alice", PASSWORD).await.jar();
    assert!(quiet(&gw, &["user", "list"], "").contains("alice"));
    quiet(
        &gw,
        &["user", "passwd", "alice", "--password-stdin"],
        "another long one\n",
    );
    quiet(&gw, &["user", "disable", "alice"], "");
    quiet(&gw, &["user", "enable", "alice"], "");
    let _ = gw.login("alice", "another long one").await.jar();
    assert!(quiet(&gw, &["sessions", "list"], "").contains("alice"));
    let revoked = quiet(&gw, &["sessions", "revoke", "--user", "alice"], "");
    assert!(revoked.contains("revoked 1 session"), "{revoked}");
    assert_eq!(gw.get("/app", &jar).await.status, 401);
    quiet(&gw, &["group", "create", "ops"], "");
    quiet(&gw, &["group", "add", "ops", "alice"], "");
    assert!(quiet(&gw, &["group", "list"], "").contains("ops"));
    quiet(&gw, &["group", "remove", "ops", "alice"], "");
    quiet(&gw, &["group", "delete", "ops"], "");
    let invite = quiet(&gw, &["invite", "create"], "");
    let id = invite
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_end_matches(':');
    assert!(quiet(&gw, &["invite", "list"], "").contains(id));
    quiet(&gw, &["invite", "revoke", id], "");
    assert!(quiet(&gw, &["config", "check"], "").starts_with("configuration is valid"));
    quiet(&gw, &["policy", "check", "/app", "--user", "alice"], "");
    assert!(quiet(&gw, &["migrate"], "").contains("no migrations pending"));
}

#[tokio::test]
async fn every_error_is_one_line_on_stderr() {
    let gw = Gateway::start().await;
    quiet(&gw, &["user", "add", "alice", "--password-stdin"], PASSWORD);
    for (status, args, says) in [
        (
            1,
            &["user", "disable", "nobody"][..],
            "no such user: nobody",
        ),
        (
            1,
            &["user", "add", "alice", "--password-stdin"],
            "already exists",
        ),
        (1, &["user", "add", "x", "--password-stdin"], "username"),
        (1, &["group", "create", "Bad Name"], "invalid group name"),
        (1, &["group", "delete", "nogroup"], "no such group"),
        (1, &["sessions", "revoke", "not-a-uuid"], "not a session id"),
        // clap's refusals, which it spreads over a usage block, are one line too.
        (2, &["user", "add"], "<NAME>"),
        (2, &["user", "frobnicate"], "frobnicate"),
        (2, &["sessions", "revoke", "--user"], "--user"),
        (2, &["invite", "create", "--uses", "many"], "many"),
        (
            2,
            &["invite", "create", "--expires", "soon"],
            "not a duration",
        ),
    ] {
        let err = one_line_error(&gw, status, args, PASSWORD);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn password_stdin_reads_one_line_and_takes_off_only_its_line_ending() {
    let gw = Gateway::start().await;
    let password = "  spaced out password\t";
    quiet(
        &gw,
        &["user", "add", "alice", "--password-stdin"],
        &format!("{password}\nthe second line is not read\n"),
    );
    assert_eq!(gw.login("alice", password).await.status, 200);
    assert_eq!(gw.login("alice", password.trim()).await.status, 401);

    quiet(
        &gw,
        &["user", "passwd", "alice", "--password-stdin"],
        "from windows\r\n",
    );
    assert_eq!(gw.login("alice", "from windows").await.status, 200);

    let err = one_line_error(&gw, 1, &["user", "passwd", "alice", "--password-stdin"], "");
    assert!(err.contains("no password on standard input"), "{err}");
    let err = one_line_error(&gw, 1, &["user", "add", "bob", "--password-stdin"], "\n");
    assert!(
        err.contains("at least 8"),
        "an empty line is refused by the rules: {err}"
    );
    assert_eq!(
        gw.login("alice", "from windows").await.status,
        200,
        "nothing changed"
    );
}

#[tokio::test]
async fn without_a_terminal_or_password_stdin_the_password_commands_fail_at_once() {
    let gw = Gateway::start().await;
    quiet(&gw, &["user", "add", "alice", "--password-stdin"], PASSWORD);
    // Standard input is a pipe, and it holds a password: still not read without the flag.
    for args in [&["user", "add", "bob"][..], &["user", "passwd", "alice"]] {
        let err = one_line_error(&gw, 2, args, "a long password\n");
        assert!(
            err.contains("not a terminal") && err.contains("--password-stdin"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(usernames(&gw), ["alice"]);
    assert_eq!(gw.login("alice", PASSWORD).await.status, 200);
}

#[tokio::test]
async fn a_password_is_never_taken_from_an_argument() {
    let gw = Gateway::start().await;
    for args in [
        &["user", "add", "dave", "--password", "hunter2hunter2"][..],
        &["user", "add", "dave", "--password=hunter2hunter2"],
        &["user", "add", "dave", "hunter2hunter2"],
        &["user", "add", "dave", "-p", "hunter2hunter2"],
    ] {
        let err = one_line_error(&gw, 2, args, "");
        assert!(err.contains("unexpected argument"), "{args:?}: {err}");
    }
    assert!(usernames(&gw).is_empty());
}

#[tokio::test]
async fn on_a_terminal_user_add_asks_twice_and_never_shows_the_password() {
    let gw = Gateway::start().await;
    let mut tty = gw.terminal(&["user", "add", "alice"]);
    tty.answer("New password for alice: ", 1, PASSWORD);
    tty.answer("Repeat it: ", 1, PASSWORD);
    let (code, screen) = tty.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("created user alice"), "{screen}");
    assert!(
        !screen.contains(PASSWORD),
        "the password was shown:\n{screen}"
    );
    assert!(
        !screen.contains("correct"),
        "no part of it was shown:\n{screen}"
    );
    assert_eq!(gw.login("alice", PASSWORD).await.status, 200);
}

#[tokio::test]
async fn on_a_terminal_two_different_passwords_change_nothing() {
    let gw = Gateway::start().await;
    quiet(&gw, &["user", "add", "alice", "--password-stdin"], PASSWORD);
    let jar = gw.login("alice", PASSWORD).await.jar();

    let mut tty = gw.terminal(&["user", "passwd", "alice"]);
    tty.answer("New password for alice: ", 1, "first new password");
    tty.answer("Repeat it: ", 1, "second new password");
    let (code, screen) = tty.finish();
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("do not match"), "{screen}");
    assert!(!screen.contains("new password"), "{screen}");
    assert_eq!(
        gw.get("/app", &jar).await.status,
        200,
        "no session was revoked"
    );
    assert_eq!(gw.login("alice", PASSWORD).await.status, 200);

    let mut tty = gw.terminal(&["user", "add", "bob"]);
    tty.answer("New password for bob: ", 1, "short");
    let (code, screen) = tty.finish();
    assert_eq!(code, 1, "{screen}");
    assert!(
        screen.contains("at least 8"),
        "refused before the repeat: {screen}"
    );
    assert!(!screen.contains("Repeat it"), "{screen}");
    assert_eq!(usernames(&gw), ["alice"]);
}

#[tokio::test]
async fn json_is_printed_by_every_command_with_a_result() {
    let gw = Gateway::start().await;
    let json = |args: &[&str], stdin: &str| -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = quiet(&gw, &all, stdin);
        assert_eq!(out.lines().count(), 1, "one document on one line: {out}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    };
    let added = json(&["user", "add", "alice", "--password-stdin"], PASSWORD);
    assert_eq!(added["username"], "alice");
    let id = added["id"].as_str().unwrap().to_string();
    let _jar = gw.login("alice", PASSWORD).await.jar();
    assert_eq!(json(&["user", "list"], "")[0]["id"], id.as_str());
    let changed = json(
        &["user", "passwd", "alice", "--password-stdin"],
        "new long password",
    );
    assert_eq!(
        (changed["id"].as_str(), changed["revoked_sessions"].as_u64()),
        (Some(id.as_str()), Some(1))
    );
    assert_eq!(json(&["user", "disable", "alice"], "")["disabled"], true);
    assert_eq!(json(&["user", "enable", "alice"], "")["disabled"], false);
    let _jar = gw.login("alice", "new long password").await.jar();
    let sessions = json(&["sessions", "list", "alice"], "");
    let sid = sessions[0]["id"].as_str().unwrap().to_string();
    let revoked = json(&["sessions", "revoke", &sid], "");
    assert_eq!(revoked["session_id"], sid.as_str());
    assert_eq!(
        json(&["sessions", "revoke", "--user", "alice"], "")["revoked_sessions"],
        0
    );
    assert_eq!(json(&["group", "create", "ops"], "")["name"], "ops");
    assert_eq!(json(&["group", "add", "ops", "alice"], "")["added"], 1);
    assert_eq!(json(&["group", "list"], "")[0]["members"], 1);
    assert_eq!(json(&["group", "remove", "ops", "alice"], "")["removed"], 1);
    assert_eq!(json(&["group", "delete", "ops"], "")["deleted"], true);
    let invite = json(&["invite", "create"], "");
    let invite_id = invite["id"].as_str().unwrap().to_string();
    assert_eq!(json(&["invite", "list"], "")[0]["id"], invite_id.as_str());
    assert_eq!(
        json(&["invite", "revoke", &invite_id], "")["state"],
        "revoked"
    );
    assert_eq!(json(&["config", "check"], "")["valid"], true);
    let decided = json(&["policy", "check", "/app", "--user", "alice"], "");
    assert_eq!(decided["decision"], "forward");
    assert_eq!(json(&["migrate"], "")["applied"], serde_json::json!([]));
}

#[test]
fn json_is_refused_where_nothing_is_printed() {
    // `serve` prints no result: refused before it reads the configuration or listens.
    for args in [
        &["--json"][..],
        &["serve", "--json"],
        &["--json", "serve", "--demo-upstream"],
    ] {
        let (code, out, err) = run_in(&Dir::new(), &[], args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert_eq!(out, "");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("--json") && err.contains("serve"), "{err}");
    }
}

/// A database nobody has made yet, dropped when the test ends.
struct FreshDatabase(String);

impl FreshDatabase {
    fn url(&self) -> String {
        format!("postgres://postgres@{}/{}", pg_host(), self.0)
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let name = self.0.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let url = format!("postgres://postgres@{}/postgres", pg_host());
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&url, tokio_postgres::NoTls).await
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

#[test]
fn migrate_says_what_it_applied_and_then_that_nothing_is_pending() {
    let db = FreshDatabase(format!("gh_test_{}", uuid::Uuid::new_v4().simple()));
    let url = db.url();
    let env = [("DATABASE_URL", url.as_str()), ("GATEHOUSE_LOG", "info")];
    let dir = Dir::new();

    let (code, out, err) = run_in(&dir, &env, &["migrate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(err, "", "no NOTICE and no log line");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("created database {}", db.0));
    assert_eq!(lines[1], "applied V1__init");
    assert!(
        lines[2..].iter().all(|l| l.starts_with("applied V")),
        "{out}"
    );
    let latest = lines
        .last()
        .unwrap()
        .trim_start_matches("applied ")
        .to_string();

    let (code, out, err) = run_in(&dir, &env, &["migrate"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        format!("no migrations pending: database {} is at {latest}\n", db.0)
    );
    let (code, out, err) = run_in(&dir, &env, &["migrate", "--json"]);
    assert_eq!((code, err.as_str()), (0, ""));
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        report,
        serde_json::json!({"database": db.0, "created": false, "applied": [], "latest": latest})
    );
}

/// An empty working directory of its own, removed when the test ends.
struct Dir(std::path::PathBuf);

impl Dir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("gh-con-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn with(self, file: &str, text: &str) -> Self {
        std::fs::write(self.0.join(file), text).unwrap();
        self
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs gatehouse in `dir` with nothing but `env`: exit status, stdout, stderr.
fn run_in(dir: &Dir, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .current_dir(&dir.0)
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `config check` in `dir`: a configuration error is exit 2 and one line naming the setting.
fn refused(dir: &Dir, env: &[(&str, &str)]) -> String {
    let (code, out, err) = run_in(dir, env, &["config", "check"]);
    assert_eq!(code, 2, "{env:?}: {out}{err}");
    assert_eq!(out, "");
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn an_unknown_variable_names_the_closest_setting_from_the_environment_or_dotenv() {
    let err = refused(&Dir::new(), &[("GATEHOUSE_SESION_TTL", "1d")]);
    assert!(
        err.contains("GATEHOUSE_SESION_TTL") && err.contains("did you mean GATEHOUSE_SESSION_TTL?"),
        "{err}"
    );
    let dir = Dir::new().with(
        ".env",
        "GATEHOUSE_COOKIE_SECURE=false\nGATEHOUSE_LOGG=debug\n",
    );
    let err = refused(&dir, &[]);
    assert!(
        err.contains("GATEHOUSE_LOGG")
            && err.contains(".env")
            && err.contains("did you mean GATEHOUSE_LOG?"),
        "{err}"
    );
    let err = refused(&Dir::new(), &[("gatehouse_log", "debug")]);
    assert!(err.contains("did you mean GATEHOUSE_LOG?"), "{err}");
}

#[test]
fn a_log_filter_that_would_log_nothing_useful_is_refused() {
    for (filter, says) in [
        ("warning", "did you mean warn?"),
        ("inf", "did you mean info?"),
        ("gatehouse=loud", "not a log filter"),
        ("", "empty"),
    ] {
        let err = refused(&Dir::new(), &[("GATEHOUSE_LOG", filter)]);
        assert!(
            err.contains("GATEHOUSE_LOG") && err.contains(says),
            "{filter}: {err}"
        );
    }
    for fine in ["debug", "WARN", "info,gatehouse=debug", "off"] {
        let (code, _, err) = run_in(
            &Dir::new(),
            &[("GATEHOUSE_LOG", fine)],
            &["config", "check"],
        );
        assert_eq!(code, 0, "{fine}: {err}");
    }
}

#[test]
fn booleans_take_the_tomls_spellings_and_the_usual_environment_ones_in_any_case() {
    for (value, shown) in [
        ("TRUE", "true"),
        ("Yes", "true"),
        ("on", "true"),
        ("1", "true"),
        ("False", "false"),
        ("NO", "false"),
        ("off", "false"),
        ("0", "false"),
    ] {
        let (code, out, err) = run_in(
            &Dir::new(),
            &[("GATEHOUSE_COOKIE_SECURE", value)],
            &["config", "check"],
        );
        assert_eq!(code, 0, "{value}: {err}");
        assert!(
            out.contains(&format!("GATEHOUSE_COOKIE_SECURE={shown}\n")),
            "{value}: {out}"
        );
    }
    let err = refused(&Dir::new(), &[("GATEHOUSE_COOKIE_SECURE", "sometimes")]);
    assert!(
        err.contains("GATEHOUSE_COOKIE_SECURE") && err.contains("yes/no"),
        "{err}"
    );
    let dir = Dir::new().with("gatehouse.toml", "cookie_secure = false\n");
    let (code, out, _) = run_in(
        &dir,
        &[],
        &["--config", "gatehouse.toml", "config", "check"],
    );
    assert_eq!(code, 0);
    assert!(out.contains("GATEHOUSE_COOKIE_SECURE=false\n"), "{out}");
}

#[test]
fn config_check_names_the_files_it_read_or_says_it_found_none() {
    let dir = Dir::new();
    let (code, out, err) = run_in(&dir, &[], &["config", "check"]);
    assert_eq!((code, err.as_str()), (0, ""));
    let here = dir.0.canonicalize().unwrap().display().to_string();
    assert!(
        out.contains(&format!(
            "config file: none (no --config, and no config/gatehouse.toml in {here})\n"
        )) && out.contains(&format!(".env file: none (no .env in {here})\n")),
        "{out}"
    );

    let dir = Dir::new()
        .with(".env", "GATEHOUSE_BCRYPT_COST=5\n")
        .with("my.toml", "access_ttl = \"5m\"\n");
    let (code, out, err) = run_in(&dir, &[], &["--config", "my.toml", "config", "check"]);
    assert_eq!((code, err.as_str()), (0, ""));
    let here = dir.0.canonicalize().unwrap().display().to_string();
    assert!(
        out.contains(&format!("config file: {here}/my.toml\n")),
        "{out}"
    );
    assert!(out.contains(&format!(".env file: {here}/.env\n")), "{out}");
    assert!(
        out.contains("GATEHOUSE_BCRYPT_COST=5\n") && out.contains("GATEHOUSE_ACCESS_TTL=300s\n"),
        "{out}"
    );
    let (_, out, _) = run_in(
        &dir,
        &[],
        &["--config", "my.toml", "config", "check", "--json"],
    );
    let checked: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(checked["config_file"], format!("{here}/my.toml"));
    assert_eq!(checked["dotenv_file"], format!("{here}/.env"));
}

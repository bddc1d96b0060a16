//! The process: bad configuration, an unreachable database, readiness and shutdown.

use std::process::Command;

use crate::harness::*;

fn run(env: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("gh-cfg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.current_dir(&dir).env_clear().args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_configuration_exits_2_with_one_line_naming_the_key() {
    for (key, value) in [
        ("GATEHOUSE_ACCESS_TTL", "15x"),
        ("GATEHOUSE_JWT_SECRET", "too-short"),
        ("GATEHOUSE_BCRYPT_COST", "99"),
        ("GATEHOUSE_LISTEN", "nowhere"),
        ("GATEHOUSE_REGISTRATION", "maybe"),
        ("GATEHOUSE_REGISTRATION", "true"),
        ("GATEHOUSE_REGISTRATION_GROUPS", "staff,Admins"),
        ("GATEHOUSE_COOKIE_SECURE", "sometimes"),
        ("GATEHOUSE_TRUSTED_PROXIES", "10.0.0.0/99"),
        ("GATEHOUSE_UPSTREAM", "ftp://x:1"),
        ("DATABASE_URL", "mysql://nope"),
    ] {
        let (code, stderr) = run(&[(key, value)], &[]);
        assert_eq!(code, 2, "{key}={value}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{key}: {stderr}");
        assert!(stderr.contains(key), "{key}: {stderr}");
    }
}

/// Routes and policies are checked but not yet enforced: serving them would fail open.
#[test]
fn an_unknown_key_in_the_config_file_exits_2() {
    let path = std::env::temp_dir().join(format!("gh-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, "acess_ttl = \"15m\"\n").unwrap();
    let (code, stderr) = run(
        &[],
        &["--config", path.to_str().unwrap(), "config", "check"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("acess_ttl"), "{stderr}");
}

#[test]
fn an_unreachable_database_is_one_clear_line() {
    let port = free_port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/gatehouse");
    let (code, stderr) = run(
        &[("DATABASE_URL", &url), ("GATEHOUSE_LOG", "off")],
        &["migrate"],
    );
    assert_eq!(code, 1);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot reach PostgreSQL") && stderr.contains(&url),
        "{stderr}"
    );
}

#[tokio::test]
async fn sigterm_drains_and_exits_0() {
    let mut gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    // A request in flight when the signal arrives still completes.
    let slow = {
        let http = gw.http.clone();
        let url = gw.url("/slow?sleep_ms=1500");
        let cookie = jar.header();
        tokio::spawn(async move { send(http.get(url).header("cookie", cookie)).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let code = tokio::task::spawn_blocking(move || gw.terminate())
        .await
        .unwrap();
    assert_eq!(slow.await.unwrap().status, 200);
    assert_eq!(code, Some(0));
}

#[tokio::test]
async fn the_database_is_created_and_migrated_on_start() {
    let gw = Gateway::start().await;
    let applied: i64 = gw
        .db()
        .await
        .query_one("SELECT count(*) FROM refinery_schema_history", &[])
        .await
        .unwrap()
        .get(0);
    assert!(applied >= 1);
}

#[test]
fn instances_starting_together_migrate_one_at_a_time() {
    let db = format!("gh_test_{}", uuid::Uuid::new_v4().simple());
    let url = format!("postgres://postgres@{}/{db}", pg_host());
    let runs: Vec<_> = (0..3)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_gatehouse"))
                .current_dir(std::env::temp_dir())
                .env_clear()
                .env("DATABASE_URL", &url)
                .env("GATEHOUSE_LOG", "warn")
                .arg("migrate")
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let results: Vec<_> = runs
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let host = pg_host();
    let host = host.split(':').next().unwrap_or("127.0.0.1");
    let _ = Command::new("psql")
        .args(["-q", "-h", host, "-U", "postgres", "-c"])
        .arg(format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
        .arg("postgres")
        .status();
    for out in results {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test]
async fn readyz_turns_503_while_draining() {
    let mut gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    assert_eq!(
        send(gw.http.get(format!("{}/readyz", gw.admin)))
            .await
            .status,
        200
    );
    let slow = {
        let http = gw.http.clone();
        let url = gw.url("/slow?sleep_ms=2000");
        let cookie = jar.header();
        tokio::spawn(async move { send(http.get(url).header("cookie", cookie)).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let pid = gw.pid().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let mut saw_draining = false;
    for _ in 0..100 {
        match gw.http.get(format!("{}/readyz", gw.admin)).send().await {
            Ok(r) if r.status() == 503 => {
                saw_draining = true;
                break;
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
    assert!(saw_draining, "readyz reported draining");
    assert_eq!(slow.await.unwrap().status, 200);
    let code = tokio::task::spawn_blocking(move || gw.terminate())
        .await
        .unwrap();
    assert_eq!(code, Some(0));
}

#[tokio::test]
async fn a_new_binary_takes_over_the_sockets_without_refusing_requests() {
    let mut old = Gateway::start().await;
    let jar = old.signup("alice").await;
    let log =
        std::env::temp_dir().join(format!("gh-upgrade-{}.log", uuid::Uuid::new_v4().simple()));
    let mut new = old.spawn_twin(&["serve", "--upgrade"], &log);
    // Let the new process reach the point where it waits for the sockets.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let old_pid = old.pid().to_string();
    let _ = Command::new("kill").args(["-QUIT", &old_pid]).status();
    // Requests keep being answered through the hand-over and after the old process is gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut served = 0;
    let mut old_exit = None;
    // A connection per request: what must not be refused is a new connection. A kept-alive
    // one may be closed by the old process as it drains, and a client then reconnects.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    while std::time::Instant::now() < deadline {
        let r = send(fresh.get(old.url("/app")).with(&jar)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        served += 1;
        if old_exit.is_none() {
            old_exit = old.try_exit();
        } else if served > 20 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = new.kill();
    let _ = new.wait();
    let new_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        old_exit,
        Some(Some(0)),
        "the old process drained and exited; new: {new_log}"
    );
    assert!(new_log.contains("gatehouse listening"), "{new_log}");
}

#[tokio::test]
async fn an_idle_gateway_answers_readyz_503_before_closing_on_sigterm() {
    let mut gw = Gateway::start().await;
    let readyz = format!("{}/readyz", gw.admin);
    assert_eq!(send(gw.http.get(&readyz)).await.status, 200);
    let _ = Command::new("kill")
        .args(["-TERM", &gw.pid().to_string()])
        .status();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let r = gw.http.get(&readyz).send().await;
    assert_eq!(
        r.map(|r| r.status().as_u16()).ok(),
        Some(503),
        "readyz must say 503 before the port closes"
    );
    let code = tokio::task::spawn_blocking(move || gw.terminate())
        .await
        .unwrap();
    assert_eq!(code, Some(0));
}

#[tokio::test]
async fn readyz_answers_503_in_bounded_time_when_the_database_hangs() {
    let gw = Gateway::start_with_relay().await;
    let readyz = format!("{}/readyz", gw.admin);
    assert_eq!(send(gw.http.get(&readyz)).await.status, 200);
    gw.relay().stall();
    let started = std::time::Instant::now();
    let r = send(gw.http.get(&readyz)).await;
    assert_eq!(r.status, 503);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_route_whose_upstream_does_not_resolve_stops_serve_naming_it() {
    let dir =
        std::env::temp_dir().join(format!("gh-routes-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(
        &dir,
        "[[routes]]\nname = \"wiki\"\nupstream = \"http://no-such-host.invalid:80\"\n",
    )
    .unwrap();
    let (code, stderr) = run(
        &[("GATEHOUSE_LOG", "off")],
        &["--config", dir.to_str().unwrap(), "serve"],
    );
    let _ = std::fs::remove_file(&dir);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("route \"wiki\""), "{stderr}");
}

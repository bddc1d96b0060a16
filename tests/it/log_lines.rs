//! Logs that answer: no colour codes off a terminal, JSON fields at the top level without the
//! build machine's paths, an access line naming the request, and one `warn` line for each
//! refused sign-in and each upstream failure.

use serde_json::{json, Value};

use crate::harness::*;

fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Lines a log watcher would act on.
fn complaints(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect()
}

async fn login_from(gw: &Gateway, ip: &str, username: &str, password: &str) -> Resp {
    // The harness connects from 127.0.0.1, a trusted proxy by default: the address it
    // forwards is the client's.
    send(
        gw.req("POST", "/auth/login")
            .header("x-forwarded-for", ip)
            .json(&json!({ "username": username, "password": password })),
    )
    .await
}

#[tokio::test]
async fn text_logs_written_to_a_file_have_no_colour_codes_and_one_line_per_event() {
    // At debug, Pingora's own lines (through the `log` bridge) are among them.
    let gw = Gateway::start_env(&[("GATEHOUSE_LOG", "debug")]).await;
    let jar = gw.signup("alice").await;
    assert_eq!(gw.get("/app", &jar).await.status, 200);
    assert_eq!(gw.login("alice", "not the password").await.status, 401);
    let log = gw.log_once("sign-in failed").await;
    assert!(log.contains(" WARN "), "{log}");
    assert!(
        log.lines().any(|l| l.contains(" pingora_")),
        "Pingora's lines are in the log:\n{log}"
    );
    assert!(!log.contains('\u{1b}'), "an escape code in the log:\n{log}");
    // Every line is an event of its own, starting with its time: refinery's list of the
    // migrations it applied, one per line in its message, included.
    for line in log.lines() {
        let stamp = line.get(..20).unwrap_or_default();
        assert!(
            stamp.len() == 20 && stamp.as_bytes()[10] == b'T' && stamp.starts_with("20"),
            "a line that is no event of its own: {line}"
        );
    }
    assert!(log.contains("V1__init\\n"), "{log}");
}

#[tokio::test]
async fn json_lines_hold_their_fields_at_the_top_level_and_no_source_paths() {
    let gw =
        Gateway::start_env(&[("GATEHOUSE_LOG_FORMAT", "json"), ("GATEHOUSE_LOG", "debug")]).await;
    let jar = gw.signup("alice").await;
    assert_eq!(gw.get("/app", &jar).await.status, 200);
    assert_eq!(
        login_from(&gw, "203.0.113.7", "alice", "not the password")
            .await
            .status,
        401
    );
    let log = gw.log_once("sign-in failed").await;
    let lines = json_lines(&log);
    for line in &lines {
        let object = line.as_object().expect("each line is an object");
        for key in ["timestamp", "level", "target", "message"] {
            assert!(object.contains_key(key), "no {key}: {line}");
        }
        for key in object.keys() {
            assert!(
                !key.starts_with("log.")
                    && !["fields", "file", "filename", "line", "line_number"]
                        .contains(&key.as_str()),
                "{key} in {line}"
            );
        }
    }
    for path in [
        "/root/",
        "/home/",
        "/work/",
        ".cargo/",
        env!("CARGO_MANIFEST_DIR"),
    ] {
        assert!(!log.contains(path), "{path} in the log:\n{log}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l["target"].as_str().unwrap().starts_with("pingora")),
        "Pingora's records, under their own target:\n{log}"
    );
    let failed = lines
        .iter()
        .find(|l| l["message"] == "sign-in failed")
        .unwrap();
    assert_eq!(failed["level"], "WARN");
    assert_eq!(failed["username"], "alice");
    assert_eq!(failed["ip"], "203.0.113.7");
    assert_eq!(failed["reason"], "wrong_password");
}

#[tokio::test]
async fn the_access_line_names_the_request_and_who_made_it() {
    let gw = Gateway::start_env(&[("GATEHOUSE_LOG_FORMAT", "json")]).await;
    let jar = gw.signup("alice").await;
    let me = gw.get("/auth/me", &jar).await.json();
    let r = send(
        gw.req("GET", "/app/page?q=needle-in-the-query")
            .with(&jar)
            .header("x-request-id", "trace-me-42")
            .header("x-forwarded-for", "198.51.100.9"),
    )
    .await;
    assert_eq!(r.status, 200);
    let log = gw.log_once("trace-me-42").await;
    let lines = json_lines(&log);
    let access = lines
        .iter()
        .find(|l| l["request_id"] == "trace-me-42")
        .unwrap_or_else(|| panic!("an access line for the request:\n{log}"));
    assert_eq!(access["target"], "access");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["path"], "/app/page");
    assert_eq!(access["class"], "proxy");
    assert_eq!(access["route"], "default");
    assert_eq!(access["status"], 200);
    assert_eq!(access["ip"], "198.51.100.9");
    assert_eq!(access["user_id"], me["user"]["id"]);
    assert_eq!(access["session_id"], me["session"]["id"]);
    assert!(access["latency_ms"].is_number(), "{access}");
    assert!(
        !log.contains("needle-in-the-query"),
        "the query is not logged"
    );
    assert!(lines
        .iter()
        .any(|l| l["message"] == "effective configuration"));
}

#[tokio::test]
async fn a_failed_sign_in_is_one_warn_line_with_the_address_the_name_and_the_reason() {
    let gw = Gateway::start().await;
    gw.signup("alice").await;
    let r = login_from(&gw, "203.0.113.7", "alice", "not the password").await;
    assert_eq!(r.status, 401);
    let log = gw.log_once("sign-in failed").await;
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("sign-in failed"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains(" WARN auth: "), "{}", lines[0]);
    // The format the README's fail2ban filter reads.
    assert!(
        lines[0]
            .ends_with("sign-in failed ip=203.0.113.7 username=\"alice\" reason=wrong_password"),
        "{}",
        lines[0]
    );
    assert!(!log.contains("not the password"));
}

#[tokio::test]
async fn a_tried_name_cannot_forge_a_log_line() {
    let gw = Gateway::start().await;
    let forged = "mallory\n2026-01-01T00:00:00.000000Z  WARN auth: sign-in failed \
                  ip=198.51.100.1 username=\"x\" reason=wrong_password\u{1b}[31m";
    let r = login_from(&gw, "203.0.113.7", forged, "not the password").await;
    assert_eq!(r.status, 401);
    let log = gw.log_once("sign-in failed").await;
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("sign-in failed"))
        .collect();
    assert_eq!(lines.len(), 1, "the name stayed on its line:\n{log}");
    assert!(
        lines[0].contains("ip=203.0.113.7 username=\"mallory\\n2026-01-01"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("reason=invalid_username"), "{}", lines[0]);
    assert!(!log.contains('\u{1b}'), "{log}");
}

#[tokio::test]
async fn an_unknown_user_is_audited_with_the_name_that_was_tried() {
    let gw = Gateway::start().await;
    gw.signup("alice").await;
    assert_eq!(
        login_from(&gw, "203.0.113.7", "nobody-here", PASSWORD)
            .await
            .status,
        401
    );
    assert_eq!(
        login_from(&gw, "203.0.113.8", "alice", "not the password")
            .await
            .status,
        401
    );
    let rows = gw
        .db()
        .await
        .query(
            "SELECT username, user_id IS NULL, host(ip), detail FROM auth_events
             WHERE kind = 'login_failed' ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let rows: Vec<(String, bool, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        rows,
        [
            (
                "nobody-here".to_string(),
                true,
                "203.0.113.7".to_string(),
                "unknown user".to_string()
            ),
            (
                "alice".to_string(),
                false,
                "203.0.113.8".to_string(),
                "wrong password".to_string()
            ),
        ]
    );
}

/// One request whose upstream fails, and the log once its access line (the request's last)
/// is written.
async fn failing_request(gw: &Gateway, path: &str, want: u16) -> String {
    let r = send(
        gw.req("GET", path)
            .header("x-request-id", "upstream-fails-1"),
    )
    .await;
    assert_eq!(r.status, want, "{}", r.text());
    let bare = path.split('?').next().unwrap_or(path);
    gw.log_once(&format!("path=\"{bare}\"")).await
}

#[tokio::test]
async fn a_refused_upstream_connection_is_one_warn_line() {
    // A port that was just free and now has nobody listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gw = Gateway::start_with(Options {
        upstream: Some(closed),
        ..Options::default().env("GATEHOUSE_DEFAULT_POLICY", "bypass")
    })
    .await;
    let log = failing_request(&gw, "/app", 502).await;
    let complaints = complaints(&log);
    assert_eq!(complaints.len(), 1, "{log}");
    for part in [
        "upstream failed",
        "route=\"default\"",
        &format!("upstream={closed}"),
        "kind=\"ConnectRefused\"",
        "request_id=\"upstream-fails-1\"",
    ] {
        assert!(complaints[0].contains(part), "{part}: {}", complaints[0]);
    }
    assert!(complaints[0].contains(" WARN "), "{}", complaints[0]);
}

#[tokio::test]
async fn an_upstream_timeout_is_one_warn_line() {
    let gw = Gateway::start_env(&[
        ("GATEHOUSE_DEFAULT_POLICY", "bypass"),
        ("GATEHOUSE_UPSTREAM_TIMEOUT", "1s"),
    ])
    .await;
    let log = failing_request(&gw, "/slow?sleep_ms=3000", 504).await;
    let complaints = complaints(&log);
    assert_eq!(complaints.len(), 1, "{log}");
    assert!(complaints[0].contains(" WARN "), "{}", complaints[0]);
    assert!(
        complaints[0].contains("kind=\"ReadTimedout\""),
        "{}",
        complaints[0]
    );
    assert!(complaints[0].contains(&format!("upstream={}", gw.upstream)));
}

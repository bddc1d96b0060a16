//! Logs: no level, no format shows a token, a cookie value or a password.

use crate::harness::*;

const APP_COOKIE: &str = "app-session-plain-value-4711";
const BASIC: &str = "dXBzdHJlYW0tdXNlcjp1cHN0cmVhbS1zZWNyZXQ=";
const WRONG_PASSWORD: &str = "not-the-password-0815";
const FORM_PASSWORD: &str = "form-password-0042";

/// Drives every path a secret takes through the gateway at `trace`, then searches both output
/// streams for each secret.
async fn secrets_stay_out_of_the_log(format: &str) {
    // A short upstream timeout, so that one request fails and Pingora logs its request line.
    let gw = Gateway::start_env(&[
        ("GATEHOUSE_LOG", "trace"),
        ("GATEHOUSE_LOG_FORMAT", format),
        ("GATEHOUSE_UPSTREAM_TIMEOUT", "1s"),
    ])
    .await;
    let jar = gw.signup("alice").await;
    assert_eq!(gw.login("alice", WRONG_PASSWORD).await.status, 401);
    let access = jar.access().to_string();
    let first_refresh = jar.refresh().to_string();

    let r = send(gw.req("GET", "/app").bearer_auth(&access)).await;
    assert_eq!(r.status, 200);
    let r = send(
        gw.req("GET", "/app")
            .header(
                "cookie",
                format!("{}; app_session={APP_COOKIE}", jar.header()),
            )
            .header("proxy-authorization", format!("Basic {BASIC}")),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = send(
        gw.req("POST", "/auth/refresh")
            .header("cookie", format!("__Host-refresh_token={first_refresh}")),
    )
    .await;
    assert_eq!(r.status, 200);
    let rotated = r.jar();

    // A chunked form through to the upstream: Pingora traces chunk buffers verbatim.
    let body = format!("username=alice&password={FORM_PASSWORD}");
    let request = format!(
        "POST /app HTTP/1.1\r\nHost: x\r\nCookie: {}\r\nAuthorization: Basic {BASIC}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        rotated.header(),
        body.len()
    );
    let (status, _) = raw(&gw, &request).await;
    assert_eq!(status, 200);

    // An invite link, its page, and sign-ups carrying it as JSON and as a form.
    let (code, out, err) = gw.cli_async(&["invite", "create", "--uses", "3"], "").await;
    assert_eq!(code, 0, "{err}");
    let invite = out
        .lines()
        .last()
        .unwrap()
        .rsplit_once("invite=")
        .unwrap()
        .1
        .to_string();
    assert_eq!(
        send(gw.req("GET", &format!("/auth/register?invite={invite}")))
            .await
            .status,
        200
    );
    let r = send(gw.req("POST", "/auth/register").json(&serde_json::json!({
        "username": "bob", "password": PASSWORD, "invite": invite,
    })))
    .await;
    assert_eq!(r.status, 201);
    let r = send(gw.req("POST", "/auth/register").form(&[
        ("username", "carol"),
        ("password", PASSWORD),
        ("invite", &invite),
    ]))
    .await;
    assert_eq!(r.status, 303);

    // A failed request with a token and an invite in its query: Pingora would log the path
    // and query; the gateway logs the failure once, with the path alone.
    let r = send(
        gw.req(
            "GET",
            &format!("/slow?sleep_ms=3000&access_token={access}&invite={invite}"),
        )
        .with(&rotated),
    )
    .await;
    assert!(r.status >= 500, "{}", r.status);

    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let log = format!("{}{}", gw.log_text(), gw.stdout_text());
    assert!(log.contains("TRACE"), "the gateway logged at trace:\n{log}");
    for (what, secret) in [
        ("access token", access.as_str()),
        ("refresh token", first_refresh.as_str()),
        ("rotated access token", rotated.access()),
        ("rotated refresh token", rotated.refresh()),
        ("cookie", APP_COOKIE),
        ("proxy credentials", BASIC),
        ("password", PASSWORD),
        ("wrong password", WRONG_PASSWORD),
        ("form password", FORM_PASSWORD),
        ("invite token", invite.as_str()),
    ] {
        assert!(!log.contains(secret), "the {what} is in the {format} log");
    }
    // Not even the signature alone.
    let signature = access.rsplit('.').next().unwrap_or_default();
    assert!(!log.contains(signature), "a token signature is in the log");
    assert!(
        log.contains("upstream failed"),
        "the failed request's line:\n{log}"
    );
    assert!(
        !log.contains("sleep_ms=3000"),
        "the failed request's query is in the log:\n{log}"
    );
}

#[tokio::test]
async fn no_text_log_line_shows_a_secret_even_at_trace() {
    secrets_stay_out_of_the_log("text").await;
}

#[tokio::test]
async fn no_json_log_line_shows_a_secret_even_at_trace() {
    secrets_stay_out_of_the_log("json").await;
}

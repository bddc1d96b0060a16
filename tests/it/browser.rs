//! The browser experience: redirects to sign-in, the pages, form posts, and in-line refresh.

use crate::harness::*;

const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[tokio::test]
async fn unauthenticated_browser_navigation_is_sent_to_sign_in_with_rd() {
    let gw = Gateway::start().await;
    let r = send(gw.req("GET", "/app/page?x=1&y=2").header("accept", HTML)).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("/auth/login?rd=%2Fapp%2Fpage%3Fx%3D1%26y%3D2")
    );
    let r = send(
        gw.req("GET", "/app")
            .header("accept", HTML)
            .header("x-requested-with", "XMLHttpRequest"),
    )
    .await;
    assert_eq!(r.status, 401);
    let r = send(gw.req("POST", "/app").header("accept", HTML)).await;
    assert_eq!(r.status, 401);
    let r = send(gw.req("GET", "/app").header("accept", "*/*")).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn the_sign_in_page_is_a_self_contained_form() {
    let gw = Gateway::start().await;
    let r = send(
        gw.req("GET", "/auth/login?rd=%2Fapp")
            .header("accept", HTML),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert!(r.header("referrer-policy").is_some());
    assert!(
        r.header("strict-transport-security").is_some(),
        "secure cookies imply HSTS"
    );
    let html = r.text();
    assert!(html.contains("action=\"/auth/login\"") && html.contains("name=\"rd\" value=\"/app\""));
    assert!(html.contains("<label for=\"password\""));
    assert!(!html.contains("<script") && !html.contains("src=\"http"));
    assert!(
        html.contains("href=\"/auth/register?rd=%2Fapp\""),
        "registration link while registration is open"
    );
}

#[tokio::test]
async fn signing_in_with_the_form_lands_on_a_safe_rd_only() {
    let gw = Gateway::start().await;
    gw.register("alice", PASSWORD).await;
    let login = |rd: &'static str| {
        send(gw.req("POST", "/auth/login").form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("rd", rd),
        ]))
    };
    assert_eq!(login("/app?x=1").await.header("location"), Some("/app?x=1"));
    for hostile in [
        "//evil.com",
        "https://evil.com/",
        "/\\evil.com",
        "javascript:alert(1)",
    ] {
        let r = send(gw.req("POST", "/auth/login").form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("rd", hostile),
        ]))
        .await;
        assert_eq!(
            (r.status, r.header("location")),
            (303, Some("/")),
            "{hostile}"
        );
    }
    let r = send(gw.req("POST", "/auth/login").form(&[
        ("username", "alice"),
        ("password", "wrong password"),
        ("rd", "/app"),
    ]))
    .await;
    assert_eq!(r.status, 401);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.text().contains("incorrect"));
    assert!(r.cookies().is_empty());
}

#[tokio::test]
async fn a_signed_in_visit_to_the_sign_in_page_goes_straight_on() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let r = gw.get("/auth/login?rd=%2Fapp", &jar).await;
    assert_eq!((r.status, r.header("location")), (302, Some("/app")));
}

#[tokio::test]
async fn the_account_page_lists_sessions_and_its_forms_work() {
    let gw = Gateway::start().await;
    gw.register("alice", PASSWORD).await;
    let here = gw.login_as("alice", PASSWORD, "this-browser").await.jar();
    let other = gw
        .login_as("alice", PASSWORD, "other-<b>browser</b>")
        .await
        .jar();
    let third = gw.login_as("alice", PASSWORD, "third-browser").await.jar();

    assert_eq!(
        send(gw.req("GET", "/auth/account").header("accept", HTML))
            .await
            .header("location"),
        Some("/auth/login?rd=%2Fauth%2Faccount")
    );
    let r = gw.get("/auth/account", &here).await;
    assert_eq!(r.status, 200);
    let html = r.text();
    assert!(
        html.contains("alice") && html.contains("this-browser") && html.contains("This device")
    );
    assert!(
        html.contains("other-&lt;b&gt;browser"),
        "user agents are escaped"
    );
    assert!(html.contains("127.0.0.1"));

    let other_sid = claims_of(other.access())["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let r = send(
        gw.req("POST", &format!("/auth/sessions/{other_sid}"))
            .with(&here)
            .form(&[("x", "")]),
    )
    .await;
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/auth/account?done=revoked"))
    );
    assert_eq!(gw.get("/app", &other).await.status, 401);
    let r = gw.get("/auth/account?done=revoked", &here).await;
    assert!(r.text().contains("That session is signed out."));

    let r = send(
        gw.req("POST", "/auth/sessions/abort")
            .with(&here)
            .form(&[("keep_current", "true")]),
    )
    .await;
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/auth/account?done=others&n=1"))
    );
    assert_eq!(gw.get("/app", &third).await.status, 401);
    let r = gw.get("/auth/account?done=others&n=1", &here).await;
    assert!(r.text().contains("Signed out of 1 other session."));
    assert_eq!(gw.get("/app", &here).await.status, 200);

    let r = send(
        gw.req("POST", "/auth/logout")
            .with(&here)
            .form(&[("x", "")]),
    )
    .await;
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/auth/login?signed_out=1"))
    );
    assert!(r.cookies().iter().all(|c| c.contains("Max-Age=0")));
    assert_eq!(gw.get("/app", &here).await.status, 401);
    let r = send(
        gw.req("GET", "/auth/login?signed_out=1")
            .header("accept", HTML),
    )
    .await;
    assert!(r.text().contains("You are signed out."));
}

#[tokio::test]
async fn signing_up_with_the_form_signs_in_and_lands_on_rd() {
    let gw = Gateway::start().await;
    let r = send(gw.req("POST", "/auth/register").form(&[
        ("username", "newbie"),
        ("password", PASSWORD),
        ("rd", "/app/welcome?x=1"),
    ]))
    .await;
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/app/welcome?x=1"))
    );
    let jar = r.jar();
    let landed = gw.get("/app/welcome?x=1", &jar).await;
    assert_eq!(landed.status, 200);
    assert_eq!(landed.echoed("x-auth-user"), vec!["newbie"]);
    // The JSON route creates the account and nothing more (docs/contract.md §5).
    let api = gw.register("other", PASSWORD).await;
    assert_eq!(api.status, 201);
    assert!(api.cookies().is_empty());
}

#[tokio::test]
async fn the_change_password_form_checks_its_confirmation_and_says_what_happened() {
    let gw = Gateway::start().await;
    gw.register("alice", PASSWORD).await;
    let here = gw.login_as("alice", PASSWORD, "this-browser").await.jar();
    let other = gw.login_as("alice", PASSWORD, "other-browser").await.jar();
    let change = |current: &'static str, new: &'static str, confirm: &'static str| {
        send(gw.req("POST", "/auth/password").with(&here).form(&[
            ("current_password", current),
            ("new_password", new),
            ("confirm_password", confirm),
            ("rd", "/app/home"),
        ]))
    };

    let r = change(PASSWORD, "a new password", "a new passwort").await;
    assert_eq!(r.status, 422);
    let html = r.text();
    assert!(
        html.contains("not the same") && html.contains("autofocus"),
        "{html}"
    );
    assert!(html.contains("action=\"/auth/password\""));
    let r = change("not my password", "a new password", "a new password").await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("The current password is not right."));
    let r = change(PASSWORD, "short", "short").await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains("at least 8 characters"));
    assert_eq!(
        gw.get("/app", &other).await.status,
        200,
        "nothing changed yet"
    );

    let r = change(PASSWORD, "a new password", "a new password").await;
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/auth/account?done=password&rd=%2Fapp%2Fhome"))
    );
    assert_eq!(gw.get("/app", &other).await.status, 401);
    let page = gw
        .get("/auth/account?done=password&rd=%2Fapp%2Fhome", &here)
        .await;
    assert!(page.text().contains("Your password is changed"));
    assert!(page.text().contains("<a href=\"/app/home\">Back to"));
    assert_eq!(gw.login("alice", "a new password").await.status, 200);
    // Signed out meanwhile (another tab), with a form the gateway cannot even read: to sign-in.
    gw.post("/auth/logout", &here).await;
    let r = send(
        gw.req("POST", "/auth/password")
            .with(&here)
            .form(&[("current_password", "")]),
    )
    .await;
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/auth/login?rd=%2Fauth%2Faccount"))
    );
}

#[tokio::test]
async fn a_browser_gets_pages_for_504_and_503_and_for_auth_addresses_that_do_not_exist() {
    let gw = Gateway::start_with(Options {
        relay: true,
        ..Options::default().env("GATEHOUSE_UPSTREAM_TIMEOUT", "1s")
    })
    .await;
    let jar = gw.signup("alice").await;
    // A session no request has used yet, so not in memory when the database goes.
    let unused = gw.login("alice", PASSWORD).await.jar();
    let page = |path: &'static str, jar| send(gw.req("GET", path).header("accept", HTML).with(jar));
    let r = page("/slow?sleep_ms=3000", &jar).await;
    assert_eq!(r.status, 504);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.text().contains("taking too long"), "{}", r.text());
    let r = page("/auth/nothing-here", &jar).await;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("Nothing is served at this address"));
    assert_eq!(
        gw.get("/auth/nothing-here", &jar).await.error(),
        "not_found"
    );
    gw.relay().cut();
    let r = page("/app", &unused).await;
    assert_eq!(r.status, 503);
    assert!(r.text().contains("Temporarily unavailable"), "{}", r.text());
    assert_eq!(gw.get("/app", &unused).await.error(), "unavailable");
}

#[tokio::test]
async fn a_cross_site_form_post_is_refused() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let r = send(
        gw.req("POST", "/auth/logout")
            .with(&jar)
            .header("origin", "https://evil.example")
            .form(&[("x", "")]),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(gw.get("/app", &jar).await.status, 200);
}

#[tokio::test]
async fn an_expired_access_cookie_is_refreshed_in_line() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    // Browsers drop an expired access cookie: only the refresh cookie is left.
    let refresh_only = jar.only("refresh_token");
    let r = gw.get("/app", &refresh_only).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-auth-user"), vec!["alice"]);
    assert!(
        r.echoed("cookie").is_empty(),
        "the refresh cookie never reaches the upstream"
    );
    let fresh = r.jar();
    assert_eq!(fresh.0.len(), 2, "new access and refresh cookies");
    assert_eq!(claims_of(fresh.refresh())["gen"], 1);
    assert_eq!(gw.get("/app", &fresh).await.status, 200);
}

#[tokio::test]
async fn thirty_parallel_requests_after_expiry_share_one_rotation_and_keep_the_session() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let refresh_only = jar.only("refresh_token");
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let http = gw.http.clone();
            let url = gw.url(&format!("/asset/{i}"));
            let cookie = refresh_only.header();
            tokio::spawn(async move {
                send(
                    http.get(url)
                        .header("cookie", cookie)
                        .header("accept", HTML),
                )
                .await
            })
        })
        .collect();
    let mut last = None;
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(claims_of(r.jar().refresh())["gen"], 1);
        last = Some(r.jar());
    }
    let gen: i64 = gw.refresh_gen().await;
    assert_eq!(gen, 1, "one rotation");
    assert_eq!(
        gw.get("/app", &last.unwrap()).await.status,
        200,
        "the session survives"
    );
}

#[tokio::test]
async fn a_remembered_in_line_refresh_does_not_outlive_a_logout() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let old = jar.only("refresh_token");
    let fresh = gw.get("/app", &old).await.jar();
    assert_eq!(gw.post("/auth/logout", &fresh).await.status, 204);
    // Still inside the grace window, with the refresh cookie from before the rotation.
    assert_eq!(gw.get("/app", &old).await.status, 401);
    assert_eq!(gw.get("/auth/verify", &old).await.status, 401);
}

//! The second-factor pages driven as a browser without JavaScript drives them: plain form
//! posts over HTTP, cookies kept from answer to answer, 303s followed by hand. TOTP codes are
//! computed here from the key the setup page shows (`mfa.rs`).

use crate::harness::upstreams::labelled;
use crate::harness::*;
use crate::mfa::{enrol, fresh_step, two_factor_admin, App};

const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

async fn gateway() -> Gateway {
    Gateway::start_with(Options::default().config(&two_factor_admin(labelled("app")))).await
}

/// A form post of `fields` with the cookies in `jar`, which takes the answer's cookies.
async fn post_form(gw: &Gateway, jar: &mut Jar, path: &str, fields: &[(&str, &str)]) -> Resp {
    let r = send(gw.req("POST", path).with(jar).form(fields)).await;
    jar.update(&r.headers);
    r
}

/// A page opened by a browser with the cookies in `jar`, which takes the answer's cookies.
async fn open(gw: &Gateway, jar: &mut Jar, path: &str) -> Resp {
    let r = send(gw.req("GET", path).header("accept", HTML).with(jar)).await;
    jar.update(&r.headers);
    r
}

/// The first step of a form sign-in as `user` on the way to `rd`: on to the second step.
async fn password_step(gw: &Gateway, user: &str, rd: &str) -> Jar {
    let mut jar = Jar::default();
    let r = post_form(
        gw,
        &mut jar,
        "/auth/login",
        &[("username", user), ("password", PASSWORD), ("rd", rd)],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let next = r.header("location").unwrap().to_string();
    assert!(next.ends_with("&step=mfa"), "{next}");
    assert!(jar.get("mfa_pending").is_some());
    let r = open(gw, &mut jar, &next).await;
    assert_eq!(r.status, 200);
    jar
}

fn ten_codes(html: &str) -> Vec<String> {
    let codes: Vec<String> = html
        .split("<li><code>")
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10, "{html}");
    codes
}

#[tokio::test]
async fn a_form_sign_in_with_a_second_factor_shows_the_code_field_and_lands_on_rd() {
    let gw = gateway().await;
    let e = enrol(&gw, &gw.signup("alice").await).await;
    let rd = "/admin/keys?tab=2";
    let mut jar = password_step(&gw, "alice", rd).await;
    let r = open(
        &gw,
        &mut jar,
        "/auth/login?rd=%2Fadmin%2Fkeys%3Ftab%3D2&step=mfa",
    )
    .await;
    let html = r.text();
    assert!(html.contains("action=\"/auth/login/mfa\""), "{html}");
    assert!(
        html.contains("autocomplete=\"one-time-code\"") && html.contains("inputmode=\"numeric\"")
    );
    assert!(
        html.contains("method=recovery"),
        "a way to use a recovery code"
    );
    assert!(jar.get("access_token").is_none(), "no session yet");

    let wrong = e.app.wrong(e.step + 1);
    let fields = |code: &str| {
        [("method", "totp"), ("code", code), ("rd", rd)].map(|(k, v)| (k, v.to_string()))
    };
    let r = send(
        gw.req("POST", "/auth/login/mfa")
            .with(&jar)
            .form(&fields(&wrong)),
    )
    .await;
    assert_eq!(r.status, 401);
    let html = r.text();
    assert!(html.contains("That code is not right"), "{html}");
    assert!(html.contains("id=\"form-error\" role=\"alert\" tabindex=\"-1\" autofocus"));
    assert!(r.cookies().is_empty(), "the pending sign-in goes on");
    assert_eq!(
        post_form(
            &gw,
            &mut jar,
            "/auth/login/mfa",
            &[("method", "totp"), ("code", "12 34 56"), ("rd", rd)]
        )
        .await
        .status,
        422
    );

    let code = e.app.code(e.step + 1);
    let r = post_form(
        &gw,
        &mut jar,
        "/auth/login/mfa",
        &[("method", "totp"), ("code", &code), ("rd", rd)],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some(rd));
    assert!(
        jar.get("mfa_pending").is_none(),
        "the pending cookie is cleared"
    );
    let r = gw.get(rd, &jar).await;
    assert_eq!(
        r.status, 200,
        "a two-factor session reaches the two_factor route"
    );
    assert_eq!(
        gw.get("/auth/me", &jar).await.json()["session"]["mfa"],
        true
    );
}

#[tokio::test]
async fn a_recovery_code_signs_in_and_five_wrong_codes_send_the_form_back_to_the_password() {
    let gw = gateway().await;
    let e = enrol(&gw, &gw.signup("alice").await).await;
    let mut jar = password_step(&gw, "alice", "/admin").await;
    let r = open(
        &gw,
        &mut jar,
        "/auth/login?rd=%2Fadmin&step=mfa&method=recovery",
    )
    .await;
    let html = r.text();
    assert!(
        html.contains("<label for=\"code\">Recovery code</label>"),
        "{html}"
    );
    assert!(html.contains("name=\"method\" value=\"recovery\""));
    let code = e.recovery_codes[0].to_uppercase();
    let r = post_form(
        &gw,
        &mut jar,
        "/auth/login/mfa",
        &[("method", "recovery"), ("code", &code), ("rd", "/admin")],
    )
    .await;
    assert_eq!((r.status, r.header("location")), (303, Some("/admin")));
    assert_eq!(gw.get("/admin", &jar).await.status, 200);

    // Used once only.
    let mut jar = password_step(&gw, "alice", "/admin").await;
    let r = post_form(
        &gw,
        &mut jar,
        "/auth/login/mfa",
        &[("method", "recovery"), ("code", &code), ("rd", "/admin")],
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("used already"), "{}", r.text());

    let cookie_name = jar
        .0
        .keys()
        .find(|k| k.ends_with("mfa_pending"))
        .cloned()
        .unwrap();
    for _ in 0..3 {
        let wrong = e.app.wrong(e.step + 1);
        let r = post_form(
            &gw,
            &mut jar,
            "/auth/login/mfa",
            &[("method", "totp"), ("code", &wrong), ("rd", "/admin")],
        )
        .await;
        assert!(r.text().contains("action=\"/auth/login/mfa\""));
    }
    let wrong = e.app.wrong(e.step + 1);
    let r = post_form(
        &gw,
        &mut jar,
        "/auth/login/mfa",
        &[("method", "totp"), ("code", &wrong), ("rd", "/admin")],
    )
    .await;
    assert_eq!(r.status, 401);
    let html = r.text();
    assert!(html.contains("Too many wrong codes"), "{html}");
    assert!(
        html.contains("action=\"/auth/login\"") && html.contains("name=\"password\""),
        "the first step: {html}"
    );
    assert!(
        jar.get("mfa_pending").is_none(),
        "the ended sign-in's cookie is cleared"
    );
    // Coming back to the second step says it ended.
    let mut stale = jar.clone();
    stale.0.insert(cookie_name, "x".repeat(43));
    let r = open(&gw, &mut stale, "/auth/login?rd=%2Fadmin&step=mfa").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("has ended"), "{}", r.text());
    assert!(
        stale.get("mfa_pending").is_none(),
        "the dead cookie is cleared"
    );
}

#[tokio::test]
async fn setting_up_an_app_through_the_forms_shows_the_qr_code_then_the_codes_once() {
    let gw = gateway().await;
    let mut jar = gw.signup("bob").await;
    let r = open(&gw, &mut jar, "/admin/x").await;
    assert_eq!(r.status, 302);
    let mfa = r.header("location").unwrap().to_string();
    assert_eq!(mfa, "/auth/mfa?rd=%2Fadmin%2Fx");
    let r = open(&gw, &mut jar, &mfa).await;
    assert_eq!(r.status, 200);
    assert!(
        r.text().contains("action=\"/auth/mfa/totp\""),
        "{}",
        r.text()
    );

    let start = |password: &'static str| [("password", password), ("rd", "/admin/x")];
    let r = post_form(&gw, &mut jar, "/auth/mfa/totp", &start("not it")).await;
    assert_eq!(r.status, 401);
    assert!(
        r.text().contains("The password is not right."),
        "{}",
        r.text()
    );
    let r = post_form(&gw, &mut jar, "/auth/mfa/totp", &start(PASSWORD)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    assert!(
        html.contains("<div class=\"qr\"><svg role=\"img\""),
        "{html}"
    );
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let secret: String = html
        .split("id=\"secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .replace(' ', "");
    let app = App { secret };

    let step = fresh_step().await - 1;
    let r = post_form(
        &gw,
        &mut jar,
        "/auth/mfa/totp/confirm",
        &[("code", &app.wrong(step)), ("rd", "/admin/x")],
    )
    .await;
    assert_eq!(r.status, 401);
    let again = r.text();
    assert!(
        again.contains("That code is not right") && again.contains("<svg"),
        "{again}"
    );
    assert!(
        again.contains(&app.secret[..4]),
        "the same key, still pending"
    );
    let r = post_form(
        &gw,
        &mut jar,
        "/auth/mfa/totp/confirm",
        &[("code", &app.code(step)), ("rd", "/admin/x")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    let codes = ten_codes(&html);
    assert!(html.contains("href=\"/admin/x\""), "continue to rd: {html}");
    assert_eq!(
        gw.get("/admin/x", &jar).await.status,
        200,
        "this session is two-factor"
    );

    let r = open(&gw, &mut jar, "/auth/account").await;
    let html = r.text();
    assert!(
        html.contains("<strong>On.</strong>") && html.contains("<strong>10</strong> left"),
        "{html}"
    );
    assert!(html.contains("<dd>Password and second factor</dd>"));

    // New codes: the password again, then the new set once; the old set is dead.
    let r = post_form(
        &gw,
        &mut jar,
        "/auth/mfa/recovery-codes",
        &[("password", "nope")],
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("The password is not right."));
    let r = post_form(
        &gw,
        &mut jar,
        "/auth/mfa/recovery-codes",
        &[("password", PASSWORD)],
    )
    .await;
    assert_eq!(r.status, 200);
    let fresh = ten_codes(&r.text());
    assert!(fresh.iter().all(|c| !codes.contains(c)));

    // Turning the app off takes the password, and says so on the account page.
    let r = post_form(
        &gw,
        &mut jar,
        "/auth/mfa/totp/remove",
        &[("password", "nope")],
    )
    .await;
    assert_eq!(r.status, 401);
    let r = post_form(
        &gw,
        &mut jar,
        "/auth/mfa/totp/remove",
        &[("password", PASSWORD)],
    )
    .await;
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/auth/account?done=totp_off"))
    );
    let html = open(&gw, &mut jar, "/auth/account?done=totp_off")
        .await
        .text();
    assert!(
        html.contains("The authenticator app is removed") && html.contains("<strong>Off.</strong>"),
        "{html}"
    );
}

#[tokio::test]
async fn step_up_through_the_form_lets_a_one_factor_session_through_a_two_factor_route() {
    let gw = gateway().await;
    let enrolling = gw.signup("alice").await;
    let mut other = gw.login("alice", PASSWORD).await.jar();
    let e = enrol(&gw, &enrolling).await;
    let r = open(&gw, &mut other, "/admin/report").await;
    assert_eq!(r.status, 302);
    let r = open(&gw, &mut other, r.header("location").unwrap()).await;
    assert_eq!(r.status, 200);
    let html = r.text();
    assert!(
        html.contains("action=\"/auth/mfa/verify\"") && html.contains("one-time-code"),
        "{html}"
    );

    let fields = |code: String| {
        [
            ("method", "totp".to_string()),
            ("code", code),
            ("rd", "/admin/report".into()),
        ]
    };
    let r = send(
        gw.req("POST", "/auth/mfa/verify")
            .with(&other)
            .form(&fields(e.app.wrong(e.step + 1))),
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("That code is not right"));
    assert_eq!(gw.get("/admin/report", &other).await.status, 403);
    let r = send(
        gw.req("POST", "/auth/mfa/verify")
            .with(&other)
            .form(&fields(e.app.code(e.step + 1))),
    )
    .await;
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/admin/report"))
    );
    let r = gw.get("/admin/report", &other).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The page now says there is nothing left to do.
    let r = open(&gw, &mut other, "/auth/mfa?rd=%2Fadmin%2Freport").await;
    assert!(r.text().contains("Second factor confirmed"), "{}", r.text());
}

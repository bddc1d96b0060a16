//! A real browser: Debian's chromium, driven headless by playwright-core (`tests/browser/`),
//! through the sign-in and account pages (`flow.mjs`), and over every page the gateway shows a
//! browser, with axe-core, in light and dark, from 320 px to 1920 px wide (`pages.mjs`, whose
//! screenshots land in `tests/browser/screenshots/`, kept out of git).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `tests/browser/<script>` with `args` and returns its standard output; fails the test,
/// with the gateway's log, when the script does.
async fn run_browser(gw: &Gateway, script: &str, args: &[&str], env: &[(&str, PathBuf)]) -> String {
    run_browser_with(gw, &gw.base, script, args, env).await
}

/// [`run_browser`] at `base` instead of the gateway's own address.
async fn run_browser_at(gw: &Gateway, base: &str, script: &str, args: &[&str]) -> String {
    run_browser_with(gw, base, script, args, &[]).await
}

async fn run_browser_with(
    gw: &Gateway,
    base: &str,
    script: &str,
    args: &[&str],
    env: &[(&str, PathBuf)],
) -> String {
    let chromium = chromium().expect("chromium is not installed: scripts/setup installs it");
    for package in ["playwright-core", "axe-core"] {
        assert!(
            root()
                .join("tests/browser/node_modules")
                .join(package)
                .exists(),
            "{package} is not installed: scripts/setup runs npm ci in tests/browser"
        );
    }
    let node = tool("node").expect("node is not installed: scripts/setup installs it");
    let mut command = tokio::process::Command::new(node);
    command
        .arg(root().join("tests/browser").join(script))
        .arg(base)
        .args(args)
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(480), command.output())
        .await
        .expect("the browser run finishes within 8 minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed\n{stdout}\n{stderr}\n{}",
        gw.log_text()
    );
    stdout
}

#[tokio::test]
async fn chromium_signs_in_lands_on_the_page_and_is_signed_out_from_another_browser() {
    let gw = Gateway::start_env(&[("GATEHOUSE_COOKIE_SECURE", "false")]).await;
    assert_eq!(gw.register("alice", PASSWORD).await.status, 201);
    let stdout = run_browser(&gw, "flow.mjs", &["alice", PASSWORD], &[]).await;
    assert!(
        stdout.contains("ok: the first browser's next navigation lands on sign-in"),
        "{stdout}"
    );
}

#[tokio::test]
async fn every_page_passes_axe_fits_every_width_and_shows_its_focus_in_light_and_dark() {
    let app = gatehouse::demo::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let refusing = Refusing::new();
    let dead = refusing.port();
    let gw = Gateway::start_with(
        Options {
            upstream: Some(app),
            ..Default::default()
        }
        .env("GATEHOUSE_COOKIE_SECURE", "false")
        .env("GATEHOUSE_UPSTREAM_TIMEOUT", "1s")
        .config(&format!(
            r#"
[[routes]]
name = "app"
path = "/app"
upstream = "http://{app}"

[[routes]]
name = "admin"
path = "/admin"
upstream = "http://{app}"
allow = ["group:admins"]

[[routes]]
name = "secure"
path = "/secure"
upstream = "http://{app}"
policy = "two_factor"

[[routes]]
name = "down"
path = "/down"
upstream = "http://127.0.0.1:{dead}"
"#
        )),
    )
    .await;
    assert_eq!(gw.register("alice", PASSWORD).await.status, 201);
    for args in [
        &["group", "create", "staff"][..],
        &["group", "add", "staff", "alice"],
    ] {
        let (code, _, err) = gw.cli(args, "");
        assert_eq!(code, 0, "{args:?}: {err}");
    }
    let shots = root().join("tests/browser/screenshots");
    // Only this run's screenshots count below.
    let _ = std::fs::remove_dir_all(&shots);
    let stdout = run_browser(
        &gw,
        "pages.mjs",
        &["alice", PASSWORD],
        &[("SCREENSHOTS", shots.clone())],
    )
    .await;
    assert!(stdout.contains("ok: every page passes"), "{stdout}");
    for page in [
        "sign-in",
        "sign-in-error",
        "sign-up",
        "account",
        "account-password-error",
        "account-revoked",
        "forbidden",
        "not-found",
        "mfa",
        "bad-gateway",
        "gateway-timeout",
        "signed-out",
        "rate-limited",
        "mfa-enrol-qr",
        "mfa-recovery-codes",
        "account-mfa",
        "sign-in-mfa",
        "sign-in-mfa-error",
        "sign-in-recovery",
        "mfa-step-up",
    ] {
        for width in [390, 768, 1280] {
            for scheme in ["light", "dark"] {
                let shot = shots.join(format!("{page}-{width}-{scheme}.png"));
                assert!(shot.exists(), "{} was not made", shot.display());
            }
        }
    }
}

#[tokio::test]
async fn chromium_registers_a_passkey_and_signs_in_with_it_alone() {
    // `localhost`, not an IP address: the relying party id must be a domain.
    let gw = Gateway::start_env(&[
        ("GATEHOUSE_COOKIE_SECURE", "false"),
        ("GATEHOUSE_PUBLIC_URL", "http://localhost:{port}"),
    ])
    .await;
    assert_eq!(gw.register("alice", PASSWORD).await.status, 201);
    let base = gw.base.replace("127.0.0.1", "localhost");
    let stdout = run_browser_at(&gw, &base, "passkeys.mjs", &["alice", PASSWORD]).await;
    for step in [
        "ok: the account page lists the passkey",
        "ok: the passkey as second step made a two-factor session",
        "ok: the session is two-factor",
    ] {
        assert!(stdout.contains(step), "{stdout}");
    }
}

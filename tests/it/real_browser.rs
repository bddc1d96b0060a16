//! A real browser: Debian's chromium, driven headless by playwright-core
//! (`tests/browser/flow.mjs`), through the sign-in and account pages.

use std::path::Path;
use std::time::Duration;

use crate::harness::*;

#[tokio::test]
async fn chromium_signs_in_lands_on_the_page_and_is_signed_out_from_another_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = chromium().expect("chromium is not installed: scripts/setup installs it");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .exists(),
        "playwright-core is not installed: scripts/setup runs npm ci in tests/browser"
    );
    let gw = Gateway::start_env(&[("GATEHOUSE_COOKIE_SECURE", "false")]).await;
    assert_eq!(gw.register("alice", PASSWORD).await.status, 201);
    let node = tool("node").expect("node is not installed: scripts/setup installs it");
    let run = tokio::process::Command::new(node)
        .arg(root.join("tests/browser/flow.mjs"))
        .args([gw.base.as_str(), "alice", PASSWORD])
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the browser flow finishes within 3 minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser flow failed\n{stdout}\n{stderr}\n{}",
        gw.log_text()
    );
    assert!(
        stdout.contains("ok: the first browser's next navigation lands on sign-in"),
        "{stdout}"
    );
}

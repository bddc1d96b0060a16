//! Other `gatehouse` processes run with a gateway's own settings: its subcommands, and twins
//! such as `serve --upgrade`.

use std::process::{Child, Command, Stdio};

use super::Gateway;

impl Gateway {
    /// Starts another `gatehouse` process with this gateway's settings (e.g. `serve --upgrade`).
    pub fn spawn_twin(&self, args: &[&str], log: &std::path::Path) -> Child {
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .current_dir(std::env::temp_dir())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap()
    }

    /// Runs a `gatehouse` subcommand against this gateway's database and settings.
    pub fn cli(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .current_dir(std::env::temp_dir())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("GATEHOUSE_LOG", "warn")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// [`Gateway::cli`] without blocking the test's other futures.
    pub async fn cli_async(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        use tokio::io::AsyncWriteExt;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .current_dir(std::env::temp_dir())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("GATEHOUSE_LOG", "warn")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).await.unwrap();
        drop(input);
        let out = child.wait_with_output().await.unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

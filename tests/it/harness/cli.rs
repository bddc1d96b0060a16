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

    /// A `gatehouse` subcommand with this gateway's database and settings (its log filter
    /// too: the console is quiet whatever it says), its pipes open.
    fn subcommand(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        cmd.current_dir(std::env::temp_dir())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs a `gatehouse` subcommand against this gateway's database and settings.
    pub fn cli(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        use std::io::Write;
        let mut child = self.subcommand(args).spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        outcome(child.wait_with_output().unwrap())
    }

    /// [`Gateway::cli`] without blocking the test's other futures.
    pub async fn cli_async(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        use tokio::io::AsyncWriteExt;
        let mut child = tokio::process::Command::from(self.subcommand(args))
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).await.unwrap();
        drop(input);
        outcome(child.wait_with_output().await.unwrap())
    }
}

fn outcome(out: std::process::Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

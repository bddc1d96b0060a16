//! A `gatehouse` subcommand on a terminal of its own: a pseudo-terminal whose master end the
//! test holds, typing on it as a person would and reading back everything the terminal shows
//! (prompts, and any echo), as `script` would record it.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::termios::{tcgetattr, LocalFlags};

use super::Gateway;

pub struct Terminal {
    master: std::fs::File,
    child: Child,
    /// Everything written to the terminal so far.
    screen: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Gateway {
    /// Runs `gatehouse ARGS` with this gateway's settings as the only process of a new session
    /// whose controlling terminal is a fresh pseudo-terminal (`setsid --ctty`), so `/dev/tty`
    /// is that terminal and never the one the tests were started from.
    pub fn terminal(&self, args: &[&str]) -> Terminal {
        let pty = nix::pty::openpty(None, None).unwrap();
        let slave = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap());
        let child = Command::new("setsid")
            .args(["--ctty", "--wait"])
            .arg(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .current_dir(std::env::temp_dir())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(slave(&pty.slave))
            .stdout(slave(&pty.slave))
            .stderr(slave(&pty.slave))
            .spawn()
            .expect("setsid (util-linux) runs");
        // Only the child holds the terminal now: when it exits, reading the master ends.
        drop(pty.slave);
        let master = std::fs::File::from(pty.master);
        let screen = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let mut master = master.try_clone().unwrap();
            let screen = screen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                // Linux answers EIO once the last slave descriptor is closed.
                while let Ok(n @ 1..) = master.read(&mut buf) {
                    screen.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            })
        };
        Terminal {
            master,
            child,
            screen,
            reader: Some(reader),
        }
    }
}

impl Terminal {
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// Waits until the terminal has shown `prompt` (`count` times in all) and the program has
    /// turned echo off, then types `line` and Enter. Typing before echo is off would show the
    /// line, as it would for a person who types ahead of the prompt.
    pub fn answer(&mut self, prompt: &str, count: usize, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let shown = self.screen().matches(prompt).count() >= count;
            let echo = tcgetattr(&self.master)
                .unwrap()
                .local_flags
                .contains(LocalFlags::ECHO);
            if shown && !echo {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no prompt {prompt:?} with echo off; the terminal shows:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // A terminal's Enter key sends a carriage return.
        self.master
            .write_all(format!("{line}\r").as_bytes())
            .unwrap();
    }

    /// Waits for the program to exit: its status and everything the terminal showed.
    pub fn finish(mut self) -> (i32, String) {
        let status = self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        (status.code().unwrap_or(-1), self.screen())
    }
}

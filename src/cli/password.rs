//! Where `user add` and `user passwd` get a password: typed twice without echo on a terminal,
//! or one line of standard input with `--password-stdin`. Never an argument: it would stay in
//! the shell's history and in `ps` for every user of the machine to read.

use std::io::{BufRead, IsTerminal};

use super::Failure;

/// More than any password the rules accept (72 bytes), so a longer line is refused by them
/// rather than cut, yet bounded: `--password-stdin < /dev/zero` must not fill the memory.
const MAX_LINE: u64 = 4096;

/// Reads the new password of `name`. `check` applies the password rules, so a terminal user
/// hears about a too-short password before being asked to repeat it.
pub(super) fn read(
    name: &str,
    from_stdin: bool,
    check: impl Fn(&str) -> Result<(), Failure>,
) -> Result<String, Failure> {
    let password = if from_stdin {
        first_line(std::io::stdin().lock())?
    } else {
        prompt_twice(name, &check)?
    };
    check(&password)?;
    Ok(password)
}

/// The first line of `input` without its line ending (`\n` or `\r\n`); nothing else is
/// trimmed: spaces are part of a password. Lines after the first are not read.
fn first_line(input: impl BufRead) -> Result<String, Failure> {
    let mut line = Vec::new();
    input
        .take(MAX_LINE)
        .read_until(b'\n', &mut line)
        .map_err(|e| Failure::new(1, format!("cannot read the password: {e}")))?;
    if line.is_empty() {
        return Err(Failure::new(
            1,
            "no password on standard input (--password-stdin reads one line)",
        ));
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    } else if line.len() as u64 == MAX_LINE {
        return Err(Failure::new(
            1,
            format!("the password line is longer than {MAX_LINE} bytes"),
        ));
    }
    String::from_utf8(line)
        .map_err(|_| Failure::new(1, "the password on standard input is not UTF-8"))
}

/// Asks on the terminal, without echo, twice; a mismatch changes nothing. rpassword reads the
/// controlling terminal rather than standard input, and puts its echo back when it is done.
fn prompt_twice(
    name: &str,
    check: &impl Fn(&str) -> Result<(), Failure>,
) -> Result<String, Failure> {
    // Without a terminal nobody can answer a prompt: waiting for one would hang a script.
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(
            2,
            "standard input is not a terminal: give the password on it with --password-stdin",
        ));
    }
    let first = prompt(&format!("New password for {name}: "))?;
    check(&first)?;
    let second = prompt("Repeat it: ")?;
    if first != second {
        return Err(Failure::new(
            1,
            "the passwords do not match; nothing was changed",
        ));
    }
    Ok(first)
}

fn prompt(text: &str) -> Result<String, Failure> {
    rpassword::prompt_password(text).map_err(|e| match e.kind() {
        // Ctrl-D at the prompt.
        std::io::ErrorKind::UnexpectedEof => Failure::new(1, "no password given"),
        _ => Failure::new(
            1,
            format!("cannot read the password from the terminal: {e}"),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(input: &[u8]) -> Result<String, String> {
        first_line(input).map_err(|f| f.message)
    }

    #[test]
    fn only_the_line_ending_is_taken_off() {
        assert_eq!(line(b"a long password\n").unwrap(), "a long password");
        assert_eq!(line(b"a long password\r\n").unwrap(), "a long password");
        assert_eq!(line(b"no newline at all").unwrap(), "no newline at all");
        assert_eq!(line(b"  spaced out \t\n").unwrap(), "  spaced out \t");
        assert_eq!(
            line(b"\n").unwrap(),
            "",
            "an empty line is for the rules to refuse"
        );
    }

    #[test]
    fn only_the_first_line_is_read() {
        assert_eq!(line(b"first line\nsecond line\n").unwrap(), "first line");
    }

    #[test]
    fn nothing_an_endless_line_or_other_bytes_than_utf8_are_refused() {
        assert!(line(b"").unwrap_err().contains("no password"));
        let endless = vec![b'x'; 10_000];
        assert!(line(&endless).unwrap_err().contains("longer than"));
        assert!(line(b"caf\xe9 au lait\n").unwrap_err().contains("UTF-8"));
    }
}

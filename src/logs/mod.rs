//! No log line shows a token, a cookie value or a password, whoever wrote it: every formatted
//! line passes through [`redact`] on its way out, and the targets that dump whole request heads
//! and bodies stop at `info` ([`HeadDumpCap`]), whatever `GATEHOUSE_LOG` asks for. Text
//! lines are coloured only on a terminal; JSON lines carry their fields at the top level
//! ([`json`]); a panic is a log line like any other ([`panics`]).

mod json;
mod panics;
pub mod redact;

use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};

use crate::config::{Config, LogFormat};
use redact::redact;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};

/// What a secret becomes.
pub const MASK: &str = "[redacted]";

/// Targets whose `debug` and `trace` lines print request or response heads and bodies verbatim.
/// Pingora 0.9: `Request header: Parts {..}`, `Sending header to upstream ..`, `Writing request
/// header: b".."`, `Response body: ..`, chunk buffers; tokio-postgres: statement parameters,
/// password hashes among them. A body can hold any secret in any shape, so these lines are not
/// redacted but never written.
const HEAD_DUMPING_TARGETS: &[&str] = &[
    "pingora_proxy",
    "pingora_core::protocols::http",
    "pingora_core::apps",
    "tokio_postgres::query",
];

/// A filter layer that keeps [`HEAD_DUMPING_TARGETS`] at `info` and above. A layer of its own,
/// rather than directives added to the `EnvFilter`, because a more specific directive such as
/// `pingora_proxy::proxy_h1=trace` would win over an added one.
pub struct HeadDumpCap;

impl HeadDumpCap {
    fn allows(meta: &Metadata<'_>) -> bool {
        *meta.level() <= Level::INFO
            || !HEAD_DUMPING_TARGETS
                .iter()
                .any(|module| within(meta.target(), module))
    }
}

fn within(target: &str, module: &str) -> bool {
    target
        .strip_prefix(module)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

// No `max_level_hint`: the `EnvFilter`'s stays the one the `log` bridge uses to skip records
// cheaply.
impl<S: Subscriber> Layer<S> for HeadDumpCap {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if Self::allows(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        Self::allows(meta)
    }
}

/// Wraps the log destination so that each line is redacted before it is written.
pub struct Redacting<M> {
    inner: M,
    json: bool,
}

impl<M> Redacting<M> {
    /// `json`: the lines are JSON objects, whose strings a mask must not run past.
    pub fn new(inner: M, json: bool) -> Self {
        Self { inner, json }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            inner: self.inner.make_writer(),
            json: self.json,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        RedactingWriter {
            inner: self.inner.make_writer_for(meta),
            json: self.json,
        }
    }
}

pub struct RedactingWriter<W> {
    inner: W,
    json: bool,
}

impl<W: Write> Write for RedactingWriter<W> {
    // The fmt layer formats an event into one buffer and hands it over in one `write_all`, so a
    // secret never straddles two calls, and the buffer is the whole line.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let line = redact(buf, self.json);
        if self.json {
            self.inner.write_all(&line)?;
        } else {
            self.inner.write_all(&one_line(line))?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A text event as one line: a message with line breaks of its own (refinery lists the
/// migrations it applies one per line; a library may quote what a client sent) would start
/// lines that `grep`, the journal and fail2ban take for events of their own. JSON strings
/// escape them already.
fn one_line(line: Cow<'_, [u8]>) -> Cow<'_, [u8]> {
    let body = line.strip_suffix(b"\n").unwrap_or(&line);
    if memchr::memchr2(b'\n', b'\r', body).is_none() {
        return line;
    }
    let mut out = Vec::with_capacity(line.len() + 16);
    for &b in body {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b => out.push(b),
        }
    }
    out.push(b'\n');
    Cow::Owned(out)
}

/// Every line, whoever emits it (gatehouse, Pingora through the `log` bridge, tokio-postgres),
/// is redacted before it reaches stderr; see [`redact`].
///
/// Colour only when stderr is a terminal: journald, `docker logs` and files would keep the
/// escape codes as text, and grep and fail2ban would have to see through them.
pub fn init_logging(config: &Config) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = config.log_format == LogFormat::Json;
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(Redacting::new(std::io::stderr, json))
        .with_ansi(!json && std::io::stderr().is_terminal());
    let fmt = if json {
        fmt.event_format(json::JsonLines).boxed()
    } else {
        fmt.boxed()
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(HeadDumpCap)
        .with(fmt)
        .try_init();
    if installed.is_ok() {
        panics::install();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_event_stays_on_one_line() {
        let one = |s: &str| String::from_utf8(one_line(Cow::Borrowed(s.as_bytes())).into_owned());
        assert_eq!(one("a plain line\n").unwrap(), "a plain line\n");
        assert_eq!(
            one("applying:\nV1__init\r\nV2__x\n").unwrap(),
            "applying:\\nV1__init\\r\\nV2__x\n"
        );
    }

    #[test]
    fn only_the_head_dumping_targets_are_capped() {
        assert!(within("pingora_proxy", "pingora_proxy"));
        assert!(within("pingora_proxy::proxy_h1", "pingora_proxy"));
        assert!(!within("pingora_proxyish", "pingora_proxy"));
        assert!(!within(
            "pingora_core::connectors",
            "pingora_core::protocols::http"
        ));
    }
}

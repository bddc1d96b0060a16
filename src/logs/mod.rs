//! No log line shows a token, a cookie value or a password, whoever wrote it: every formatted
//! line passes through [`redact`] on its way out, and the targets that dump whole request heads
//! and bodies stop at `info` ([`HeadDumpCap`]), whatever `GATEHOUSE_LOG` asks for.

pub mod redact;

use std::io::{self, Write};

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
    // secret never straddles two calls.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_all(&redact(buf, self.json))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Every line, whoever emits it (gatehouse, Pingora through the `log` bridge, tokio-postgres),
/// is redacted before it reaches stderr; see [`redact`].
pub fn init_logging(config: &Config) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = config.log_format == LogFormat::Json;
    let fmt = tracing_subscriber::fmt::layer().with_writer(Redacting::new(std::io::stderr, json));
    let fmt = if json {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(HeadDumpCap)
        .with(fmt)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

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

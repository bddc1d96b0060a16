//! `GATEHOUSE_LOG_FORMAT=json`: one object per line with the event's fields at the top level
//! beside `timestamp`, `level` and `target`, as log shippers (Loki, Vector, Elasticsearch)
//! index them.
//!
//! Written here rather than taken from `tracing_subscriber::fmt::format::Json`: flattened, that
//! formatter copies the `log.file`, `log.line` and `log.module_path` fields of every record
//! bridged from the `log` crate (all of Pingora's) into the object, and those hold paths of the
//! machine the binary was built on. This one drops them, and never writes a file or a line.

use std::fmt;

use serde::ser::{SerializeMap, Serializer as _};
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The keys every line starts with; an event field of the same name is written as `field.NAME`
/// so that a line never holds a key twice.
const RESERVED: [&str; 3] = ["timestamp", "level", "target"];

pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        // A bridged `log` record names its own target (`pingora_core::…`), not `log`.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        let line = line(&timestamp, meta.level().as_str(), meta.target(), fields.0)
            .map_err(|_| fmt::Error)?;
        writeln!(writer, "{line}")
    }
}

fn line(
    timestamp: &str,
    level: &str,
    target: &str,
    fields: Vec<(String, Value)>,
) -> Result<String, serde_json::Error> {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::new(&mut out);
    let mut map = ser.serialize_map(None)?;
    map.serialize_entry("timestamp", timestamp)?;
    map.serialize_entry("level", level)?;
    map.serialize_entry("target", target)?;
    for (name, value) in &fields {
        map.serialize_entry(name, value)?;
    }
    map.end()?;
    // serde_json writes nothing but UTF-8.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The event's fields as JSON values, numbers and booleans kept as such.
struct Fields(Vec<(String, Value)>);

impl Fields {
    fn push(&mut self, field: &Field, value: Value) {
        let name = field.name();
        // What the `log` bridge adds: the record's target (already the line's) and where in
        // the source it was written, which is a path of the build machine.
        if name.starts_with("log.") {
            return;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        let name = if RESERVED.contains(&name) {
            format!("field.{name}")
        } else {
            name.to_string()
        };
        self.0.push((name, value));
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, Value::from(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `message` and `%display` fields arrive here already formatted as text; other values
        // in their Debug form.
        self.push(field, Value::from(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_sit_beside_the_line_keys_and_clashing_names_are_kept_apart() {
        let fields = vec![
            ("message".to_string(), Value::from("sign-in failed")),
            ("status".to_string(), Value::from(401)),
            ("field.level".to_string(), Value::from("x")),
        ];
        let text = line("2026-01-01T00:00:00Z", "WARN", "auth", fields).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["message"], "sign-in failed");
        assert_eq!(v["status"], 401);
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["field.level"], "x");
        assert!(v.get("fields").is_none());
    }
}

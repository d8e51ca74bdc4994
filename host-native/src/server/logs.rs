//! The log of the `crosscast` binary on stderr (`--log-format`), filtered by `RUST_LOG`
//! (default `info`).
//!
//! Contract:
//! - `text`: one line per event, `TIME LEVEL target: message key=value...`.
//! - `json`: one JSON object per line, nothing else on stderr (a panic is logged as an
//!   `ERROR` line too): `timestamp` (RFC 3339, UTC), `level`, `target`, `message`, then the
//!   event's fields as JSON values (numbers and booleans as such, everything else a string),
//!   then `spans` (`name{fields}:...`) when the event is inside spans.
//! - Once the server knows its node uid ([`set_node_uid`], as soon as it has joined its
//!   cluster, before the start line), every line names it: a `uid` field, unless the event
//!   has a `uid` field of its own. Lines about other servers name them `peer`. So every log
//!   line of a cluster event (Redis disconnected, connected, subscriptions restored, a peer
//!   up or down) can be told apart by node when the logs of many servers are merged.
//! - Command-line errors come before the log exists and stay plain one-line messages.

use std::fmt::{self, Write as _};
use std::io::IsTerminal;
use std::sync::OnceLock;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, FormatEvent, FormatFields, Full, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::cli::LogFormat;
use super::limits;

static NODE_UID: OnceLock<String> = OnceLock::new();

/// Names the node in every later line (see the module docs). The first call wins.
pub(crate) fn set_node_uid(uid: &str) {
    let _ = NODE_UID.set(uid.to_owned());
}

/// Installs the log (once; later calls change nothing), and watches engineioxide's WebSocket
/// transport for messages over `--max-payload` (see `limits::PayloadWatch`) whatever
/// `RUST_LOG` says.
pub(crate) fn init(format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{EnvFilter, Layer as _, filter::Targets};

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = format == LogFormat::Text && std::io::stderr().is_terminal();
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .event_format(Lines {
            format,
            text: Format::default().with_ansi(ansi),
        })
        .with_filter(filter);
    let watch = limits::PayloadWatch.with_filter(
        Targets::new().with_target(limits::WS_TRANSPORT_TARGET, tracing::Level::DEBUG),
    );
    if tracing_subscriber::registry()
        .with(log)
        .with(watch)
        .try_init()
        .is_ok()
        && format == LogFormat::Json
    {
        std::panic::set_hook(Box::new(|info| {
            tracing::error!(target: "panic", "{info}");
        }));
    }
}

/// Reports the error that ends the process: the plain `crosscast: ...` line, or in JSON an
/// `ERROR` line with that message.
pub(crate) fn fatal(format: LogFormat, error: &str) {
    match format {
        LogFormat::Text => eprintln!("crosscast: {error}"),
        LogFormat::Json => tracing::error!("crosscast: {error}"),
    }
}

/// The event formatter of both formats.
struct Lines {
    format: LogFormat,
    text: Format<Full, SystemTime>,
}

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = JsonFields::default();
        event.record(&mut fields);
        let stamp = match fields.map.contains_key("uid") {
            true => None,
            false => NODE_UID.get(),
        };
        match self.format {
            LogFormat::Text => {
                let mut line = String::new();
                self.text.format_event(ctx, Writer::new(&mut line), event)?;
                let line = line.trim_end_matches('\n');
                match stamp {
                    Some(uid) => writeln!(writer, "{line} uid={uid}"),
                    None => writeln!(writer, "{line}"),
                }
            }
            LogFormat::Json => {
                let mut time = String::new();
                SystemTime.format_time(&mut Writer::new(&mut time))?;
                let meta = event.metadata();
                let mut object = Map::new();
                object.insert("timestamp".into(), Value::String(time));
                object.insert("level".into(), Value::String(meta.level().to_string()));
                let target = fields
                    .log_target
                    .take()
                    .unwrap_or_else(|| meta.target().to_owned());
                object.insert("target".into(), Value::String(target));
                let message = fields.map.remove("message").unwrap_or_default();
                object.insert("message".into(), message);
                for (key, value) in fields.map {
                    object.entry(key).or_insert(value);
                }
                if let Some(spans) = spans(ctx) {
                    object.entry("spans").or_insert(Value::String(spans));
                }
                if let Some(uid) = stamp {
                    object.insert("uid".into(), Value::String(uid.clone()));
                }
                let line = serde_json::to_string(&object).map_err(|_| fmt::Error)?;
                writeln!(writer, "{line}")
            }
        }
    }
}

/// `name{fields}:name{fields}` of the spans the event is in, outermost first.
fn spans<S, N>(ctx: &FmtContext<'_, S, N>) -> Option<String>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let scope = ctx.event_scope()?;
    let mut text = String::new();
    for span in scope.from_root() {
        if !text.is_empty() {
            text.push(':');
        }
        text.push_str(span.name());
        let extensions = span.extensions();
        if let Some(fields) = extensions.get::<FormattedFields<N>>()
            && !fields.is_empty()
        {
            let _ = write!(text, "{{{}}}", fields.fields);
        }
    }
    (!text.is_empty()).then_some(text)
}

/// An event's fields as JSON values; the `log` crate's metadata fields (`log.target`...) are
/// taken apart.
#[derive(Default)]
struct JsonFields {
    map: Map<String, Value>,
    log_target: Option<String>,
}

impl JsonFields {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if let Some(log) = name.strip_prefix("log.") {
            if log == "target"
                && let Value::String(target) = value
            {
                self.log_target = Some(target);
            }
            return;
        }
        self.map.insert(name.to_owned(), value);
    }
}

impl Visit for JsonFields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(value.to_string()));
    }
}

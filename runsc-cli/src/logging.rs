//! tracing set-up: level from --debug, destination from --log, format from
//! --log-format. The json format is runc's: one `{"level":"error","msg":...,
//! "time":...}` object per line, which containerd and Podman read back.

use std::path::Path;

use anyhow::Context;
use tracing::field::{Field, Visit};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init(debug: bool, file: Option<&Path>, format: LogFormat) -> anyhow::Result<()> {
    // Without --debug or --log, only errors reach the user's terminal: the
    // sandboxed program owns stderr.
    let level = if debug {
        tracing::Level::DEBUG
    } else if file.is_some() {
        tracing::Level::WARN
    } else {
        tracing::Level::ERROR
    };
    let builder = tracing_subscriber::fmt().with_max_level(level).with_target(false);
    match (file, format) {
        (Some(p), fmt) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening log file {}", p.display()))?;
            let w = std::sync::Mutex::new(f);
            if fmt == LogFormat::Json {
                builder.event_format(RuncJson).with_writer(w).init();
            } else {
                builder.with_ansi(false).with_writer(w).init();
            }
        }
        (None, LogFormat::Json) => builder.event_format(RuncJson).with_writer(std::io::stderr).init(),
        (None, LogFormat::Text) => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
}

/// runc's json log line.
struct RuncJson;

#[derive(Default)]
struct Fields {
    msg: String,
    extra: serde_json::Map<String, serde_json::Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg = value.to_string();
        } else {
            self.extra.insert(field.name().to_string(), value.into());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let s = format!("{value:?}");
        if field.name() == "message" {
            self.msg = s;
        } else {
            self.extra.insert(field.name().to_string(), s.into());
        }
    }
}

impl<S, N> FormatEvent<S, N> for RuncJson
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut f = Fields::default();
        event.record(&mut f);
        let mut obj = f.extra;
        obj.insert("level".into(), event.metadata().level().as_str().to_ascii_lowercase().into());
        obj.insert("msg".into(), f.msg.into());
        obj.insert("time".into(), crate::container::rfc3339_now().into());
        let mut line = serde_json::Value::Object(obj).to_string();
        line.push('\n');
        w.write_str(&line)
    }
}

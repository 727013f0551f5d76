//! tracing set-up: level from --debug, destination from --log, format from --log-format.

use std::path::Path;

use anyhow::Context;

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
                builder.json().with_writer(w).init();
            } else {
                builder.with_ansi(false).with_writer(w).init();
            }
        }
        (None, LogFormat::Json) => builder.json().with_writer(std::io::stderr).init(),
        (None, LogFormat::Text) => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
}

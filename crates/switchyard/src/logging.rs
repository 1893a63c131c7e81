//! Logging as the `log` section asks: Traefik's level names, `common`
//! (human-readable lines) or `json`, to stdout or to `log.filePath` with
//! Traefik's size-based rotation (see [`crate::logfile`]).

use switchyard_config::static_config::Log;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::EnvFilter;

use crate::logfile::{LogFile, Rotation};
use crate::reopen;

/// Installs the global subscriber. `log.level` is Traefik's (TRACE, DEBUG,
/// INFO, WARN, ERROR, FATAL, PANIC); `RUST_LOG` overrides it when set.
/// With `otlp` (`log.otlp`), what passes the level is sent there too.
/// Returns the files to reopen on `SIGUSR1` (the log file, when there is
/// one).
pub fn init(log: &Log, otlp: Option<crate::otel::OtlpLogLayer>) -> std::io::Result<reopen::Files> {
    let level = match log.level.to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" | "WARNING" => "warn",
        _ => "error",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},hyper=warn,hyper_util=warn,h2=warn,notify=warn,bollard=warn"
        ))
    });
    let mut files = reopen::Files::default();
    let (writer, ansi) = if log.file_path.is_empty() {
        let ansi = !log.no_color && std::io::IsTerminal::is_terminal(&std::io::stdout());
        (BoxMakeWriter::new(std::io::stdout), ansi)
    } else {
        let file = LogFile::open(log.file_path.as_ref(), Rotation::from_config(log))?;
        let handle = file.clone();
        files.add("log.filePath", move || handle.reopen());
        (BoxMakeWriter::new(file), false)
    };
    if let Some(otlp) = otlp {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        use tracing_subscriber::Layer;
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(ansi);
        let fmt = if log.format.eq_ignore_ascii_case("json") {
            fmt.json()
                .flatten_event(true)
                .with_current_span(false)
                .boxed()
        } else {
            fmt.with_target(false).boxed()
        };
        tracing_subscriber::registry()
            .with(fmt)
            .with(otlp)
            .with(filter)
            .init();
        return Ok(files);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    if log.format.eq_ignore_ascii_case("json") {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    } else {
        builder.with_target(false).init();
    }
    Ok(files)
}

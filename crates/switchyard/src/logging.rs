//! Logging as `log.level` and `log.format` ask: Traefik's level names,
//! `common` (human-readable lines) or `json`, to stdout or `log.filePath`.

use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `level` is Traefik's (TRACE, DEBUG, INFO,
/// WARN, ERROR, FATAL, PANIC); `RUST_LOG` overrides it when set.
pub fn init(level: &str, json: bool, no_color: bool, file_path: &str) -> std::io::Result<()> {
    let level = match level.to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" | "WARNING" => "warn",
        _ => "error",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},hyper=warn,hyper_util=warn,h2=warn,notify=warn"
        ))
    });
    let (writer, ansi) = if file_path.is_empty() {
        let ansi = !no_color && std::io::IsTerminal::is_terminal(&std::io::stdout());
        (BoxMakeWriter::new(std::io::stdout), ansi)
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file_path)?;
        (BoxMakeWriter::new(std::sync::Mutex::new(file)), false)
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    } else {
        builder.with_target(false).init();
    }
    Ok(())
}

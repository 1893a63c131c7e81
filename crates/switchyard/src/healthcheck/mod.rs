//! `switchyard healthcheck`: Traefik's `healthcheck` command. It reads the
//! static configuration from the same sources as a normal start, sends
//! `HEAD http://<ping entrypoint address>/ping` (within 5 seconds, redirects
//! followed) and prints what Traefik prints:
//!
//! - `OK: <url>` and exit 0 when the answer is 200;
//! - `Bad healthcheck status: <status line>` and exit 1 for another status;
//! - `Error calling healthcheck: <why>` and exit 1 when `ping` is not
//!   enabled, the ping entrypoint does not exist, or the request fails.
//!
//! It binds nothing and starts nothing. As in Traefik, the request is plain
//! HTTP even when the entrypoint has TLS (Traefik then answers 404), an
//! address without a host (`:8082`) is dialled on this machine, and
//! `ping.manualRouting` changes nothing here: the routers the user wrote
//! for `ping@internal` decide what answers.
//!
//! Differences: a redirect to `https` is an error here (Go's client would
//! try TLS with the system's roots, which fails for the usual addresses);
//! a failed name lookup is worded differently; the `User-Agent` is
//! `switchyard-healthcheck/<version>`.

mod client;
#[cfg(test)]
mod tests;

use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

use switchyard_config::static_config::StaticConfiguration;

/// Traefik's client timeout for the whole check, redirects included.
pub const TIMEOUT: Duration = Duration::from_secs(5);

pub const USAGE: &str = "\
switchyard healthcheck — calls the /ping endpoint (disabled by default) to check the health of Switchyard

Usage:
  switchyard healthcheck [--configFile=PATH] [--<static.option>=VALUE ...]

The static configuration is read from the same sources as `switchyard` itself
(file, else CLI flags, else environment variables). `ping` must be enabled;
the request goes to the address of `ping.entryPoint` (default `traefik`).
Exit status: 0 when /ping answers 200, 1 otherwise.";

/// Why the check could not get an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No `ping` section.
    PingDisabled,
    /// `ping.entryPoint` names no entrypoint.
    MissingEntryPoint(String),
    /// The request to `url` failed: `cause` in Go's wording where Traefik's
    /// is known.
    Request { url: String, cause: String },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::PingDisabled => f.write_str("please enable `ping` to use health check"),
            Error::MissingEntryPoint(ep) => write!(f, "ping: missing {ep} entry point"),
            Error::Request { url, cause } => write!(f, "Head {url:?}: {cause}"),
        }
    }
}

/// The answer /ping gave: the final URL (after redirects) and its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub url: String,
    pub code: u16,
    /// The status line after the protocol, as the server sent it
    /// (`404 Not Found`).
    pub status: String,
}

/// The URL Traefik's healthcheck requests for `config`.
pub fn ping_url(config: &StaticConfiguration) -> Result<String, Error> {
    let ping = config.ping.as_ref().ok_or(Error::PingDisabled)?;
    let name = if ping.entry_point.is_empty() {
        "traefik"
    } else {
        ping.entry_point.as_str()
    };
    let ep = config
        .entry_points
        .get(name)
        .ok_or_else(|| Error::MissingEntryPoint(name.to_string()))?;
    // The address without its `/tcp` or `/udp` suffix.
    let address = ep.address.split('/').next().unwrap_or_default();
    Ok(format!("http://{address}/ping"))
}

/// Runs the check; what to print and the exit code.
pub fn check(config: &StaticConfiguration, timeout: Duration) -> (String, u8) {
    let answer = ping_url(config).and_then(|url| client::head(&url, timeout));
    match answer {
        Ok(a) if a.code == 200 => (format!("OK: {}", a.url), 0),
        Ok(a) => (format!("Bad healthcheck status: {}", a.status), 1),
        Err(e) => (format!("Error calling healthcheck: {e}"), 1),
    }
}

/// `switchyard healthcheck`: prints the outcome on stdout, as Traefik does.
pub fn run(config: &StaticConfiguration) -> ExitCode {
    let (text, code) = check(config, TIMEOUT);
    println!("{text}");
    ExitCode::from(code)
}

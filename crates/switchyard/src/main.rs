//! `switchyard`: the binary. Reads the static configuration the Traefik way,
//! binds the entrypoints, starts the providers, the watcher and the internal
//! services, and runs until SIGTERM/SIGINT, re-reading files on SIGHUP and
//! reopening its log files on SIGUSR1. `switchyard healthcheck` asks a
//! running instance's ping endpoint instead, as `traefik healthcheck` does;
//! `switchyard check` checks a configuration offline.

mod check;
mod explain;
mod healthcheck;
mod listeners;
mod logfile;
mod logging;
mod otel;
mod reopen;
mod setup;
mod static_reload;

use std::process::ExitCode;

/// mimalloc: fewer cycles per allocation than glibc's malloc on the
/// request path, and less memory kept after bursts. Built without its
/// transparent huge pages (`no_thp`): they made an idle process hold 2 MiB
/// pages it barely uses (idle with the quickstart configuration: about
/// 50 MiB resident instead of about 23 MiB).
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(not(feature = "system-allocator"))]
extern "C" {
    /// mimalloc's `mi_collect` (in the library the `mimalloc` crate links):
    /// frees the calling thread's empty pages, collects abandoned segments
    /// and returns ("purges") freed memory to the system now rather than
    /// when the thread next allocates, which an idle process never does.
    fn mi_collect(force: bool);
}

/// Gives the memory the allocator keeps after frees back to the system, for
/// the calling thread (and what no thread owns any more). Run after a
/// configuration build, by the threads that held its garbage: at 10,000
/// routers the parse and the build free tens of MiB.
#[cfg(not(feature = "system-allocator"))]
#[allow(unsafe_code)]
pub(crate) fn release_freed_memory() {
    let started = std::time::Instant::now();
    // SAFETY: `mi_collect` has no preconditions: it may be called from any
    // thread at any time (mimalloc documents it as safe to call at will), it
    // frees no block still in use and takes no pointer.
    unsafe { mi_collect(true) };
    tracing::trace!(
        elapsed_us = started.elapsed().as_micros() as u64,
        "allocator's freed memory released"
    );
}

/// With the system allocator, nothing to do (glibc trims on its own).
#[cfg(feature = "system-allocator")]
pub(crate) fn release_freed_memory() {}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("healthcheck") {
        return healthcheck_command(&args[1..]);
    }
    // One crypto provider for every TLS use (entrypoints, backends, Redis),
    // chosen here rather than by whichever library asks first.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    if args.first().map(String::as_str) == Some("check") {
        return check::run(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("explain") {
        return explain::run(&args[1..]);
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", setup::USAGE);
        return ExitCode::SUCCESS;
    }
    if args.first().map(String::as_str) == Some("version") || args.iter().any(|a| a == "--version")
    {
        println!("switchyard {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let env: Vec<(String, String)> = std::env::vars().collect();
    let loaded = match switchyard_config::loader::load_static(&args, &env) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("switchyard: invalid static configuration: {e}");
            return ExitCode::from(1);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Threads for blocking work (file reads at start and on a change)
        // end soon after it instead of idling 10 s with their stacks and
        // allocator heaps.
        .thread_keep_alive(std::time::Duration::from_secs(1))
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("switchyard: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(setup::run(loaded)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("switchyard: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `switchyard healthcheck [flags]`: the static configuration from the same
/// sources as a start, then one request to the ping endpoint.
fn healthcheck_command(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", healthcheck::USAGE);
        return ExitCode::SUCCESS;
    }
    let env: Vec<(String, String)> = std::env::vars().collect();
    match switchyard_config::loader::load_static(args, &env) {
        Ok(loaded) => healthcheck::run(&loaded.config),
        Err(e) => {
            eprintln!("switchyard healthcheck: invalid static configuration: {e}");
            ExitCode::from(1)
        }
    }
}

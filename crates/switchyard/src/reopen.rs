//! The files Switchyard writes and reopens on `SIGUSR1`, so that an outside
//! rotator (logrotate) can rename them and have new lines go to a new file
//! at the configured path.
//!
//! Traefik v3 reopens only its access log on `SIGUSR1`; Switchyard reopens
//! `log.filePath` too (the README says so). The access log, when it comes,
//! registers its file here with [`Files::add`]; `wait_for_stop` in
//! `setup.rs` calls [`Files::reopen_all`] on each `SIGUSR1`.

use std::sync::Arc;

type ReopenFn = Arc<dyn Fn() -> std::io::Result<()> + Send + Sync>;

/// The reopenable files, each under the configuration key that names it.
#[derive(Clone, Default)]
pub struct Files {
    files: Vec<(&'static str, ReopenFn)>,
}

impl Files {
    /// Registers a file: `reopen` closes it and opens the configured path
    /// again (creating it if it was moved away). `key` names it in the log,
    /// for example `log.filePath` or `accessLog.filePath`.
    pub fn add(
        &mut self,
        key: &'static str,
        reopen: impl Fn() -> std::io::Result<()> + Send + Sync + 'static,
    ) {
        self.files.push((key, Arc::new(reopen)));
    }

    /// Reopens every registered file; one that fails is logged and keeps
    /// writing where it was, the others are still reopened. Returns how many
    /// were reopened.
    pub fn reopen_all(&self) -> usize {
        let mut done = 0;
        for (key, reopen) in &self.files {
            match reopen() {
                Ok(()) => done += 1,
                Err(e) => tracing::error!(file = key, "SIGUSR1: cannot reopen the file: {e}"),
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_failing_file_does_not_stop_the_others() {
        let calls = Arc::new(AtomicUsize::new(0));
        let mut files = Files::default();
        let c = calls.clone();
        files.add("first", move || {
            c.fetch_add(1, Ordering::Relaxed);
            Err(std::io::Error::other("gone"))
        });
        let c = calls.clone();
        files.add("second", move || {
            c.fetch_add(1, Ordering::Relaxed);
            Ok(())
        });
        assert_eq!(files.reopen_all(), 1);
        assert_eq!(calls.load(Ordering::Relaxed), 2);
    }
}

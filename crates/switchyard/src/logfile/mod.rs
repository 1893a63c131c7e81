//! `log.filePath` with Traefik's rotation (`log.maxSize`, `log.maxBackups`,
//! `log.maxAge`, `log.compress`), which Traefik gets from lumberjack v2:
//!
//! - a write that would take the file past `maxSize` megabytes (100 when 0)
//!   first renames it to a backup (see [`backups`]) and starts a new file at
//!   the path, with the old one's mode; a file already that big at start or
//!   reopen is rotated before the first write; a single write larger than
//!   `maxSize` is refused;
//! - pruning and gzip run on a background thread, never on the writer's.
//!
//! One difference: Traefik 3.7 gzips backups whatever `log.compress` says
//! (it hard-codes lumberjack's `Compress: true`); Switchyard compresses only
//! with `log.compress: true`, as Traefik documents it.
//!
//! Writes happen on the logging thread under one mutex, as they did before
//! rotation existed; a rotation adds one rename and one open to that write.
//! Nothing in this module may log: a log line written while the mutex is
//! held would wait for itself.

pub mod backups;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use backups::{Mill, Names, Retention};

const MEGABYTE: u64 = 1024 * 1024;
/// lumberjack's size when `maxSize` is 0.
const DEFAULT_MAX_MEGABYTES: u64 = 100;

/// The rotation settings of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub max_bytes: u64,
    pub retention: Retention,
}

impl Rotation {
    /// From the `log` section: sizes in megabytes (0, or negative, means
    /// 100), ages in days, 0 for no limit.
    pub fn from_config(log: &switchyard_config::static_config::Log) -> Rotation {
        let megabytes = u64::try_from(log.max_size)
            .ok()
            .filter(|&m| m > 0)
            .unwrap_or(DEFAULT_MAX_MEGABYTES);
        Rotation {
            max_bytes: megabytes.saturating_mul(MEGABYTE),
            retention: Retention {
                max_backups: usize::try_from(log.max_backups).unwrap_or(0),
                max_age_days: u64::try_from(log.max_age).unwrap_or(0),
                compress: log.compress,
            },
        }
    }
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The time a backup is named after, in milliseconds since the epoch.
type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// A rotating log file; clones share it. Give one to the log subscriber as
/// its writer and keep one to [`LogFile::reopen`] it.
#[derive(Clone)]
pub struct LogFile {
    state: Arc<Mutex<State>>,
}

struct State {
    path: PathBuf,
    names: Names,
    max_bytes: u64,
    file: Option<File>,
    /// Bytes in `file`, as counted at open plus what was written since.
    size: u64,
    mill: Option<Mill>,
    clock: Clock,
}

impl LogFile {
    /// Opens (creating it and its directories if needed) the file at `path`
    /// for appending, rotating it first if it is already full, and starts the
    /// background pruning when `rotation` asks for any.
    pub fn open(path: &Path, rotation: Rotation) -> io::Result<LogFile> {
        LogFile::open_with_clock(path, rotation, Arc::new(now_ms))
    }

    /// [`LogFile::open`] with backups named after `clock`'s time.
    fn open_with_clock(path: &Path, rotation: Rotation, clock: Clock) -> io::Result<LogFile> {
        let names = Names::new(path);
        let mill = Mill::start(names.clone(), rotation.retention)?;
        let mut state = State {
            path: path.to_path_buf(),
            names,
            max_bytes: rotation.max_bytes,
            file: None,
            size: 0,
            mill,
            clock,
        };
        state.open_at_path()?;
        Ok(LogFile {
            state: Arc::new(Mutex::new(state)),
        })
    }

    /// Closes the file and opens the configured path again, creating it if
    /// it was moved away: what `SIGUSR1` does, for logrotate. When the path
    /// cannot be opened, writing goes on to the file open before.
    pub fn reopen(&self) -> io::Result<()> {
        let mut state = self.lock();
        let (before, size) = (state.file.take(), state.size);
        let opened = state.open_at_path();
        if opened.is_err() && state.file.is_none() {
            state.file = before;
            state.size = size;
        }
        opened
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Creates the file if missing (with the default mode, as Traefik does
    /// before handing the path to lumberjack), then opens it for appending.
    fn open_at_path(&mut self) -> io::Result<()> {
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path);
        self.open_existing_or_new(0)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let len = buf.len() as u64;
        if len > self.max_bytes {
            return Err(io::Error::other(format!(
                "write length {len} exceeds maximum file size {}",
                self.max_bytes
            )));
        }
        if self.file.is_none() {
            self.open_existing_or_new(len)?;
        }
        if self.size + len > self.max_bytes {
            self.rotate()?;
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("log file not open"))?;
        let n = file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    /// Appends to the existing file unless `len` more bytes would fill it;
    /// rotates it then, and starts a new one when there is none.
    fn open_existing_or_new(&mut self, len: u64) -> io::Result<()> {
        self.nudge_mill();
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return self.open_new(),
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("{}: {e}", self.path.display()),
                ))
            }
        };
        if meta.len() + len >= self.max_bytes {
            return self.rotate();
        }
        match std::fs::OpenOptions::new().append(true).open(&self.path) {
            Ok(f) => {
                self.file = Some(f);
                self.size = meta.len();
                Ok(())
            }
            // As lumberjack: a file that cannot be appended to is moved
            // aside and a new one started.
            Err(_) => self.open_new(),
        }
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        self.open_new()?;
        self.nudge_mill();
        Ok(())
    }

    /// Moves the current file (if any) to its backup name and creates a new
    /// empty one with its mode and owner (0600 when there was none).
    fn open_new(&mut self) -> io::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
        let context = |what: &str, e: io::Error| {
            io::Error::new(e.kind(), format!("{what} {}: {e}", self.path.display()))
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(self.names.dir())
            .map_err(|e| context("cannot create the directory of", e))?;
        let mut mode = 0o600;
        let mut owner = None;
        if let Ok(meta) = std::fs::metadata(&self.path) {
            mode = meta.mode() & 0o7777;
            owner = Some((meta.uid(), meta.gid()));
            std::fs::rename(&self.path, self.names.backup((self.clock)()))
                .map_err(|e| context("cannot rename", e))?;
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&self.path)
            .map_err(|e| context("cannot open", e))?;
        if let Some((uid, gid)) = owner {
            let _ = std::os::unix::fs::fchown(&file, Some(uid), Some(gid));
        }
        self.file = Some(file);
        self.size = 0;
        Ok(())
    }

    fn nudge_mill(&self) {
        if let Some(m) = &self.mill {
            m.nudge();
        }
    }
}

/// The writer of one log event: holds the file for the event's write.
pub struct Writer<'a>(MutexGuard<'a, State>);

impl Write for Writer<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.0.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogFile {
    type Writer = Writer<'a>;

    fn make_writer(&'a self) -> Writer<'a> {
        Writer(self.lock())
    }
}

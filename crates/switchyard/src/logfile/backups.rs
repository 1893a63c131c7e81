//! Rotated log files, named and pruned as Traefik's log writer (lumberjack
//! v2) does: `<stem>-<UTC time as 2006-01-02T15-04-05.000><ext>`, `.gz`
//! appended once compressed; after each rotation (and at start) a background
//! thread keeps the newest `maxBackups`, deletes those whose name's time is
//! more than `maxAge` days old, and gzips the rest when `compress` is on.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

const GZ: &str = ".gz";
const MS_PER_DAY: i64 = 24 * 60 * 60 * 1000;

/// What to keep of the rotated files. Zero means no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    pub max_backups: usize,
    pub max_age_days: u64,
    pub compress: bool,
}

impl Retention {
    /// True when there is nothing to prune or compress, ever.
    pub fn keeps_everything(&self) -> bool {
        self.max_backups == 0 && self.max_age_days == 0 && !self.compress
    }
}

/// How the backups of one log file are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    dir: PathBuf,
    /// The file name up to its last `.`, then `-`.
    prefix: String,
    /// From the last `.` of the file name on (may be empty), as Go's
    /// `filepath.Ext`.
    ext: String,
}

impl Names {
    pub fn new(path: &Path) -> Names {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (stem, ext) = match name.rfind('.') {
            Some(i) => (&name[..i], &name[i..]),
            None => (name.as_str(), ""),
        };
        Names {
            dir,
            prefix: format!("{stem}-"),
            ext: ext.to_string(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The name a file rotated at `unix_ms` gets.
    pub fn backup(&self, unix_ms: i64) -> PathBuf {
        self.dir.join(format!(
            "{}{}{}",
            self.prefix,
            format_time(unix_ms),
            self.ext
        ))
    }

    /// The rotation time of a backup's file name, and whether it is the
    /// gzipped one; `None` for any other file.
    pub fn parse(&self, file_name: &str) -> Option<(i64, bool)> {
        let rest = file_name.strip_prefix(&self.prefix)?;
        if let Some(t) = rest.strip_suffix(&self.ext).and_then(parse_time) {
            return Some((t, false));
        }
        let t = rest
            .strip_suffix(GZ)
            .and_then(|r| r.strip_suffix(&self.ext))
            .and_then(parse_time)?;
        Some((t, true))
    }
}

/// One backup found in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub name: String,
    pub unix_ms: i64,
    pub gz: bool,
}

/// What one pass of the mill does: file names to delete, then to gzip.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub remove: Vec<String>,
    pub compress: Vec<String>,
}

/// Decides, as lumberjack does, which backups go: beyond the newest
/// `max_backups` (a file and its `.gz` count once), then those rotated more
/// than `max_age_days` before `now_ms`; what stays uncompressed is gzipped
/// when `compress` is on.
pub fn plan(mut backups: Vec<Backup>, r: &Retention, now_ms: i64) -> Plan {
    let mut out = Plan::default();
    if r.keeps_everything() {
        return out;
    }
    backups.sort_by(|a, b| b.unix_ms.cmp(&a.unix_ms).then(a.name.cmp(&b.name)));
    if r.max_backups > 0 {
        let mut kept_names: Vec<&str> = Vec::new();
        let mut remaining = Vec::new();
        for b in &backups {
            let base = b.name.strip_suffix(GZ).unwrap_or(&b.name);
            if !kept_names.contains(&base) {
                kept_names.push(base);
            }
            if kept_names.len() > r.max_backups {
                out.remove.push(b.name.clone());
            } else {
                remaining.push(b.clone());
            }
        }
        backups = remaining;
    }
    if r.max_age_days > 0 {
        let age = i64::try_from(r.max_age_days)
            .unwrap_or(i64::MAX)
            .saturating_mul(MS_PER_DAY);
        let cutoff = now_ms.saturating_sub(age);
        let (old, young): (Vec<Backup>, Vec<Backup>) =
            backups.into_iter().partition(|b| b.unix_ms < cutoff);
        out.remove.extend(old.into_iter().map(|b| b.name));
        backups = young;
    }
    if r.compress {
        out.compress = backups
            .into_iter()
            .filter(|b| !b.gz)
            .map(|b| b.name)
            .collect();
    }
    out
}

/// The background thread that prunes and compresses. Nudges coalesce: one
/// pass runs after any number of nudges made while the previous one ran.
pub struct Mill {
    nudge: mpsc::SyncSender<()>,
}

impl Mill {
    /// Starts the thread, or returns `None` when `retention` never removes or
    /// compresses anything. The thread ends when the `Mill` is dropped.
    pub fn start(names: Names, retention: Retention) -> io::Result<Option<Mill>> {
        if retention.keeps_everything() {
            return Ok(None);
        }
        let (tx, rx) = mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("log-backups".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    if let Err(e) = run_once(&names, &retention, super::now_ms()) {
                        tracing::warn!("log.filePath: pruning or compressing old log files: {e}");
                    }
                }
            })?;
        Ok(Some(Mill { nudge: tx }))
    }

    /// Asks for a pass; never blocks.
    pub fn nudge(&self) {
        let _ = self.nudge.try_send(());
    }
}

/// One pass: lists the backups, deletes and compresses as [`plan`] says.
/// Goes on after an error and returns the first one.
pub fn run_once(names: &Names, retention: &Retention, now_ms: i64) -> io::Result<()> {
    let mut backups = Vec::new();
    for entry in std::fs::read_dir(names.dir())? {
        let entry = entry?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((unix_ms, gz)) = names.parse(&name) {
            backups.push(Backup { name, unix_ms, gz });
        }
    }
    let plan = plan(backups, retention, now_ms);
    let mut first_error = None;
    for name in &plan.remove {
        if let Err(e) = std::fs::remove_file(names.dir().join(name)) {
            first_error.get_or_insert(io::Error::new(e.kind(), format!("removing {name}: {e}")));
        }
    }
    for name in &plan.compress {
        let src = names.dir().join(name);
        if let Err(e) = gzip_file(&src, &names.dir().join(format!("{name}{GZ}"))) {
            first_error.get_or_insert(io::Error::new(e.kind(), format!("compressing {name}: {e}")));
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Writes `src` gzipped to `dst` with the same mode and owner, then removes
/// `src`. A `dst` left over by an interrupted earlier attempt is overwritten;
/// on failure `dst` is removed and `src` kept.
fn gzip_file(src: &Path, dst: &Path) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let mut input = File::open(src)?;
    let meta = input.metadata()?;
    let result = (|| {
        let out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(meta.mode() & 0o7777)
            .open(dst)?;
        let _ = std::os::unix::fs::fchown(&out, Some(meta.uid()), Some(meta.gid()));
        let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        io::copy(&mut input, &mut gz)?;
        gz.finish()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(dst);
        return Err(e);
    }
    std::fs::remove_file(src)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = i64::from(month);
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day counted from 1970-01-01: (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // In range by construction: month 1..=12, day 1..=31.
    (year, month as u32, day as u32)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Milliseconds since the epoch as `2006-01-02T15-04-05.000` (UTC).
pub fn format_time(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(MS_PER_DAY);
    let ms_of_day = unix_ms.rem_euclid(MS_PER_DAY);
    let (y, mo, d) = civil_from_days(days);
    let (h, rest) = (ms_of_day / 3_600_000, ms_of_day % 3_600_000);
    let (mi, rest) = (rest / 60_000, rest % 60_000);
    let (s, ms) = (rest / 1000, rest % 1000);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}-{mi:02}-{s:02}.{ms:03}")
}

/// The inverse of [`format_time`]; `None` unless `text` is exactly such a
/// time with every field in range.
pub fn parse_time(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 23 {
        return None;
    }
    let seps = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b'-'),
        (16, b'-'),
        (19, b'.'),
    ];
    if seps.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let digits = &text[from..to];
        if !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, s, ms) = (num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 23)?);
    let month = u32::try_from(mo).ok().filter(|m| (1..=12).contains(m))?;
    let day = u32::try_from(d)
        .ok()
        .filter(|d| (1..=days_in_month(y, month)).contains(d))?;
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = days_from_civil(y, month, day);
    Some(days * MS_PER_DAY + h * 3_600_000 + mi * 60_000 + s * 1000 + ms)
}

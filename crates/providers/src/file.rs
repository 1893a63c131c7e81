//! The file provider: one file (`filename`) or a directory read recursively
//! (`directory`), watched for changes when `watch` is set.
//!
//! It never applies a half-written file. It re-reads when a writer closes a
//! file it wrote (inotify's close-write), when a file is renamed into place,
//! created or deleted (editors' atomic saves, Kubernetes ConfigMap symlink
//! swaps); a bare "modified" event with no close that follows is read only
//! after the file has been quiet for [`QUIET_FALLBACK`]. A file that does not
//! parse keeps its last good content serving, and the error names the file,
//! line and field. In a directory, each file is judged on its own, and a
//! change reads again only the files the events name (the others' parsed
//! results are kept), unless a folder changed. Each file is a Go template
//! first ([`crate::file_template`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use switchyard_config::dynamic::{Configuration, HttpConfiguration};
use tokio::sync::{mpsc, watch};

use crate::{file_template, Message, Sender};

/// How long to wait after a settled change (close-write, rename, create,
/// remove) so that the events of one save become one read: short, as it
/// delays every change.
const SETTLE: Duration = Duration::from_millis(1);
/// How long a file must be quiet after a modification without close-write.
pub const QUIET_FALLBACK: Duration = Duration::from_millis(500);

/// `providers.file`.
#[derive(Debug, Clone)]
pub struct FileProvider {
    pub filename: Option<PathBuf>,
    pub directory: Option<PathBuf>,
    pub watch: bool,
    /// `debugLogGeneratedTemplate`: log each file's rendered text.
    pub debug_log_generated_template: bool,
}

/// A file's last good parse.
#[derive(Debug)]
struct Cached {
    text: String,
    config: Option<Configuration>,
    /// The element blocks `config` was parsed from.
    index: switchyard_config::chunked::ElementIndex,
}

/// What [`FileProvider::read_once`] found.
#[derive(Debug, Default)]
pub struct ReadOnce {
    /// The files' configurations, merged as the provider merges them.
    pub config: Configuration,
    /// Each file's path and rendered text (templates run, with the map
    /// back to the template's lines), for locating elements.
    pub files: Vec<(PathBuf, switchyard_config::template::Rendered)>,
    /// Each file that could not be read, rendered or parsed, with why.
    pub errors: Vec<String>,
}

impl FileProvider {
    pub const NAME: &'static str = "file";

    /// The provider `providers.file` describes.
    pub fn from_config(f: &switchyard_config::static_config::FileProvider) -> FileProvider {
        let path = |p: &Option<String>| p.clone().filter(|s| !s.is_empty()).map(PathBuf::from);
        FileProvider {
            filename: path(&f.filename),
            directory: path(&f.directory),
            watch: f.watch,
            debug_log_generated_template: f.debug_log_generated_template,
        }
    }

    /// Reads every file once, as a start would, without watching
    /// (`switchyard check`).
    pub fn read_once(&self) -> ReadOnce {
        let mut out = ReadOnce::default();
        let Some(root) = self.root() else {
            out.errors
                .push("providers.file needs filename or directory".into());
            return out;
        };
        let paths = if self.directory.is_some() {
            list_files(root)
        } else {
            vec![root.to_path_buf()]
        };
        let mut cache = BTreeMap::new();
        for path in paths {
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    out.errors.push(format!("{}: {e}", path.display()));
                    continue;
                }
            };
            let config = match file_template::load(&path, &text, false) {
                Ok(c) => Some(c),
                Err(e) => {
                    out.errors.push(e);
                    None
                }
            };
            if let Ok(rendered) = file_template::render(&path, &text, false) {
                out.files.push((path.clone(), rendered));
            }
            cache.insert(
                path,
                Cached {
                    text,
                    config,
                    index: Default::default(),
                },
            );
        }
        out.config = merge_files(&cache);
        out
    }

    fn root(&self) -> Option<&Path> {
        self.filename.as_deref().or(self.directory.as_deref())
    }

    /// Runs until `tx` closes. Sends the first configuration at once; then,
    /// with `watch`, one per change; a message on `reload` (SIGHUP) re-reads.
    pub async fn run(self, tx: Sender, mut reload: watch::Receiver<u64>) {
        let Some(root) = self.root().map(Path::to_path_buf) else {
            tracing::error!(
                provider = Self::NAME,
                "providers.file needs filename or directory"
            );
            return;
        };
        let mut cache: BTreeMap<PathBuf, Cached> = BTreeMap::new();
        let mut last_sent: Option<Sent> = None;
        self.read_and_send(&root, Scope::All, &mut cache, &mut last_sent, &tx)
            .await;

        let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<(Trigger, Scope)>();
        // The names of the certificate files last sent: their events matter
        // to a single file's watcher too.
        let cert_names: CertNames = CertNames::default();
        let mut watcher = if self.watch {
            match start_watcher(&root, self.directory.is_some(), ev_tx, cert_names.clone()) {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::error!(provider = Self::NAME, path = %root.display(), error = %e, "cannot watch for changes");
                    None
                }
            }
        } else {
            None
        };

        // Certificate files live anywhere: their folders are watched too.
        let mut cert_dirs: std::collections::HashSet<PathBuf> = Default::default();
        watch_cert_dirs(&mut watcher, &last_sent, &mut cert_dirs, &cert_names);
        let mut deadline: Option<tokio::time::Instant> = None;
        // What the events since the last read touched.
        let mut scope = Scope::Files(BTreeSet::new());
        loop {
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ev = ev_rx.recv() => {
                    let Some((trigger, touched)) = ev else { break };
                    scope.add(touched);
                    let now = tokio::time::Instant::now();
                    let wait = match trigger { Trigger::Settled => SETTLE, Trigger::Writing => QUIET_FALLBACK };
                    let candidate = now + wait;
                    deadline = Some(match (deadline, trigger) {
                        // A settled event brings the read forward; a write
                        // that starts puts it off until that writer closes
                        // (or the file is quiet).
                        (Some(d), Trigger::Settled) => d.min(candidate),
                        _ => candidate,
                    });
                }
                changed = reload.changed() => {
                    if changed.is_err() { break }
                    tracing::info!(provider = Self::NAME, "re-reading on request (SIGHUP)");
                    self.read_and_send(&root, Scope::All, &mut cache, &mut last_sent, &tx).await;
                    watch_cert_dirs(&mut watcher, &last_sent, &mut cert_dirs, &cert_names);
                }
                _ = sleep => {
                    deadline = None;
                    let touched = std::mem::replace(&mut scope, Scope::Files(BTreeSet::new()));
                    if let Some(again) = self.read_and_send(&root, touched, &mut cache, &mut last_sent, &tx).await {
                        deadline = Some(tokio::time::Instant::now() + again);
                        // What was put off is read again, with the rest.
                        scope = Scope::All;
                    }
                    watch_cert_dirs(&mut watcher, &last_sent, &mut cert_dirs, &cert_names);
                    // Events that arrived while reading mean a writer was
                    // busy: the loop sees them and reads again.
                }
            }
            if tx.is_closed() {
                break;
            }
        }
    }

    /// Reads the files `scope` names (in a directory; a single file is
    /// always read), and sends the configuration when it changed. Returns
    /// when to read again, when a file was caught being written.
    async fn read_and_send(
        &self,
        root: &Path,
        scope: Scope,
        cache: &mut BTreeMap<PathBuf, Cached>,
        last_sent: &mut Option<Sent>,
        tx: &Sender,
    ) -> Option<Duration> {
        let mut retry = None;
        let before = cache.len();
        let files = match scope {
            _ if self.directory.is_none() => vec![root.to_path_buf()],
            Scope::All => {
                let files = list_files(root);
                let listed: std::collections::HashSet<&PathBuf> = files.iter().collect();
                cache.retain(|p, _| listed.contains(p));
                files
            }
            Scope::Files(touched) => {
                let (present, gone): (Vec<PathBuf>, Vec<PathBuf>) =
                    touched.into_iter().partition(|p| p.is_file());
                for p in gone {
                    cache.remove(&p);
                }
                present
            }
        };
        tracing::trace!(
            provider = Self::NAME,
            files = files.len(),
            "reading configuration files"
        );
        // Whether a file's configuration changed (or a file went).
        let mut changed = last_sent.is_none() || cache.len() < before;
        for path in &files {
            let (text, modified) = match read_stable(path).await {
                Ok(Some(pair)) => pair,
                Ok(None) => {
                    // It changed while we read it: a writer is at work.
                    retry = Some(SETTLE * 4);
                    continue;
                }
                Err(e) => {
                    tracing::error!(provider = Self::NAME, file = %path.display(), error = %e, "cannot read configuration file; keeping its last good content");
                    continue;
                }
            };
            if cache.get(path).is_some_and(|c| c.text == text) {
                continue;
            }
            // An in-place rewrite empties the file first: an empty file
            // replaces real content only once it has stayed empty a while.
            let was_full = cache.get(path).is_some_and(|c| !c.text.trim().is_empty());
            let young = modified.elapsed().map_or(true, |age| age < QUIET_FALLBACK);
            if text.trim().is_empty() && was_full && young {
                retry = Some(QUIET_FALLBACK);
                continue;
            }
            let (mut previous, mut index) = cache
                .remove(path)
                .map(|c| (c.config, c.index))
                .unwrap_or_default();
            let started = std::time::Instant::now();
            let loaded = file_template::load_reusing(
                path,
                &text,
                self.debug_log_generated_template,
                &mut previous,
                &mut index,
            );
            let config = match loaded {
                Ok(c) => {
                    changed = true;
                    tracing::debug!(provider = Self::NAME, file = %path.display(), elements_reused = index.reused(), parse_ms = started.elapsed().as_secs_f64() * 1000.0, "configuration file read");
                    Some(c)
                }
                Err(e) => {
                    tracing::error!(provider = Self::NAME, file = %path.display(), error = %e, "configuration file is invalid; keeping its last good content");
                    previous
                }
            };
            cache.insert(
                path.clone(),
                Cached {
                    text,
                    config,
                    index,
                },
            );
        }
        // Certificates and keys replaced are a change too.
        let restamped = last_sent
            .as_ref()
            .map(|s| stamps(&s.tls_files))
            .filter(|now| last_sent.as_ref().is_some_and(|s| s.stamps != *now));
        if !changed && restamped.is_none() {
            tracing::debug!(
                provider = Self::NAME,
                "files read but no configuration changed"
            );
            return retry;
        }
        // A file whose text changed may still give the same configuration:
        // the watcher then sees that it equals what is applied.
        let mut merged = merge_files(cache);
        let tls_files = merged.tls_files();
        merged.file_stamps = stamps(&tls_files);
        tracing::info!(
            provider = Self::NAME,
            files = cache.len(),
            "configuration change detected"
        );
        *last_sent = Some(Sent {
            tls_files,
            stamps: merged.file_stamps.clone(),
        });
        let _ = tx
            .send(Message {
                provider: Self::NAME.to_string(),
                config: merged,
            })
            .await;
        retry
    }
}

/// What the provider last sent, as far as it needs to know: the files the
/// configuration names (certificates, keys) and their stamps.
#[derive(Debug)]
struct Sent {
    tls_files: Vec<String>,
    stamps: Vec<(String, u64, u128)>,
}

/// The file names of the certificate files last sent.
type CertNames = std::sync::Arc<std::sync::Mutex<std::collections::HashSet<std::ffi::OsString>>>;

/// Watches the folders of the certificate files last sent.
fn watch_cert_dirs(
    watcher: &mut Option<notify::RecommendedWatcher>,
    sent: &Option<Sent>,
    watched: &mut std::collections::HashSet<PathBuf>,
    names: &CertNames,
) {
    let (Some(w), Some(sent)) = (watcher.as_mut(), sent) else {
        return;
    };
    {
        let mut names = names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        names.clear();
        names.extend(
            sent.tls_files
                .iter()
                .filter_map(|f| Path::new(f).file_name().map(ToOwned::to_owned)),
        );
    }
    for file in &sent.tls_files {
        let dir = Path::new(file)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        if watched.contains(&dir) {
            continue;
        }
        match w.watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                watched.insert(dir);
            }
            Err(e) => {
                tracing::warn!(provider = FileProvider::NAME, directory = %dir.display(), error = %e, "cannot watch certificate folder")
            }
        }
    }
}

/// Reads a file and its modification time; None when it changed while
/// being read.
async fn read_stable(path: &Path) -> std::io::Result<Option<(String, std::time::SystemTime)>> {
    let stamp = |m: std::fs::Metadata| (m.len(), m.modified().ok());
    let before = stamp(tokio::fs::metadata(path).await?);
    let text = tokio::fs::read_to_string(path).await?;
    let after = stamp(tokio::fs::metadata(path).await?);
    if before != after || after.0 != text.len() as u64 {
        return Ok(None);
    }
    Ok(Some((text, after.1.unwrap_or(std::time::UNIX_EPOCH))))
}

/// Which files a read must look at again.
#[derive(Debug)]
enum Scope {
    /// List the folder and read what changed.
    All,
    /// These configuration files (written, created, renamed or removed).
    Files(BTreeSet<PathBuf>),
}

impl Scope {
    fn add(&mut self, other: Scope) {
        match (&mut *self, other) {
            (Scope::All, _) => {}
            (_, Scope::All) => *self = Scope::All,
            (Scope::Files(mine), Scope::Files(theirs)) => mine.extend(theirs),
        }
    }

    /// What the paths of an event below `root` touch: a configuration file
    /// is itself; a hidden file (an editor's, a writer's before its rename)
    /// nothing; a folder, a hidden folder (Kubernetes' `..data`), another
    /// file (a certificate) or anything unclear, everything.
    fn of_event(root: &Path, paths: &[PathBuf]) -> Scope {
        let mut files = BTreeSet::new();
        if paths.is_empty() {
            return Scope::All;
        }
        for path in paths {
            let Ok(relative) = path.strip_prefix(root) else {
                return Scope::All;
            };
            let hidden = relative
                .components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
            let config_ext = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yml" | "yaml" | "toml")
            );
            match (path.is_dir(), hidden, config_ext) {
                (true, _, _) => return Scope::All,
                (false, true, _) => {}
                (false, false, true) => {
                    files.insert(path.clone());
                }
                (false, false, false) => return Scope::All,
            }
        }
        Scope::Files(files)
    }
}

/// Whether an event may have changed the single watched `file` or what
/// it refers to: an event naming the file (written, renamed into place or
/// away), a hidden entry (a symlink swap such as Kubernetes' `..data`,
/// which changes what the file's name points to), a certificate file
/// (`certs`: the names of those last sent), anything outside the file's
/// folder (a certificate's folder), or an event that names nothing. The
/// folder's other files do not.
fn touches_single_file(
    file: &Path,
    paths: &[PathBuf],
    certs: &std::collections::HashSet<std::ffi::OsString>,
) -> bool {
    if paths.is_empty() {
        return true;
    }
    let (name, folder) = (file.file_name(), file.parent());
    paths.iter().any(|p| {
        let Some(own) = p.file_name() else {
            return true;
        };
        Some(own) == name
            || own.to_string_lossy().starts_with('.')
            || certs.contains(own)
            || p.parent() != folder
    })
}

/// What an event means for when to read.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    /// A writer finished (close-write), or a file appeared or went at once.
    Settled,
    /// Bytes changed and a close may follow.
    Writing,
}

fn start_watcher(
    root: &Path,
    is_dir: bool,
    tx: mpsc::UnboundedSender<(Trigger, Scope)>,
    cert_names: CertNames,
) -> notify::Result<notify::RecommendedWatcher> {
    let watched_root = root.to_path_buf();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else {
            let _ = tx.send((Trigger::Writing, Scope::All));
            return;
        };
        let trigger = match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => Trigger::Settled,
            EventKind::Access(_) => return,
            EventKind::Modify(ModifyKind::Name(_)) | EventKind::Remove(_) => Trigger::Settled,
            EventKind::Create(_) => Trigger::Writing,
            EventKind::Modify(ModifyKind::Metadata(_)) => return,
            _ => Trigger::Writing,
        };
        let scope = if is_dir {
            Scope::of_event(&watched_root, &event.paths)
        } else {
            let certs = cert_names
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !touches_single_file(&watched_root, &event.paths, &certs) {
                // Another file in the same folder (a busy log file, say):
                // nothing to read again.
                return;
            }
            Scope::All
        };
        let _ = tx.send((trigger, scope));
    })?;
    // A single file is watched through its directory so that atomic renames
    // and symlink swaps over it are seen.
    let (target, mode) = if is_dir {
        (root.to_path_buf(), RecursiveMode::Recursive)
    } else {
        let parent = root
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        (parent.to_path_buf(), RecursiveMode::NonRecursive)
    };
    watcher.watch(&target, mode)?;
    Ok(watcher)
}

/// Configuration files below `dir`, sorted, recursively; hidden entries
/// (Kubernetes' `..data` folders) are followed only through the visible
/// symlinks that point into them.
fn list_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            tracing::error!(provider = FileProvider::NAME, directory = %d.display(), "cannot read directory");
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if hidden {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yml" | "yaml" | "toml")
            ) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Merges the files' configurations; the first file (in name order) that
/// defines an element wins, and a second definition is logged and skipped.
fn merge_files(cache: &BTreeMap<PathBuf, Cached>) -> Configuration {
    let mut merged = Configuration::default();
    for (path, cached) in cache {
        let Some(config) = &cached.config else {
            continue;
        };
        let Some(http) = &config.http else {
            merge_rest(&mut merged, config);
            continue;
        };
        let into = merged.http.get_or_insert_with(HttpConfiguration::default);
        merge_map(&mut into.routers, &http.routers, "router", path);
        merge_map(&mut into.services, &http.services, "service", path);
        merge_map(&mut into.middlewares, &http.middlewares, "middleware", path);
        merge_map(
            &mut into.servers_transports,
            &http.servers_transports,
            "serversTransport",
            path,
        );
        merge_rest(&mut merged, config);
    }
    merged
}

fn merge_rest(merged: &mut Configuration, config: &Configuration) {
    if merged.tcp.is_none() {
        merged.tcp.clone_from(&config.tcp);
    }
    if merged.udp.is_none() {
        merged.udp.clone_from(&config.udp);
    }
    // Every file's certificates count; options and stores: the first file
    // that defines a name wins.
    if let Some(tls) = &config.tls {
        let into = merged.tls.get_or_insert_with(Default::default);
        into.certificates.extend(tls.certificates.iter().cloned());
        for (k, v) in &tls.options {
            into.options.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in &tls.stores {
            into.stores.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// Size and modification time of each file, for change detection.
fn stamps(files: &[String]) -> Vec<(String, u64, u128)> {
    files
        .iter()
        .map(|f| {
            let meta = std::fs::metadata(f).ok();
            let len = meta.as_ref().map_or(0, std::fs::Metadata::len);
            let modified = meta
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            (f.clone(), len, modified)
        })
        .collect()
}

fn merge_map<T: Clone>(
    into: &mut BTreeMap<String, T>,
    from: &BTreeMap<String, T>,
    kind: &str,
    path: &Path,
) {
    if into.is_empty() {
        // The first file's elements: a copy of its map, node for node,
        // without a search per element.
        into.clone_from(from);
        return;
    }
    for (name, value) in from {
        if into.contains_key(name) {
            tracing::warn!(provider = FileProvider::NAME, file = %path.display(), "HTTP {kind} {name} already configured, skipping");
            continue;
        }
        into.insert(name.clone(), value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_file_is_read_again_only_for_events_that_may_change_it() {
        let file = Path::new("/etc/sy/dynamic.yml");
        let p = |s: &str| PathBuf::from(s);
        let certs: std::collections::HashSet<std::ffi::OsString> =
            [std::ffi::OsString::from("site.pem")].into_iter().collect();
        // (what, the event's paths, whether the file is read again)
        let cases = [
            ("written", vec![p("/etc/sy/dynamic.yml")], true),
            (
                "renamed into place",
                vec![p("/etc/sy/.dynamic.yml.tmp"), p("/etc/sy/dynamic.yml")],
                true,
            ),
            (
                "an editor's file renamed over it",
                vec![p("/etc/sy/dynamic.yml~"), p("/etc/sy/dynamic.yml")],
                true,
            ),
            (
                "a symlink swap",
                vec![p("/etc/sy/..data_tmp"), p("/etc/sy/..data")],
                true,
            ),
            ("a certificate beside it", vec![p("/etc/sy/site.pem")], true),
            (
                "a certificate's folder",
                vec![p("/etc/certs/other.pem")],
                true,
            ),
            ("an event naming nothing", vec![], true),
            ("a log file beside it", vec![p("/etc/sy/access.log")], false),
            (
                "another configuration file",
                vec![p("/etc/sy/other.yml")],
                false,
            ),
            (
                "a name ending like it",
                vec![p("/etc/sy/old-dynamic.yml")],
                false,
            ),
        ];
        for (what, paths, want) in cases {
            assert_eq!(touches_single_file(file, &paths, &certs), want, "{what}");
        }
    }

    #[test]
    fn an_event_touches_its_configuration_files_or_everything() {
        let root = std::env::temp_dir().join(format!("sy-scope-{}", std::process::id()));
        std::fs::create_dir_all(root.join("sub")).expect("dir");
        std::fs::create_dir_all(root.join("..data")).expect("dir");
        std::fs::write(root.join("a.yml"), "").expect("file");
        std::fs::write(root.join("notes.txt"), "").expect("file");
        let p = |rel: &str| root.join(rel);
        let files = |rels: &[&str]| Some(rels.iter().map(|r| p(r)).collect::<BTreeSet<_>>());
        // (what, the event's paths, the files touched; None: everything)
        type Case = (&'static str, Vec<PathBuf>, Option<BTreeSet<PathBuf>>);
        let cases: Vec<Case> = vec![
            ("a configuration file", vec![p("a.yml")], files(&["a.yml"])),
            ("a removed one", vec![p("gone.toml")], files(&["gone.toml"])),
            (
                "a rename: both names",
                vec![p(".a.yml.tmp"), p("b.yaml")],
                files(&["b.yaml"]),
            ),
            ("a hidden temporary file", vec![p(".a.yml.tmp")], files(&[])),
            ("a folder", vec![p("sub")], None),
            ("Kubernetes' ..data", vec![p("..data")], None),
            ("another file (a certificate?)", vec![p("notes.txt")], None),
            (
                "something gone that was no configuration file",
                vec![p("old")],
                None,
            ),
            (
                "outside the folder",
                vec![PathBuf::from("/elsewhere/x.yml")],
                None,
            ),
            ("no path at all", vec![], None),
        ];
        for (what, paths, want) in cases {
            let got = match Scope::of_event(&root, &paths) {
                Scope::All => None,
                Scope::Files(f) => Some(f),
            };
            assert_eq!(got, want, "{what}");
        }
        let mut scope = Scope::Files(BTreeSet::from([p("a.yml")]));
        scope.add(Scope::Files(BTreeSet::from([p("b.yml")])));
        assert!(matches!(&scope, Scope::Files(f) if f.len() == 2));
        scope.add(Scope::All);
        scope.add(Scope::Files(BTreeSet::from([p("c.yml")])));
        assert!(matches!(scope, Scope::All));
        let _ = std::fs::remove_dir_all(&root);
    }
}

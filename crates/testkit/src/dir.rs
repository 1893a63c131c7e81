//! Temporary directories for configuration files, removed when dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

pub struct TestDir {
    path: PathBuf,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDir {
    /// A new empty directory named after `name` under the system temp dir.
    pub fn new(name: &str) -> TestDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("switchyard-test-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create test dir");
        TestDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }

    /// Writes `content` to `rel` (creating folders) in one write, in place.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.path.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent dir");
        }
        std::fs::write(&p, content).expect("write test file");
        p
    }

    /// Writes `content` to a temporary file beside `rel`, then renames it
    /// over `rel` (what editors and many tools do).
    pub fn write_atomic(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.path.join(rel);
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let tmp = p.with_file_name(format!(".{name}.tmp"));
        std::fs::write(&tmp, content).expect("write temp file");
        std::fs::rename(&tmp, &p).expect("rename into place");
        p
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.path.join(rel)).expect("remove test file");
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

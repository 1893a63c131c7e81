//! Docker engine fixtures: an image holding the static `demo-backend`
//! (`FROM scratch`, nothing pulled), and containers of it. Every image and
//! container is named with a unique prefix and removed when its guard is
//! dropped, also when a test fails.
//!
//! The engine must answer `docker info` (scripts/test starts `dockerd`);
//! otherwise the helpers panic with a message saying so. The static
//! `demo-backend` is built on first use with
//! `RUSTFLAGS="-C target-feature=+crt-static"` into `<target>/static`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The target triple the static binary is built for.
const TRIPLE: &str = "x86_64-unknown-linux-gnu";

static COUNTER: AtomicU32 = AtomicU32::new(0);
static BUILD: Mutex<()> = Mutex::new(());

/// A name no other test (or test run) uses: `sytest-<pid>-<n>-<what>`.
pub fn unique_name(what: &str) -> String {
    format!(
        "sytest-{}-{}-{what}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `docker ARGS`; its output (not checked).
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run docker {args:?}: {e} (scripts/test installs docker.io)")
        })
}

/// Runs `docker ARGS` and panics unless it succeeds; its trimmed stdout.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Panics with a clear message when no engine answers.
pub fn require_engine() {
    let out = docker(&["info", "--format", "{{.ServerVersion}}"]);
    assert!(
        out.status.success(),
        "these tests need a Docker engine (`docker info` failed: {}); scripts/test starts dockerd",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // <target>/debug/deps/<test binary>
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .expect("target dir above the test binary")
}

/// The static `demo-backend`, built on first use.
pub fn static_demo_backend() -> PathBuf {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let static_dir = target_dir().join("static");
    let bin = static_dir.join(TRIPLE).join("debug").join("demo-backend");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&workspace)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_TARGET_DIR")
        .args([
            "build",
            "-q",
            "-p",
            "switchyard-testkit",
            "--bin",
            "demo-backend",
            "--target",
            TRIPLE,
            "--target-dir",
        ])
        .arg(&static_dir)
        .status()
        .expect("run cargo to build the static demo-backend");
    assert!(status.success(), "building the static demo-backend failed");
    let ldd = Command::new("ldd").arg(&bin).output().expect("run ldd");
    let said =
        String::from_utf8_lossy(&ldd.stdout).to_string() + &String::from_utf8_lossy(&ldd.stderr);
    assert!(
        said.contains("not a dynamic executable") || said.contains("statically linked"),
        "{} is not static: {said}",
        bin.display()
    );
    bin
}

/// An image of the static `demo-backend`; removed on drop.
pub struct DemoImage {
    pub tag: String,
    context: PathBuf,
}

impl DemoImage {
    /// `FROM scratch` with `/demo-backend`, run as
    /// `demo-backend <name>=0.0.0.0:80` by [`Container::run`].
    /// `extra` lines are appended to the Dockerfile (`EXPOSE`,
    /// `HEALTHCHECK`, ...).
    pub fn build(extra: &str) -> DemoImage {
        require_engine();
        let bin = static_demo_backend();
        let tag = unique_name("image");
        let context = std::env::temp_dir().join(&tag);
        std::fs::create_dir_all(&context).expect("image context dir");
        std::fs::copy(&bin, context.join("demo-backend")).expect("copy demo-backend");
        std::fs::write(
            context.join("Dockerfile"),
            format!("FROM scratch\nCOPY demo-backend /demo-backend\nENTRYPOINT [\"/demo-backend\"]\n{extra}\n"),
        )
        .expect("write Dockerfile");
        let image = DemoImage { tag, context };
        let out = Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", &image.tag])
            .arg(&image.context)
            .output()
            .expect("run docker build");
        assert!(
            out.status.success(),
            "docker build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        image
    }
}

impl Drop for DemoImage {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.tag]);
        let _ = std::fs::remove_dir_all(&self.context);
    }
}

/// A container; removed (with `docker rm -f`) on drop.
pub struct Container {
    pub name: String,
    pub id: String,
}

impl Container {
    /// `docker run -d` of `image` with `labels` and `docker_args` (before
    /// the image), its backends named by `backends` (`name=0.0.0.0:80`).
    pub fn run(
        image: &DemoImage,
        labels: &[(&str, &str)],
        docker_args: &[&str],
        backends: &[&str],
    ) -> Container {
        Container::run_named(&unique_name("ctr"), image, labels, docker_args, backends)
    }

    pub fn run_named(
        name: &str,
        image: &DemoImage,
        labels: &[(&str, &str)],
        docker_args: &[&str],
        backends: &[&str],
    ) -> Container {
        let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), name.into()];
        for (k, v) in labels {
            args.push("--label".into());
            args.push(format!("{k}={v}"));
        }
        args.extend(docker_args.iter().map(|s| s.to_string()));
        args.push(image.tag.clone());
        args.extend(backends.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = docker(&refs);
        // Keep the guard even when the run failed half-way.
        let container = Container {
            name: name.to_string(),
            id: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        };
        assert!(
            out.status.success(),
            "docker run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        container
    }

    /// Its address on the default bridge network.
    pub fn ip(&self) -> String {
        docker_ok(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &self.name,
        ])
    }

    /// `docker inspect -f FORMAT`.
    pub fn inspect(&self, format: &str) -> String {
        docker_ok(&["inspect", "-f", format, &self.name])
    }

    /// Waits (polling, at most `timeout`) until `inspect(format)` is `want`.
    pub fn wait_inspect(&self, format: &str, want: &str, timeout: Duration) {
        let start = Instant::now();
        loop {
            let got = self.inspect(format);
            if got == want {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "{}: {format} is {got:?}, not {want:?} after {timeout:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stop(&self) {
        docker_ok(&["stop", "-t", "1", &self.name]);
    }

    pub fn start(&self) {
        docker_ok(&["start", &self.name]);
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.name]);
    }
}

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
    static_binary("switchyard-testkit", "demo-backend")
}

/// A static build of `bin` of `package` (into `<target>/static`, debug
/// profile), checked with `ldd`.
pub fn static_binary(package: &str, bin: &str) -> PathBuf {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let static_dir = target_dir().join("static");
    let path = static_dir.join(TRIPLE).join("debug").join(bin);
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&workspace)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_TARGET_DIR")
        .args([
            "build",
            "-q",
            "-p",
            package,
            "--bin",
            bin,
            "--target",
            TRIPLE,
            "--target-dir",
        ])
        .arg(&static_dir)
        .status()
        .unwrap_or_else(|e| panic!("run cargo to build a static {bin}: {e}"));
    assert!(status.success(), "building a static {bin} failed");
    let ldd = Command::new("ldd").arg(&path).output().expect("run ldd");
    let said =
        String::from_utf8_lossy(&ldd.stdout).to_string() + &String::from_utf8_lossy(&ldd.stderr);
    assert!(
        said.contains("not a dynamic executable") || said.contains("statically linked"),
        "{} is not static: {said}",
        path.display()
    );
    path
}

/// An image built from `dockerfile` with `files` (name, source path) in
/// its context and `--build-arg`s; removed on drop.
pub struct Image {
    pub tag: String,
    context: PathBuf,
}

impl Image {
    pub fn build(dockerfile: &str, files: &[(&str, &Path)], build_args: &[&str]) -> Image {
        require_engine();
        let tag = unique_name("image");
        let context = std::env::temp_dir().join(&tag);
        std::fs::create_dir_all(&context).expect("image context dir");
        let image = Image { tag, context };
        for (name, source) in files {
            std::fs::copy(source, image.context.join(name)).unwrap_or_else(|e| {
                panic!("copy {} into the image context: {e}", source.display())
            });
        }
        // A label of its own right after FROM: no build step is shared
        // with another image through the build cache, so removing one
        // image never takes layers another build is using.
        let mut text = String::new();
        let mut labelled = false;
        for line in dockerfile.lines() {
            text.push_str(line);
            text.push('\n');
            if !labelled && line.trim_start().to_ascii_uppercase().starts_with("FROM ") {
                text.push_str(&format!("LABEL sytest.image={}\n", image.tag));
                labelled = true;
            }
        }
        std::fs::write(image.context.join("Dockerfile"), text).expect("write Dockerfile");
        let mut args = vec!["build", "-q", "-t", &image.tag];
        for a in build_args {
            args.push("--build-arg");
            args.push(a);
        }
        let out = Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(&args)
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

impl AsRef<str> for Image {
    fn as_ref(&self) -> &str {
        &self.tag
    }
}

impl AsRef<str> for DemoImage {
    fn as_ref(&self) -> &str {
        &self.tag
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.tag]);
        let _ = std::fs::remove_dir_all(&self.context);
    }
}

/// An image of the static `demo-backend`; removed on drop.
pub struct DemoImage {
    pub tag: String,
    _image: Image,
}

impl DemoImage {
    /// `FROM scratch` with `/demo-backend`, run as
    /// `demo-backend <name>=0.0.0.0:80` by [`Container::run`].
    /// `extra` lines are appended to the Dockerfile (`EXPOSE`,
    /// `HEALTHCHECK`, ...).
    pub fn build(extra: &str) -> DemoImage {
        require_engine();
        let bin = static_demo_backend();
        let image = Image::build(
            &format!("FROM scratch\nCOPY demo-backend /demo-backend\nENTRYPOINT [\"/demo-backend\"]\n{extra}\n"),
            &[("demo-backend", &bin)],
            &[],
        );
        DemoImage {
            tag: image.tag.clone(),
            _image: image,
        }
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
        image: impl AsRef<str>,
        labels: &[(&str, &str)],
        docker_args: &[&str],
        backends: &[&str],
    ) -> Container {
        Container::run_named(&unique_name("ctr"), image, labels, docker_args, backends)
    }

    pub fn run_named(
        name: &str,
        image: impl AsRef<str>,
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
        args.push(image.as_ref().to_string());
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

/// A user-defined bridge network; removed on drop (after the containers
/// on it: drop those first).
pub struct Network {
    pub name: String,
}

impl Network {
    pub fn create() -> Network {
        require_engine();
        let network = Network {
            name: unique_name("net"),
        };
        docker_ok(&["network", "create", &network.name]);
        network
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = docker(&["network", "rm", &self.name]);
    }
}

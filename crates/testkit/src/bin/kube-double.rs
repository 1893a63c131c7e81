//! `kube-double PORT [--token TOKEN] [--history N] [--bookmark-ms N] [--tls] [MANIFEST...]`
//! — serves the testkit's stand-in for the Kubernetes API server on
//! http://127.0.0.1:PORT (with `--tls`, https:// with the fixture
//! certificate, signed by `crates/testkit/fixtures/ca.pem`), loaded with the manifests, until killed. The
//! differential suite changes objects through `/_double/...` (see
//! `switchyard_testkit::kube::control`). `KUBE_DOUBLE_LOG=1` prints every
//! request on stderr.

use std::time::Duration;

use switchyard_testkit::{KubeDouble, KubeOptions};

fn usage() -> ! {
    eprintln!(
        "usage: kube-double PORT [--token TOKEN] [--history N] [--bookmark-ms N] [--tls] [MANIFEST...]"
    );
    std::process::exit(2);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(port) = args.next().and_then(|p| p.parse::<u16>().ok()) else {
        usage()
    };
    let mut options = KubeOptions::default();
    let mut manifests = Vec::new();
    while let Some(arg) = args.next() {
        let mut number = || {
            args.next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_else(|| usage())
        };
        match arg.as_str() {
            "--token" => options.token = Some(args.next().unwrap_or_else(|| usage())),
            "--history" => options.history = usize::try_from(number()).unwrap_or(usize::MAX),
            "--bookmark-ms" => options.bookmark_every = Duration::from_millis(number()),
            "--tls" => options.tls = true,
            _ => manifests.push(arg),
        }
    }
    let double = KubeDouble::start_with(port, options);
    for path in &manifests {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("kube-double: reading {path}: {e}");
                std::process::exit(1);
            }
        };
        if let Err(e) = double.apply(&text) {
            eprintln!("kube-double: applying {path}: {}", e.message);
            std::process::exit(1);
        }
    }
    println!("listening on {}", double.endpoint());
    loop {
        std::thread::park();
    }
}

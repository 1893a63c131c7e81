//! `demo-backend [--body FILE] NAME=127.0.0.1:PORT ...` — runs one test
//! backend per argument (see `switchyard_testkit::Backend` for what each
//! answers) until killed. `--body FILE` makes `/body` answer FILE's bytes,
//! typed by its extension (`.json`, `.html`, else `text/plain`).

#[tokio::main]
async fn main() {
    let mut backends = Vec::new();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--body") {
        let Some(file) = args.get(1).cloned() else {
            eprintln!("demo-backend: --body needs a FILE");
            std::process::exit(2);
        };
        let body = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("demo-backend: cannot read {file}: {e}");
                std::process::exit(1);
            }
        };
        let content_type = match std::path::Path::new(&file)
            .extension()
            .and_then(|e| e.to_str())
        {
            Some("json") => "application/json",
            Some("html" | "htm") => "text/html; charset=utf-8",
            _ => "text/plain",
        };
        switchyard_testkit::set_body(body.into(), content_type);
        args.drain(..2);
    }
    if args.is_empty() {
        eprintln!("usage: demo-backend [--body FILE] NAME=127.0.0.1:PORT [NAME=ADDR ...]");
        std::process::exit(2);
    }
    for arg in args {
        let Some((name, addr)) = arg.split_once('=') else {
            eprintln!("demo-backend: expected NAME=ADDR, got {arg}");
            std::process::exit(2);
        };
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("demo-backend: cannot listen on {addr}: {e}");
                std::process::exit(1);
            }
        };
        println!("demo-backend {name} listening on http://{addr}");
        backends.push(switchyard_testkit::Backend::serve(listener, name));
    }
    let _ = tokio::signal::ctrl_c().await;
}

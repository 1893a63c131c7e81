//! `demo-backend NAME=127.0.0.1:PORT ...` — runs one test backend per argument
//! (see `switchyard_testkit::Backend` for what each answers) until killed.

#[tokio::main]
async fn main() {
    let mut backends = Vec::new();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("usage: demo-backend NAME=127.0.0.1:PORT [NAME=ADDR ...]");
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

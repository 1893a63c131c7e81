//! `consul-double PORT [TOKEN]` — serves the testkit's stand-in for
//! Consul's KV HTTP API on 127.0.0.1:PORT until killed (for the
//! differential suite, which writes keys with `PUT /v1/kv/<key>`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(port) = args.first().and_then(|p| p.parse::<u16>().ok()) else {
        eprintln!("usage: consul-double PORT [TOKEN]");
        std::process::exit(2);
    };
    let _double = switchyard_testkit::ConsulDouble::start_on(port, args.get(1).map(String::as_str));
    println!("listening on 127.0.0.1:{port}");
    loop {
        std::thread::park();
    }
}

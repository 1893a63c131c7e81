//! `h3-request ADDR HOST PATH [METHOD [GIVE_UP_MS]]` — one HTTP/3 request
//! (SNI and authority HOST, any server certificate accepted), for the
//! differential suite: prints `{"status", "headers", "body"}` as JSON; a
//! failed handshake or request prints status 0 and the error. With
//! GIVE_UP_MS, a GET that closes its connection after that many
//! milliseconds instead of reading the answer (prints status 0).

use std::net::SocketAddr;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(addr), Some(host), Some(path)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("usage: h3-request ADDR HOST PATH [METHOD [GIVE_UP_MS]]");
        std::process::exit(2);
    };
    let Ok(addr) = addr.parse::<SocketAddr>() else {
        eprintln!("h3-request: {addr:?} is not an address");
        std::process::exit(2);
    };
    let method = args
        .get(3)
        .and_then(|m| http::Method::from_bytes(m.as_bytes()).ok())
        .unwrap_or(http::Method::GET);
    let client = switchyard_testkit::tls_client::TlsClient {
        sni: Some(host.clone()),
        ..Default::default()
    };
    if let Some(ms) = args.get(4).and_then(|ms| ms.parse::<u64>().ok()) {
        let after = std::time::Duration::from_millis(ms);
        let out = match client.give_up_h3(addr, host, path, after).await {
            Ok(()) => serde_json::json!({"status": 0, "headers": {}, "body": ""}),
            Err(e) => serde_json::json!({"status": 0, "headers": {}, "body": "", "error": e}),
        };
        println!("{out}");
        return;
    }
    let out = match client
        .request_h3(addr, method, host, path, bytes::Bytes::new())
        .await
    {
        Ok(r) => {
            let mut headers = serde_json::Map::new();
            for name in r.reply.headers.keys() {
                let values: Vec<&str> = r
                    .reply
                    .headers
                    .get_all(name)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                headers.insert(name.to_string(), values.join(", ").into());
            }
            serde_json::json!({
                "status": r.reply.status.as_u16(),
                "headers": headers,
                "body": r.reply.text(),
            })
        }
        Err(e) => serde_json::json!({"status": 0, "headers": {}, "body": "", "error": e}),
    };
    println!("{out}");
}

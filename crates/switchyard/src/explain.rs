//! `switchyard explain URL`: asks a running instance's API
//! (`/api/explain`) how it would route one request, and prints the answer
//! for a person: the routers tried in order, each matcher of their rules
//! with its result, the router chosen, its middlewares, service and
//! servers — or why the answer is 404.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;
use switchyard_config::static_config::StaticConfiguration;

pub const USAGE: &str = "\
switchyard explain — how a running instance would route one request

Usage:
  switchyard explain [static options] URL [-X METHOD] [-H 'Name: value' ...]
                     [--client-ip IP] [--entrypoint NAME] [--api-url URL]

The instance is reached through its API: the `traefik` entrypoint of the
static configuration (read from the same sources as a start, so
--configFile=... works) when api.insecure is on, else --api-url (the URL the
API answers at, with its basePath). An https:// URL is looked up among the
TLS routers.";

/// The options of the command, and the rest for the static loader.
#[derive(Debug, Default, PartialEq)]
struct Options {
    url: String,
    method: String,
    headers: Vec<String>,
    client_ip: String,
    entrypoint: String,
    api_url: String,
    static_args: Vec<String>,
}

fn options(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<String, String> {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "-X" | "--request" => o.method = value(a)?,
            "-H" | "--header" => o.headers.push(value(a)?),
            "--client-ip" => o.client_ip = value(a)?,
            "--entrypoint" => o.entrypoint = value(a)?,
            "--api-url" => o.api_url = value(a)?,
            _ if a.starts_with("--client-ip=") => o.client_ip = a["--client-ip=".len()..].into(),
            _ if a.starts_with("--entrypoint=") => o.entrypoint = a["--entrypoint=".len()..].into(),
            _ if a.starts_with("--api-url=") => o.api_url = a["--api-url=".len()..].into(),
            _ if a.starts_with('-') => o.static_args.push(a.clone()),
            _ if o.url.is_empty() => o.url = a.clone(),
            _ => return Err(format!("one URL only ({a:?} is a second one)")),
        }
    }
    if o.url.is_empty() {
        return Err("which request? give its URL".into());
    }
    Ok(o)
}

/// `%`-encodes a query value.
fn encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where the API answers: `--api-url`, else the `traefik` entrypoint when
/// `api.insecure` is on.
fn api_base(o: &Options, config: &StaticConfiguration) -> Result<String, String> {
    if !o.api_url.is_empty() {
        return Ok(o.api_url.trim_end_matches('/').to_string());
    }
    let api = config
        .api
        .as_ref()
        .ok_or("the static configuration has no api section: give --api-url")?;
    if !api.insecure {
        return Err(
            "api.insecure is off, so the API is served by your own router: give --api-url".into(),
        );
    }
    let address = config
        .entry_points
        .get("traefik")
        .map_or(":8080", |e| e.address.as_str());
    let hostport = address.split('/').next().unwrap_or(address);
    let hostport = if hostport.starts_with(':') {
        format!("127.0.0.1{hostport}")
    } else {
        hostport.to_string()
    };
    Ok(format!(
        "http://{hostport}{}",
        api.base_path.trim_end_matches('/')
    ))
}

pub fn run(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let fail = |e: String| {
        eprintln!("switchyard explain: {e}");
        ExitCode::from(1)
    };
    let o = match options(args) {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let env: Vec<(String, String)> = std::env::vars().collect();
    let config = if o.api_url.is_empty() {
        match switchyard_config::loader::load_static(&o.static_args, &env) {
            Ok(l) => l.config,
            Err(e) => return fail(format!("invalid static configuration: {e}")),
        }
    } else {
        StaticConfiguration::default()
    };
    let base = match api_base(&o, &config) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let mut query = format!("url={}", encode(&o.url));
    for (k, v) in [
        ("method", &o.method),
        ("clientIp", &o.client_ip),
        ("entryPoint", &o.entrypoint),
    ] {
        if !v.is_empty() {
            query.push_str(&format!("&{k}={}", encode(v)));
        }
    }
    for h in &o.headers {
        query.push_str(&format!("&header={}", encode(h)));
    }
    let url = format!("{base}/api/explain?{query}");
    let (status, body) = match get(&url, Duration::from_secs(5)) {
        Ok(r) => r,
        Err(e) => return fail(format!("{url}: {e}")),
    };
    let v: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(_) => return fail(format!("{url}: {status}: {}", body.trim())),
    };
    if status != 200 {
        let message = v.get("message").and_then(Value::as_str).unwrap_or(&body);
        return fail(message.to_string());
    }
    print!("{}", render(&v));
    ExitCode::SUCCESS
}

/// The explanation as text.
fn render(v: &Value) -> String {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let r = &v["request"];
    let mut out = format!(
        "{} {}{}{} from {} on entrypoint {}{}\n",
        s(r, "method"),
        s(r, "host"),
        s(r, "path"),
        match s(r, "query").as_str() {
            "" => String::new(),
            q => format!("?{q}"),
        },
        s(r, "clientIp"),
        s(r, "entryPoint"),
        if r["tls"].as_bool() == Some(true) {
            " (TLS)"
        } else {
            ""
        },
    );
    out.push_str("routers, in the order tried:\n");
    for router in v["routers"].as_array().into_iter().flatten() {
        let mark = if router["matched"].as_bool() == Some(true) {
            "matches "
        } else {
            "no match"
        };
        out.push_str(&format!(
            "  {mark}  {} (priority {}): {}\n",
            s(router, "name"),
            router["priority"],
            s(router, "rule")
        ));
        if router["matched"].as_bool() != Some(true) {
            for t in router["terms"].as_array().into_iter().flatten() {
                let ok = if t["matched"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no "
                };
                out.push_str(&format!("              {ok} {}\n", s(t, "term")));
            }
        }
    }
    out.push_str(&format!("answer: {}\n", s(v, "answer")));
    out
}

/// One GET over HTTP/1.0 (the server closes when done): status and body.
fn get(url: &str, timeout: Duration) -> Result<(u16, String), String> {
    use std::io::{Read, Write};
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// API URLs are supported")?;
    let (hostport, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr = std::net::ToSocketAddrs::to_socket_addrs(hostport)
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    let mut conn =
        std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    conn.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(conn, "GET {path} HTTP/1.0\r\nHost: {hostport}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    conn.take(16 << 20)
        .read_to_end(&mut raw)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no answer")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status")?;
    Ok((status, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_taken_apart_from_static_flags() {
        let args: Vec<String> = [
            "--configFile=t.yml",
            "http://a.test/x?y=1",
            "-X",
            "POST",
            "-H",
            "X-Env: prod",
            "--client-ip=10.0.0.1",
            "--entrypoint",
            "web",
        ]
        .map(String::from)
        .to_vec();
        let o = options(&args).unwrap();
        assert_eq!(o.url, "http://a.test/x?y=1");
        assert_eq!(o.method, "POST");
        assert_eq!(o.headers, ["X-Env: prod"]);
        assert_eq!(o.client_ip, "10.0.0.1");
        assert_eq!(o.entrypoint, "web");
        assert_eq!(o.static_args, ["--configFile=t.yml"]);
        assert!(options(&["-X".to_string()]).is_err());
        assert!(options(&[]).is_err());
        assert!(options(&["http://a".into(), "http://b".into()]).is_err());
    }

    #[test]
    fn query_values_are_encoded() {
        for (raw, want) in [
            (
                "http://a.test/x?y=1&z",
                "http%3A%2F%2Fa.test%2Fx%3Fy%3D1%26z",
            ),
            ("X-Env: prod", "X-Env%3A%20prod"),
            ("plain-._~", "plain-._~"),
        ] {
            assert_eq!(encode(raw), want, "{raw}");
        }
    }
}

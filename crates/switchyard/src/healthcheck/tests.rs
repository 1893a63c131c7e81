#![allow(clippy::unwrap_used)] // tests unwrap freely

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::client::{self, Head, Target};
use super::{check, ping_url, Error};
use switchyard_config::static_config::StaticConfiguration;

fn config(flags: &[&str]) -> StaticConfiguration {
    let args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
    switchyard_config::loader::load_static_from(&args, &[], &[])
        .unwrap()
        .config
}

#[test]
fn the_url_comes_from_the_ping_entrypoint() {
    let cases: [(&str, &[&str], Result<&str, Error>); 7] = [
        (
            "no ping",
            &["--entryPoints.traefik.address=:8080"],
            Err(Error::PingDisabled),
        ),
        (
            "ping adds the traefik entrypoint on :8080",
            &["--ping"],
            Ok("http://:8080/ping"),
        ),
        (
            "the traefik entrypoint's address",
            &["--ping", "--entryPoints.traefik.address=127.0.0.1:9000"],
            Ok("http://127.0.0.1:9000/ping"),
        ),
        (
            "another entrypoint, its /tcp dropped",
            &[
                "--ping.entryPoint=web",
                "--entryPoints.web.address=[::1]:81/tcp",
            ],
            Ok("http://[::1]:81/ping"),
        ),
        (
            "an empty entryPoint means traefik",
            &["--ping.entryPoint=", "--entryPoints.traefik.address=:9001"],
            Ok("http://:9001/ping"),
        ),
        (
            "manual routing adds no entrypoint",
            &["--ping.manualRouting=true", "--entryPoints.web.address=:80"],
            Err(Error::MissingEntryPoint("traefik".into())),
        ),
        (
            "a ping entrypoint that does not exist",
            &["--ping.entryPoint=admin", "--entryPoints.web.address=:80"],
            Err(Error::MissingEntryPoint("admin".into())),
        ),
    ];
    for (why, flags, want) in cases {
        assert_eq!(ping_url(&config(flags)), want.map(String::from), "{why}");
    }
}

#[test]
fn errors_read_as_traefiks() {
    let cases = [
        (
            Error::PingDisabled,
            "please enable `ping` to use health check",
        ),
        (
            Error::MissingEntryPoint("traefik".into()),
            "ping: missing traefik entry point",
        ),
        (
            Error::Request {
                url: "http://:8080/ping".into(),
                cause: "dial tcp :8080: connect: connection refused".into(),
            },
            r#"Head "http://:8080/ping": dial tcp :8080: connect: connection refused"#,
        ),
    ];
    for (e, want) in cases {
        assert_eq!(e.to_string(), want);
    }
}

#[test]
fn urls_are_taken_apart_as_go_does() {
    let t = |authority: &str, host: &str, port: u16, path: &str| Target {
        authority: authority.into(),
        host: host.into(),
        port,
        path: path.into(),
    };
    let cases = [
        ("http://:8082/ping", Ok(t(":8082", "", 8082, "/ping"))),
        (
            "http://127.0.0.1:8082/ping",
            Ok(t("127.0.0.1:8082", "127.0.0.1", 8082, "/ping")),
        ),
        (
            "http://[::1]:81/ping",
            Ok(t("[::1]:81", "::1", 81, "/ping")),
        ),
        ("http://[::1]/x", Ok(t("[::1]", "::1", 80, "/x"))),
        ("http://host/ping", Ok(t("host", "host", 80, "/ping"))),
        ("http://host:/ping", Ok(t("host:", "host", 80, "/ping"))),
        ("http://h:1?q=1#frag", Ok(t("h:1", "h", 1, "/?q=1"))),
        ("http://h:1", Ok(t("h:1", "h", 1, "/"))),
        ("http://::1:80/ping", Err("IPv6 needs brackets")),
        ("http://[::1:80/ping", Err("missing ']'")),
        ("http://h:99999/ping", Err("invalid port")),
        ("https://h/ping", Err("redirect to https not followed")),
        ("ftp://h/ping", Err("unsupported protocol scheme \"ftp\"")),
    ];
    for (url, want) in cases {
        match (Target::parse(url), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{url}"),
            (Err(got), Err(part)) => assert!(got.contains(part), "{url}: {got}"),
            (got, want) => panic!("{url}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn redirect_locations_resolve_against_the_request() {
    let base = Target::parse("http://:8082/a/ping?x=1").unwrap();
    let cases = [
        ("http://other:1/p", "http://other:1/p"),
        ("https://other/p", "https://other/p"),
        ("//other:2/p", "http://other:2/p"),
        ("/root", "http://:8082/root"),
        ("sibling", "http://:8082/a/sibling"),
    ];
    for (location, want) in cases {
        assert_eq!(base.resolve(location), want, "{location}");
    }
}

#[test]
fn response_heads_parse() {
    let cases: [(&str, Result<Head, &str>); 7] = [
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
            Ok(Head {
                code: 200,
                status: "200 OK".into(),
                location: None,
            }),
        ),
        (
            "HTTP/1.0 404 Not Found\r\n\r\n",
            Ok(Head {
                code: 404,
                status: "404 Not Found".into(),
                location: None,
            }),
        ),
        (
            "HTTP/1.1 503\r\n\r\n",
            Ok(Head {
                code: 503,
                status: "503".into(),
                location: None,
            }),
        ),
        (
            "HTTP/1.1 308 Permanent Redirect\r\nlocation:  https://x/ping \r\n\r\n",
            Ok(Head {
                code: 308,
                status: "308 Permanent Redirect".into(),
                location: Some("https://x/ping".into()),
            }),
        ),
        ("SSH-2.0-OpenSSH\r\n\r\n", Err("malformed HTTP response")),
        ("HTTP/2 200 OK\r\n\r\n", Err("malformed HTTP response")),
        (
            "HTTP/1.1 20 OK\r\n\r\n",
            Err("malformed HTTP status code \"20\""),
        ),
    ];
    for (raw, want) in cases {
        match (client::parse_head(raw.as_bytes()), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{raw:?}"),
            (Err(got), Err(part)) => assert!(got.contains(part), "{raw:?}: {got}"),
            (got, want) => panic!("{raw:?}: got {got:?}, want {want:?}"),
        }
    }
}

/// A server on 127.0.0.1 that answers its n-th connection with
/// `answers[n]` (`None`: accept and say nothing until the test ends) and
/// returns the request heads it read. Gives up after 10 s.
fn scripted(answers: Vec<Option<String>>) -> (SocketAddr, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let start = Instant::now();
        let mut seen = Vec::new();
        let mut silent = Vec::new();
        for answer in answers {
            let mut conn = loop {
                match listener.accept() {
                    Ok((c, _)) => break c,
                    Err(_) if start.elapsed() < Duration::from_secs(10) => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => return seen,
                }
            };
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            seen.push(String::from_utf8_lossy(&head).into_owned());
            match answer {
                Some(text) => {
                    let _ = conn.write_all(text.as_bytes());
                }
                None => silent.push(conn),
            }
        }
        if !silent.is_empty() {
            // Longer than the timeouts the tests use.
            std::thread::sleep(Duration::from_secs(1));
        }
        seen
    });
    (addr, handle)
}

fn ok() -> Option<String> {
    Some("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n".into())
}

fn run_check(addr: SocketAddr, timeout: Duration) -> (String, u8) {
    let cfg = config(&[
        "--ping",
        &format!("--entryPoints.traefik.address=:{}", addr.port()),
    ]);
    check(&cfg, timeout)
}

#[test]
fn two_hundred_is_ok_and_the_request_is_a_head_of_ping() {
    let (addr, server) = scripted(vec![ok()]);
    let out = run_check(addr, Duration::from_secs(5));
    assert_eq!(out, (format!("OK: http://:{}/ping", addr.port()), 0));
    let seen = server.join().unwrap();
    assert!(
        seen[0].starts_with(&format!(
            "HEAD /ping HTTP/1.1\r\nHost: :{}\r\n",
            addr.port()
        )),
        "{seen:?}"
    );
}

#[test]
fn other_answers_and_failures() {
    let port_of = |a: SocketAddr| a.port();
    let redirect = |to: &str| Some(format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\n\r\n"));
    type Case = (
        &'static str,
        Vec<Option<String>>,
        Box<dyn Fn(u16) -> (String, u8)>,
    );
    let cases: Vec<Case> = vec![
        (
            "another status",
            vec![Some("HTTP/1.1 503 Service Unavailable\r\n\r\n".into())],
            Box::new(|_| ("Bad healthcheck status: 503 Service Unavailable".into(), 1)),
        ),
        (
            "1xx heads are skipped",
            vec![Some(
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n".into(),
            )],
            Box::new(|p| (format!("OK: http://:{p}/ping"), 0)),
        ),
        (
            "a redirect is followed and the final URL printed",
            vec![redirect("/ready"), ok()],
            Box::new(|p| (format!("OK: http://:{p}/ready"), 0)),
        ),
        (
            "a 3xx without Location is the answer",
            vec![Some("HTTP/1.1 301 Moved Permanently\r\n\r\n".into())],
            Box::new(|_| ("Bad healthcheck status: 301 Moved Permanently".into(), 1)),
        ),
        (
            "ten redirects at most",
            (0..10).map(|i| redirect(&format!("/r{i}"))).collect(),
            Box::new(|_| {
                (
                    "Error calling healthcheck: Head \"/r9\": stopped after 10 redirects".into(),
                    1,
                )
            }),
        ),
        (
            "closed without an answer",
            vec![Some(String::new())],
            Box::new(|p| {
                (
                    format!("Error calling healthcheck: Head \"http://:{p}/ping\": EOF"),
                    1,
                )
            }),
        ),
    ];
    for (why, answers, want) in cases {
        let (addr, server) = scripted(answers);
        assert_eq!(
            run_check(addr, Duration::from_secs(5)),
            want(port_of(addr)),
            "{why}"
        );
        drop(server);
    }
}

#[test]
fn a_silent_server_times_out() {
    let (addr, _server) = scripted(vec![None]);
    let start = Instant::now();
    let (text, code) = run_check(addr, Duration::from_millis(300));
    assert_eq!(code, 1);
    assert_eq!(
        text,
        format!(
            "Error calling healthcheck: Head \"http://:{}/ping\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
            addr.port()
        )
    );
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn nothing_listening_is_connection_refused() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = config(&["--ping", &format!("--entryPoints.traefik.address=:{port}")]);
    assert_eq!(
        check(&cfg, Duration::from_secs(5)),
        (
            format!(
                "Error calling healthcheck: Head \"http://:{port}/ping\": dial tcp :{port}: connect: connection refused"
            ),
            1
        )
    );
}

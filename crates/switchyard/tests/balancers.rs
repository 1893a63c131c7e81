//! Load-balancing strategies (p2c, hrw, leasttime), sticky cookies on the
//! load balancer and the weighted service, the highestRandomWeight and
//! mirroring services, and the passive health check.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::Method;

fn backend_of(r: &Reply) -> String {
    r.header("x-backend").unwrap_or("-").to_string()
}

async fn get_with(p: &Proxy, host: &str, headers: &[(&str, &str)]) -> Reply {
    request(p.web, Method::GET, host, "/", headers, Bytes::new())
        .await
        .unwrap()
}

/// The `name=value` part of a Set-Cookie header.
fn cookie_pair(r: &Reply) -> Option<String> {
    r.header("set-cookie")
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
}

#[tokio::test]
async fn sticky_cookies_pin_clients_and_move_them_off_a_dead_server() {
    let (a, b, c) = (
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("c").await,
    );
    let dynamic = format!(
        r#"
http:
  routers:
    app:
      rule: "Host(`app.test`)"
      service: app
    split:
      rule: "Host(`split.test`)"
      service: split
  services:
    app:
      loadBalancer:
        sticky:
          cookie: {{name: sid, httpOnly: true, secure: true, sameSite: none, maxAge: 60}}
        healthCheck: {{path: /health, interval: 100ms, timeout: 1s}}
        servers: [{{url: "{}"}}, {{url: "{}"}}]
    split:
      weighted:
        sticky: {{cookie: {{}}}}
        services: [{{name: svc-a}}, {{name: svc-c}}]
    svc-a: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
    svc-c: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        a.url(),
        b.url(),
        a.url(),
        c.url()
    );
    let p = Proxy::start("sticky", &dynamic, "").await;
    wait_until("app routed", Duration::from_secs(10), || async {
        get(p.web, "app.test", "/")
            .await
            .ok()
            .filter(|r| r.status == 200)
    })
    .await;

    let first = get(p.web, "app.test", "/").await.unwrap();
    let set = first.header("set-cookie").unwrap().to_string();
    assert!(
        set.ends_with("; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=None"),
        "{set}"
    );
    let pinned = backend_of(&first);
    let cookie = cookie_pair(&first).unwrap();
    for _ in 0..6 {
        let r = get_with(&p, "app.test", &[("cookie", &cookie)]).await;
        assert_eq!(backend_of(&r), pinned, "the cookie pins the client");
        assert!(
            r.header("set-cookie").is_none(),
            "no new cookie while pinned"
        );
    }
    // Without the cookie, round robin goes on.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..4 {
        seen.insert(backend_of(&get(p.web, "app.test", "/").await.unwrap()));
    }
    assert_eq!(seen.len(), 2);

    // The pinned server fails its health check: the client moves, and gets
    // a cookie for its new server.
    let (dead, other) = if pinned == "a" { (&a, "b") } else { (&b, "a") };
    dead.set_healthy(false);
    let moved = wait_until("client moved", Duration::from_secs(10), || async {
        let r = get_with(&p, "app.test", &[("cookie", &cookie)]).await;
        (backend_of(&r) == other).then_some(r)
    })
    .await;
    let new_cookie = cookie_pair(&moved).unwrap();
    assert_ne!(new_cookie, cookie);
    let r = get_with(&p, "app.test", &[("cookie", &new_cookie)]).await;
    assert_eq!(backend_of(&r), other);

    // A reload that leaves the service alone keeps the mapping.
    p.dir.write(
        "dynamic/other.yml",
        "http:\n  routers:\n    extra:\n      rule: \"Host(`extra.test`)\"\n      service: app@file\n",
    );
    wait_until("reloaded", Duration::from_secs(10), || async {
        get(p.web, "extra.test", "/")
            .await
            .ok()
            .filter(|r| r.status == 200)
    })
    .await;
    let r = get_with(&p, "app.test", &[("cookie", &new_cookie)]).await;
    assert_eq!(backend_of(&r), other);

    // The weighted service sticks to a child service.
    let first = get(p.web, "split.test", "/").await.unwrap();
    let cookie = cookie_pair(&first).unwrap();
    assert!(cookie.starts_with('_'), "generated name: {cookie}");
    for _ in 0..4 {
        let r = get_with(&p, "split.test", &[("cookie", &cookie)]).await;
        assert_eq!(backend_of(&r), backend_of(&first));
    }
}

#[tokio::test]
async fn hrw_keeps_a_client_on_one_server_until_it_is_down() {
    let (a, b, c) = (
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("c").await,
    );
    let dynamic = format!(
        r#"
http:
  routers:
    app:
      rule: "Host(`app.test`)"
      service: app
    svc:
      rule: "Host(`svc.test`)"
      service: by-service
  services:
    app:
      loadBalancer:
        strategy: hrw
        healthCheck: {{path: /health, interval: 100ms, timeout: 1s}}
        servers: [{{url: "{}"}}, {{url: "{}"}}, {{url: "{}"}}]
    by-service:
      highestRandomWeight:
        services: [{{name: svc-a}}, {{name: svc-b}}]
    svc-a: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
    svc-b: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        a.url(),
        b.url(),
        c.url(),
        a.url(),
        b.url()
    );
    let p = Proxy::start("hrw", &dynamic, "").await;
    let first = wait_until("app routed", Duration::from_secs(10), || async {
        get(p.web, "app.test", "/")
            .await
            .ok()
            .filter(|r| r.status == 200)
    })
    .await;
    let chosen = backend_of(&first);
    for _ in 0..8 {
        assert_eq!(
            backend_of(&get(p.web, "app.test", "/").await.unwrap()),
            chosen
        );
    }
    let backend = [&a, &b, &c]
        .into_iter()
        .find(|x| x.name() == chosen)
        .unwrap();
    backend.set_healthy(false);
    let moved = wait_until("moved", Duration::from_secs(10), || async {
        let r = get(p.web, "app.test", "/").await.ok()?;
        (backend_of(&r) != chosen).then(|| backend_of(&r))
    })
    .await;
    for _ in 0..4 {
        assert_eq!(
            backend_of(&get(p.web, "app.test", "/").await.unwrap()),
            moved
        );
    }
    backend.set_healthy(true);
    wait_until("back", Duration::from_secs(10), || async {
        let r = get(p.web, "app.test", "/").await.ok()?;
        (backend_of(&r) == chosen).then_some(())
    })
    .await;

    let first = backend_of(&get(p.web, "svc.test", "/").await.unwrap());
    assert!(first == "a" || first == "b");
    for _ in 0..6 {
        assert_eq!(
            backend_of(&get(p.web, "svc.test", "/").await.unwrap()),
            first
        );
    }
}

#[tokio::test]
async fn p2c_and_leasttime_steer_away_from_busy_and_slow_servers() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let (c, d) = (Backend::start("c").await, Backend::start("d").await);
    let dynamic = format!(
        r#"
http:
  routers:
    p2c:
      rule: "Host(`p2c.test`)"
      service: p2c
    lt:
      rule: "Host(`lt.test`)"
      service: lt
  services:
    p2c:
      loadBalancer:
        strategy: p2c
        servers: [{{url: "{}"}}, {{url: "{}"}}]
    lt:
      loadBalancer:
        strategy: leasttime
        servers: [{{url: "{}"}}, {{url: "{}"}}]
"#,
        a.url(),
        b.url(),
        c.url(),
        d.url()
    );
    let p = Proxy::start("p2c", &dynamic, "").await;
    wait_until("routed", Duration::from_secs(10), || async {
        get(p.web, "p2c.test", "/small")
            .await
            .ok()
            .filter(|r| r.status == 200)
    })
    .await;
    let before = (a.hits(), b.hits());
    // One slow request occupies one server...
    let web = p.web;
    let slow = tokio::spawn(async move { get(web, "p2c.test", "/sleep/1500").await });
    let busy = wait_until("slow request arrived", Duration::from_secs(5), || async {
        if a.hits() > before.0 {
            Some("a")
        } else if b.hits() > before.1 {
            Some("b")
        } else {
            None
        }
    })
    .await;
    // ...so with two servers, every quick request goes to the other one.
    for _ in 0..8 {
        let r = get(p.web, "p2c.test", "/").await.unwrap();
        assert_ne!(backend_of(&r), busy, "p2c picked the busy server");
    }
    assert_eq!(slow.await.unwrap().unwrap().status, 200);

    // leasttime: c answers after 150 ms, d at once; once both have been
    // timed, d gets the traffic.
    c.set_delay_ms(150);
    let mut to_c = 0;
    for _ in 0..12 {
        let r = get(p.web, "lt.test", "/").await.unwrap();
        assert_eq!(r.status, 200);
        if backend_of(&r) == "c" {
            to_c += 1;
        }
    }
    assert!(to_c <= 2, "the slow server got {to_c} of 12");
}

#[tokio::test]
async fn mirroring_copies_requests_without_holding_the_main_one() {
    let (main, full, half, slow) = (
        Backend::start("main").await,
        Backend::start("full").await,
        Backend::start("half").await,
        Backend::start("slow").await,
    );
    slow.set_delay_ms(3000);
    let dynamic = format!(
        r#"
http:
  routers:
    app:
      rule: "Host(`app.test`)"
      service: mirrored
    small:
      rule: "Host(`small.test`)"
      service: small-bodies
  services:
    mirrored:
      mirroring:
        service: main
        mirrors:
          - {{name: full, percent: 100}}
          - {{name: half, percent: 50}}
          - {{name: slow, percent: 100}}
    small-bodies:
      mirroring:
        service: main
        maxBodySize: 8
        mirrors: [{{name: full, percent: 100}}]
    main: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
    full: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
    half: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
    slow: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        main.url(),
        full.url(),
        half.url(),
        slow.url()
    );
    let p = Proxy::start("mirroring", &dynamic, "").await;
    wait_until("routed", Duration::from_secs(10), || async {
        get(p.admin, "localhost", "/api/http/services/mirrored@file")
            .await
            .ok()
            .filter(|r| r.status == 200)
    })
    .await;
    for _ in 0..10 {
        // The slow mirror takes 3 s; the answer does not wait for it.
        let r = tokio::time::timeout(
            Duration::from_secs(2),
            request(
                p.web,
                Method::POST,
                "app.test",
                "/echo",
                &[],
                Bytes::from_static(b"payload"),
            ),
        )
        .await
        .expect("the main answer waited for a mirror")
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(backend_of(&r), "main");
        assert_eq!(r.body, "payload");
    }
    wait_until("mirrors served", Duration::from_secs(10), || async {
        (full.hits() == 10 && half.hits() == 5 && slow.hits() == 10).then_some(())
    })
    .await;
    assert_eq!(main.hits(), 10);

    // A body over maxBodySize is not mirrored, and reaches the main service whole.
    let r = request(
        p.web,
        Method::POST,
        "small.test",
        "/echo",
        &[],
        Bytes::from_static(b"more than eight bytes"),
    )
    .await
    .unwrap();
    assert_eq!(r.body, "more than eight bytes");
    let r = request(
        p.web,
        Method::POST,
        "small.test",
        "/echo",
        &[],
        Bytes::from_static(b"tiny"),
    )
    .await
    .unwrap();
    assert_eq!(r.body, "tiny");
    wait_until("small body mirrored", Duration::from_secs(10), || async {
        (full.hits() == 11).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(full.hits(), 11, "the large body was mirrored");
}

#[tokio::test]
async fn passive_health_check_takes_a_failing_server_out_for_the_window() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let dynamic = format!(
        r#"
http:
  routers:
    app:
      rule: "Host(`app.test`)"
      service: app
  services:
    app:
      loadBalancer:
        passiveHealthCheck: {{maxFailedAttempts: 2, failureWindow: 1500ms}}
        servers: [{{url: "{}"}}, {{url: "{}"}}]
"#,
        a.url(),
        b.url()
    );
    let p = Proxy::start("passive", &dynamic, "").await;
    wait_until("routed", Duration::from_secs(10), || async {
        get(p.web, "app.test", "/")
            .await
            .ok()
            .filter(|r| r.status == 200)
    })
    .await;
    a.set_failing(503);
    // Alternating: a fails twice within the window, then only b answers.
    let mut failures = 0;
    for _ in 0..4 {
        if get(p.web, "app.test", "/").await.unwrap().status == 503 {
            failures += 1;
        }
    }
    assert_eq!(failures, 2);
    let hits = a.hits();
    for _ in 0..6 {
        let r = get(p.web, "app.test", "/").await.unwrap();
        assert_eq!(backend_of(&r), "b");
    }
    assert_eq!(a.hits(), hits, "a was taken out");
    let status = get(p.admin, "localhost", "/api/http/services/app@file")
        .await
        .unwrap()
        .json();
    assert_eq!(status["serverStatus"][a.url()], "DOWN");
    // After the window it is tried again.
    a.set_failing(0);
    wait_until("a back", Duration::from_secs(10), || async {
        let r = get(p.web, "app.test", "/").await.ok()?;
        (backend_of(&r) == "a").then_some(())
    })
    .await;
}

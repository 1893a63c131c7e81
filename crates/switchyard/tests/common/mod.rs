//! Shared set-up for the integration tests: a temp dir with a static
//! configuration and dynamic files, the real binary started on it, and
//! polling helpers.

#![allow(dead_code, unused_imports)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub use switchyard_testkit::{
    free_port, get, h2c_get, request, wait_until, Backend, Reply, Switchyard, TestDir,
};

pub const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

/// A running switchyard with one `web` entrypoint and the API/ping on
/// `traefik`, reading dynamic files from `dir/dynamic`.
pub struct Proxy {
    pub sy: Switchyard,
    pub dir: TestDir,
    pub web: SocketAddr,
    pub admin: SocketAddr,
}

impl Proxy {
    /// Starts with `dynamic` written to `dynamic/config.yml`; `extra_static`
    /// is appended to the generated static configuration (YAML).
    pub async fn start(name: &str, dynamic: &str, extra_static: &str) -> Proxy {
        Proxy::start_with(name, dynamic, "", extra_static).await
    }

    /// Like [`Proxy::start`], with `web_extra` (YAML indented by 4) added to
    /// the `web` entrypoint.
    pub async fn start_with(
        name: &str,
        dynamic: &str,
        web_extra: &str,
        extra_static: &str,
    ) -> Proxy {
        Proxy::start_with_env(name, dynamic, web_extra, extra_static, &[]).await
    }

    /// Like [`Proxy::start_with`], with `env` set for the process.
    pub async fn start_with_env(
        name: &str,
        dynamic: &str,
        web_extra: &str,
        extra_static: &str,
        env: &[(&str, &str)],
    ) -> Proxy {
        let dir = TestDir::new(name);
        let (web, admin) = (free_port(), free_port());
        dir.write("dynamic/config.yml", dynamic);
        let static_yaml = format!(
            "entryPoints:\n  web:\n    address: \"127.0.0.1:{web}\"\n{web_extra}  traefik:\n    address: \"127.0.0.1:{admin}\"\n\
             api:\n  insecure: true\nping: {{}}\nlog:\n  level: DEBUG\n\
             providers:\n  providersThrottleDuration: 0s\n  file:\n    directory: \"{}\"\n    watch: true\n{extra_static}",
            dir.join("dynamic").display()
        );
        dir.write("switchyard.yml", &static_yaml);
        let sy = Switchyard::start_with_env(
            Path::new(BIN),
            dir.path(),
            &["--configFile=switchyard.yml"],
            env,
        );
        let web: SocketAddr = format!("127.0.0.1:{web}").parse().expect("addr");
        let admin: SocketAddr = format!("127.0.0.1:{admin}").parse().expect("addr");
        sy.wait_listening(admin).await;
        Proxy {
            sy,
            dir,
            web,
            admin,
        }
    }

    /// Waits until a GET of `path` with `host` on `web` answers `status`.
    pub async fn wait_status(&self, host: &str, path: &str, status: u16) -> Reply {
        let web = self.web;
        wait_until(
            &format!("{host}{path} to answer {status}"),
            Duration::from_secs(10),
            || async move {
                get(web, host, path)
                    .await
                    .ok()
                    .filter(|r| r.status.as_u16() == status)
            },
        )
        .await
    }

    /// The API's JSON at `path`.
    pub async fn api(&self, path: &str) -> serde_json::Value {
        let r = get(self.admin, "localhost", path)
            .await
            .expect("api request");
        assert_eq!(r.status.as_u16(), 200, "GET {path}: {}", r.text());
        r.json()
    }

    /// Rewrites the dynamic file in place.
    pub fn rewrite(&self, dynamic: &str) {
        self.dir.write("dynamic/config.yml", dynamic);
    }
}

/// A dynamic configuration routing `Host(host)` to `backend`.
pub fn host_route(router: &str, host: &str, backend: &Backend) -> String {
    format!(
        "http:\n  routers:\n    {router}:\n      rule: \"Host(`{host}`)\"\n      service: {router}-svc\n\
         \x20 services:\n    {router}-svc:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
        backend.url()
    )
}

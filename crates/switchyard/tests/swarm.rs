//! The Swarm provider against a real one-node swarm: services of the static
//! demo-backend (`FROM scratch`) on an attachable overlay network.
//!
//! A task's address on an overlay network cannot be reached from the host,
//! so the proxy runs, as a host process, inside the network namespace of a
//! "sidecar" container attached to that network (`nsenter --net`); its
//! entrypoints are published on 127.0.0.1 by the engine. The swarm is
//! initialised (`--advertise-addr 127.0.0.1`) only when the engine is not
//! in one, and left again at the end; services, the network and the
//! sidecar are removed by guards, also on failure.
//!
//! The test is skipped, saying why, when the engine cannot be in swarm
//! mode, or `nsenter` cannot enter a container's network namespace (not
//! root). Virtual IPs (`lbswarm`) are served by the kernel's IPVS: where it
//! is missing, the test checks that the proxy targets the VIP, not that
//! the VIP answers.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use switchyard_testkit::docker::{docker, docker_ok, unique_name, Container, DemoImage};

/// How long a swarm change may take to show (a task starts in a few
/// seconds; the proxy polls every second).
const WAIT: Duration = Duration::from_secs(40);

/// Swarm mode for the test: joined when the engine was in none, left on
/// drop (with the `docker_gwbridge` network the swarm made).
struct SwarmMode {
    created: bool,
    had_gwbridge: bool,
}

impl SwarmMode {
    /// `Err` (why) when the engine cannot be in swarm mode.
    fn enter() -> Result<SwarmMode, String> {
        let info = docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
        if !info.status.success() {
            return Err(format!(
                "no Docker engine: {}",
                String::from_utf8_lossy(&info.stderr).trim()
            ));
        }
        let state = String::from_utf8_lossy(&info.stdout).trim().to_string();
        if state == "active" {
            return Ok(SwarmMode {
                created: false,
                had_gwbridge: true,
            });
        }
        let had_gwbridge = docker(&["network", "inspect", "docker_gwbridge"])
            .status
            .success();
        let init = docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        // From here on, the guard undoes whatever part of it happened.
        let guard = SwarmMode {
            created: true,
            had_gwbridge,
        };
        if !init.status.success() {
            return Err(format!(
                "`docker swarm init --advertise-addr 127.0.0.1` failed (swarm state was {state:?}): {}",
                String::from_utf8_lossy(&init.stderr).trim()
            ));
        }
        Ok(guard)
    }
}

impl Drop for SwarmMode {
    fn drop(&mut self) {
        if !self.created {
            return;
        }
        let _ = docker(&["swarm", "leave", "--force"]);
        if !self.had_gwbridge {
            let _ = docker(&["network", "rm", "docker_gwbridge"]);
        }
    }
}

/// Runs `check` until it is true, at most `timeout` (blocking: for the
/// guards).
fn wait_blocking(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// An attachable overlay network; removed on drop (once its tasks are
/// gone: drop the services first).
struct Overlay {
    name: String,
}

impl Overlay {
    fn create() -> Overlay {
        let overlay = Overlay {
            name: unique_name("overlay"),
        };
        docker_ok(&[
            "network",
            "create",
            "--driver",
            "overlay",
            "--attachable",
            &overlay.name,
        ]);
        overlay
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        wait_blocking(Duration::from_secs(30), || {
            docker(&["network", "rm", &self.name]).status.success()
                || !docker(&["network", "inspect", &self.name]).status.success()
        });
    }
}

/// A swarm service of the demo image; removed on drop (waiting, bounded,
/// until its tasks' containers are gone).
struct SwarmService {
    name: String,
}

impl SwarmService {
    /// `docker service create` of `image` running `backend`
    /// (`name=0.0.0.0:80`) on `network`, with `labels` and `extra` args.
    fn create(
        name: &str,
        image: &DemoImage,
        network: &str,
        labels: &[(&str, &str)],
        extra: &[&str],
        backend: &str,
    ) -> SwarmService {
        let mut args: Vec<String> = [
            "service",
            "create",
            "--detach",
            "--no-resolve-image",
            "--name",
            name,
            "--network",
            network,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (k, v) in labels {
            args.push("--label".into());
            args.push(format!("{k}={v}"));
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(image.tag.clone());
        args.push(backend.to_string());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = docker(&refs);
        let service = SwarmService {
            name: name.to_string(),
        };
        assert!(
            out.status.success(),
            "docker service create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        service
    }

    fn scale(&self, replicas: u32) {
        docker_ok(&[
            "service",
            "scale",
            "--detach",
            &format!("{}={replicas}", self.name),
        ]);
    }

    /// The addresses (no prefix) on `network` of the tasks that run.
    fn task_ips(&self, network: &str) -> BTreeSet<String> {
        let ids = docker_ok(&[
            "service",
            "ps",
            "-q",
            "--no-trunc",
            "--filter",
            "desired-state=running",
            &self.name,
        ]);
        let mut ips = BTreeSet::new();
        for id in ids.lines().filter(|l| !l.is_empty()) {
            let format = format!(
                "{{{{.Status.State}}}}{{{{range .NetworksAttachments}}}}{{{{if eq .Network.Spec.Name \"{network}\"}}}} {{{{range .Addresses}}}}{{{{.}}}}{{{{end}}}}{{{{end}}}}{{{{end}}}}"
            );
            let out = docker(&["inspect", "--type", "task", "-f", &format, id]);
            let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if let Some(("running", addr)) = text.split_once(' ') {
                ips.insert(addr.split('/').next().unwrap_or("").to_string());
            }
        }
        ips
    }

    /// The service's virtual IP on `network`.
    fn vip(&self, network: &str) -> String {
        let id = docker_ok(&["network", "inspect", "-f", "{{.Id}}", network]);
        let format = format!(
            "{{{{range .Endpoint.VirtualIPs}}}}{{{{if eq .NetworkID \"{id}\"}}}}{{{{.Addr}}}}{{{{end}}}}{{{{end}}}}"
        );
        let addr = docker_ok(&["service", "inspect", "-f", &format, &self.name]);
        addr.split('/').next().unwrap_or("").to_string()
    }
}

impl Drop for SwarmService {
    fn drop(&mut self) {
        let _ = docker(&["service", "rm", &self.name]);
        let filter = format!("label=com.docker.swarm.service.name={}", self.name);
        wait_blocking(Duration::from_secs(30), || {
            let out = docker(&["ps", "-aq", "--filter", &filter]);
            out.status.success() && String::from_utf8_lossy(&out.stdout).trim().is_empty()
        });
    }
}

/// The proxy, running in the sidecar's network namespace, reached through
/// the sidecar's published ports.
struct SideProxy {
    sy: Switchyard,
    _dir: TestDir,
    web: SocketAddr,
    admin: SocketAddr,
}

fn published(container: &Container, port: u16) -> SocketAddr {
    let text = docker_ok(&["port", &container.name, &format!("{port}/tcp")]);
    text.lines()
        .find_map(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no 127.0.0.1 port published for {port}: {text:?}"))
}

impl SideProxy {
    async fn start(side: &Container, tag: &str) -> SideProxy {
        let dir = TestDir::new(tag);
        dir.write(
            "switchyard.yml",
            &format!(
                "entryPoints:\n  web:\n    address: \":8000\"\n  traefik:\n    address: \":8080\"\n\
                 api:\n  insecure: true\nlog:\n  level: DEBUG\n\
                 providers:\n  providersThrottleDuration: 0s\n  swarm:\n    refreshSeconds: 1s\n\
                 \x20   constraints: \"Label(`sytest`, `{tag}`)\"\n"
            ),
        );
        let pid = side.inspect("{{.State.Pid}}");
        let sy = Switchyard::start(
            Path::new("nsenter"),
            dir.path(),
            &[
                &format!("--net=/proc/{pid}/ns/net"),
                BIN,
                "--configFile=switchyard.yml",
            ],
        );
        let web = published(side, 8000);
        let admin = published(side, 8080);
        SideProxy {
            sy,
            _dir: dir,
            web,
            admin,
        }
    }

    /// Waits until `host` answers `status`; the answer.
    async fn wait_status(&self, host: &str, status: u16) -> Reply {
        let web = self.web;
        wait_until(&format!("{host} to answer {status}"), WAIT, || async move {
            get(web, host, "/")
                .await
                .ok()
                .filter(|r| r.status.as_u16() == status)
        })
        .await
    }

    /// The server URLs of `service` (`name@swarm`) in the API; empty when
    /// it has none or does not exist.
    async fn servers(&self, service: &str) -> BTreeSet<String> {
        let Ok(r) = get(
            self.admin,
            "localhost",
            &format!("/api/http/services/{service}"),
        )
        .await
        else {
            return BTreeSet::new();
        };
        if r.status.as_u16() != 200 {
            return BTreeSet::new();
        }
        r.json()["loadBalancer"]["servers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s["url"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until the API lists `want` as the servers of `service`.
    async fn wait_servers(&self, service: &str, want: impl Fn() -> BTreeSet<String>) {
        let start = Instant::now();
        loop {
            let expected = want();
            let got = self.servers(service).await;
            if !expected.is_empty() && got == expected {
                return;
            }
            assert!(
                start.elapsed() < WAIT,
                "servers of {service}: {got:?}, expected {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn urls(ips: BTreeSet<String>, port: u16) -> BTreeSet<String> {
    ips.into_iter()
        .map(|ip| format!("http://{ip}:{port}"))
        .collect()
}

/// Why the network namespace of a container cannot be entered, if so.
fn nsenter_unusable() -> Option<String> {
    match Command::new("nsenter")
        .args(["--net=/proc/self/ns/net", "true"])
        .output()
    {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "`nsenter --net` fails (needs root): {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("cannot run nsenter: {e}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_services_are_routed_through_their_tasks() {
    if let Some(why) = nsenter_unusable() {
        eprintln!("SKIPPED swarm test: {why}");
        return;
    }
    let _swarm = match SwarmMode::enter() {
        Ok(s) => s,
        Err(why) => {
            eprintln!("SKIPPED swarm test: {why}");
            return;
        }
    };
    let image = DemoImage::build("");
    let net = Overlay::create();
    let tag = unique_name("swarm");
    // Each service names its own load balancer (`<what>`) and its port.
    let port = |what: &str| {
        (
            format!("traefik.http.services.{what}.loadbalancer.server.port"),
            "80",
        )
    };
    let (web_port, dflt_port, vip_port) = (port("web"), port("dflt"), port("vip"));
    // A service there before the proxy starts: found by the first listing.
    let web = SwarmService::create(
        &format!("{tag}-web"),
        &image,
        &net.name,
        &[
            ("sytest", &tag),
            ("traefik.http.routers.web.rule", "Host(`web.swarm.test`)"),
            (&web_port.0, web_port.1),
        ],
        &["--replicas", "2"],
        "web=0.0.0.0:80",
    );
    let side = Container::run(
        &image,
        &[],
        &[
            "--network",
            &net.name,
            "-p",
            "127.0.0.1::8000",
            "-p",
            "127.0.0.1::8080",
        ],
        &["side=0.0.0.0:7999"],
    );
    let p = SideProxy::start(&side, &tag).await;

    // Its two running tasks are the servers, and they answer.
    p.wait_servers("web@swarm", || {
        let ips = web.task_ips(&net.name);
        if ips.len() == 2 {
            urls(ips, 80)
        } else {
            BTreeSet::new()
        }
    })
    .await;
    let reply = p.wait_status("web.swarm.test", 200).await;
    assert_eq!(reply.json()["name"], "web");
    // The API names the router under the swarm provider.
    let routers = get(p.admin, "localhost", "/api/http/routers")
        .await
        .expect("routers")
        .json();
    let names: Vec<&str> = routers
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(names.contains(&"web@swarm"), "{names:?}");

    // Scaled up and down: the servers follow, at the next poll.
    web.scale(3);
    p.wait_servers("web@swarm", || {
        let ips = web.task_ips(&net.name);
        if ips.len() == 3 {
            urls(ips, 80)
        } else {
            BTreeSet::new()
        }
    })
    .await;
    web.scale(0);
    p.wait_status("web.swarm.test", 404).await;

    // A default rule from the service's name, and a service without a
    // port label (left out, as in Traefik).
    let dflt_name = format!("{tag}-dflt");
    let _dflt = SwarmService::create(
        &dflt_name,
        &image,
        &net.name,
        &[("sytest", &tag), (&dflt_port.0, dflt_port.1)],
        &[],
        "dflt=0.0.0.0:80",
    );
    let _noport = SwarmService::create(
        &format!("{tag}-noport"),
        &image,
        &net.name,
        &[
            ("sytest", &tag),
            ("traefik.http.routers.np.rule", "Host(`np.test`)"),
        ],
        &[],
        "np=0.0.0.0:80",
    );
    let reply = p.wait_status(&dflt_name, 200).await;
    assert_eq!(reply.json()["name"], "dflt");
    wait_until("the port-less service's error", WAIT, || async {
        p.sy.logged("port is missing").then_some(())
    })
    .await;
    let np = get(p.web, "np.test", "/").await.expect("answer");
    assert_eq!(np.status.as_u16(), 404);

    // lbswarm: the service's virtual IP is the one server.
    let vip = SwarmService::create(
        &format!("{tag}-vip"),
        &image,
        &net.name,
        &[
            ("sytest", &tag),
            ("traefik.swarm.lbswarm", "true"),
            ("traefik.http.routers.vip.rule", "Host(`vip.swarm.test`)"),
            (&vip_port.0, vip_port.1),
        ],
        &["--replicas", "2"],
        "vip=0.0.0.0:80",
    );
    let vip_ip = vip.vip(&net.name);
    assert!(!vip_ip.is_empty(), "the service has a VIP on {}", net.name);
    p.wait_servers("vip@swarm", || {
        BTreeSet::from([format!("http://{vip_ip}:80")])
    })
    .await;
    if Path::new("/proc/net/ip_vs").exists() {
        let reply = p.wait_status("vip.swarm.test", 200).await;
        assert_eq!(reply.json()["name"], "vip");
    } else {
        eprintln!("no IPVS in this kernel: the VIP's answer is not tested");
    }

    // Removed: gone at the next poll.
    drop(vip);
    p.wait_status("vip.swarm.test", 404).await;
    // The guards go in reverse order: the proxy, the sidecar and the
    // services, then the network, the image, and the swarm if it was ours.
}

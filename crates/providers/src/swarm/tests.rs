//! Services and tasks → configuration, without an engine.

use std::collections::BTreeMap;

use switchyard_config::dynamic::Configuration;

use super::engine::{
    Endpoint, EndpointSpec, Network, NetworkAttachment, NetworkRef, Service, ServiceMode,
    ServiceSpec, Snapshot, Task, TaskStatus, VirtualIp,
};
use super::listing::containers;
use super::SwarmProvider;
use crate::docker::build::build;

/// The swarm networks of every case: `a`, `b` and `ingress`.
fn networks() -> Vec<Network> {
    ["a", "b", "ingress"]
        .iter()
        .map(|n| Network {
            id: format!("id-{n}"),
            name: n.to_string(),
        })
        .collect()
}

/// A replicated service in endpoint mode `vip`, with `vips`
/// (`network=10.0.0.2/24`).
fn service(name: &str, labels: &[(&str, &str)], vips: &[(&str, &str)]) -> Service {
    Service {
        id: format!("svc-{name}"),
        spec: ServiceSpec {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            mode: ServiceMode::default(),
            endpoint_spec: Some(EndpointSpec { mode: "vip".into() }),
        },
        endpoint: Endpoint {
            virtual_ips: vips
                .iter()
                .map(|(n, a)| VirtualIp {
                    network_id: format!("id-{n}"),
                    addr: a.to_string(),
                })
                .collect(),
        },
    }
}

fn global(mut s: Service) -> Service {
    s.spec.mode.global = Some(serde_json::json!({}));
    s
}

fn dnsrr(mut s: Service) -> Service {
    s.spec.endpoint_spec = Some(EndpointSpec {
        mode: "dnsrr".into(),
    });
    s
}

/// A task of `service` in slot `slot`, in `state` (desired: running),
/// attached to `attachments` (`network=10.0.1.3/24`).
fn task(service: &str, slot: i64, state: &str, attachments: &[(&str, &str)]) -> Task {
    Task {
        id: format!("t-{service}-{slot}"),
        service_id: format!("svc-{service}"),
        slot,
        status: TaskStatus {
            state: state.into(),
        },
        desired_state: "running".into(),
        networks_attachments: attachments
            .iter()
            .map(|(n, a)| NetworkAttachment {
                network: NetworkRef {
                    id: format!("id-{n}"),
                },
                addresses: vec![a.to_string()],
            })
            .collect(),
    }
}

const PORT: (&str, &str) = ("traefik.http.services.web.loadbalancer.server.port", "80");

/// Routers as `name → (rule, service)`, services as `name → server URLs`.
type Summary = (
    BTreeMap<String, (String, String)>,
    BTreeMap<String, Vec<String>>,
);

fn summary(c: &Configuration) -> Summary {
    let Some(http) = &c.http else {
        return Default::default();
    };
    let routers = http
        .routers
        .iter()
        .map(|(k, r)| (k.clone(), (r.rule.clone(), r.service.clone())))
        .collect();
    let services = http
        .services
        .iter()
        .map(|(k, s)| {
            let mut urls: Vec<String> = s
                .load_balancer
                .as_ref()
                .map(|lb| lb.servers.iter().map(|s| s.url.clone()).collect())
                .unwrap_or_default();
            urls.sort();
            (k.clone(), urls)
        })
        .collect();
    (routers, services)
}

fn routers(list: &[(&str, &str, &str)]) -> BTreeMap<String, (String, String)> {
    list.iter()
        .map(|(n, r, s)| (n.to_string(), (r.to_string(), s.to_string())))
        .collect()
}

fn services(list: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    list.iter()
        .map(|(n, urls)| (n.to_string(), urls.iter().map(|u| u.to_string()).collect()))
        .collect()
}

struct Case {
    what: &'static str,
    config: fn(&mut SwarmProvider),
    services: Vec<Service>,
    tasks: Vec<Task>,
    want: Summary,
    /// A text each build or listing error must contain, in order.
    errors: &'static [&'static str],
}

fn keep(_: &mut SwarmProvider) {}

#[test]
fn services_and_tasks_to_configuration() {
    let web_router = routers(&[("web", "Host(`web`)", "web")]);
    let cases = vec![
        Case {
            what: "replicated service: one server per running task",
            config: keep,
            services: vec![service("web", &[PORT], &[("a", "10.0.0.2/24")])],
            tasks: vec![
                task("web", 1, "running", &[("a", "10.0.0.3/24")]),
                task("web", 2, "running", &[("a", "10.0.0.4/24")]),
            ],
            want: (
                web_router.clone(),
                services(&[("web", &["http://10.0.0.3:80", "http://10.0.0.4:80"])]),
            ),
            errors: &[],
        },
        Case {
            what: "tasks not running are left out (pending, shutdown, desired shutdown)",
            config: keep,
            services: vec![service("web", &[PORT], &[])],
            tasks: vec![
                task("web", 1, "running", &[("a", "10.0.0.3/24")]),
                task("web", 2, "pending", &[("a", "10.0.0.4/24")]),
                task("web", 3, "shutdown", &[("a", "10.0.0.5/24")]),
                Task {
                    desired_state: "shutdown".into(),
                    ..task("web", 4, "running", &[("a", "10.0.0.6/24")])
                },
            ],
            want: (
                web_router.clone(),
                services(&[("web", &["http://10.0.0.3:80"])]),
            ),
            errors: &[],
        },
        Case {
            what: "no running task: nothing at all",
            config: keep,
            services: vec![service("web", &[PORT], &[])],
            tasks: vec![task("web", 1, "failed", &[("a", "10.0.0.3/24")])],
            want: Default::default(),
            errors: &[],
        },
        Case {
            what: "lbswarm: the virtual IP, not the tasks",
            config: keep,
            services: vec![service(
                "web",
                &[PORT, ("traefik.swarm.lbswarm", "true")],
                &[("a", "10.0.0.2/24")],
            )],
            tasks: vec![task("web", 1, "running", &[("a", "10.0.0.3/24")])],
            want: (
                web_router.clone(),
                services(&[("web", &["http://10.0.0.2:80"])]),
            ),
            errors: &[],
        },
        Case {
            what: "lbswarm with the deprecated traefik.docker label",
            config: keep,
            services: vec![service(
                "web",
                &[PORT, ("traefik.docker.lbswarm", "true")],
                &[("b", "10.0.5.2/24")],
            )],
            tasks: vec![task("web", 1, "running", &[("b", "10.0.5.3/24")])],
            want: (
                web_router.clone(),
                services(&[("web", &["http://10.0.5.2:80"])]),
            ),
            errors: &[],
        },
        Case {
            what: "lbswarm without a virtual IP (no network): left out",
            config: keep,
            services: vec![service(
                "web",
                &[PORT, ("traefik.swarm.lbswarm", "true")],
                &[],
            )],
            tasks: vec![task("web", 1, "running", &[("a", "10.0.0.3/24")])],
            want: Default::default(),
            errors: &[],
        },
        Case {
            what: "lbswarm in endpoint mode dnsrr: the tasks",
            config: keep,
            services: vec![dnsrr(service(
                "web",
                &[PORT, ("traefik.swarm.lbswarm", "true")],
                &[],
            ))],
            tasks: vec![task("web", 1, "running", &[("a", "10.0.0.3/24")])],
            want: (
                web_router.clone(),
                services(&[("web", &["http://10.0.0.3:80"])]),
            ),
            errors: &[],
        },
        Case {
            what: "several networks, no choice: the first by name",
            config: keep,
            services: vec![service("web", &[PORT], &[])],
            tasks: vec![task(
                "web",
                1,
                "running",
                &[("ingress", "10.0.9.3/24"), ("b", "10.0.5.3/24")],
            )],
            want: (
                web_router.clone(),
                services(&[("web", &["http://10.0.5.3:80"])]),
            ),
            errors: &[],
        },
        Case {
            what: "several networks: traefik.swarm.network chooses",
            config: keep,
            services: vec![service(
                "web",
                &[PORT, ("traefik.swarm.network", "ingress")],
                &[],
            )],
            tasks: vec![task(
                "web",
                1,
                "running",
                &[("ingress", "10.0.9.3/24"), ("b", "10.0.5.3/24")],
            )],
            want: (
                web_router.clone(),
                services(&[("web", &["http://10.0.9.3:80"])]),
            ),
            errors: &[],
        },
        Case {
            what: "several networks: the provider's network chooses",
            config: |c| c.network = "b".into(),
            services: vec![service("web", &[PORT], &[])],
            tasks: vec![task(
                "web",
                1,
                "running",
                &[("a", "10.0.0.3/24"), ("b", "10.0.5.3/24")],
            )],
            want: (
                web_router.clone(),
                services(&[("web", &["http://10.0.5.3:80"])]),
            ),
            errors: &[],
        },
        Case {
            what: "lbswarm on two networks, the label chooses the VIP",
            config: keep,
            services: vec![service(
                "web",
                &[
                    PORT,
                    ("traefik.swarm.lbswarm", "true"),
                    ("traefik.swarm.network", "b"),
                ],
                &[("a", "10.0.0.2/24"), ("b", "10.0.5.2/24")],
            )],
            tasks: vec![],
            want: (
                web_router.clone(),
                services(&[("web", &["http://10.0.5.2:80"])]),
            ),
            errors: &[],
        },
        Case {
            what: "a network that is not swarm-scoped is not an address",
            config: keep,
            services: vec![service("web", &[PORT], &[])],
            tasks: vec![
                task("web", 1, "running", &[("host", "")]),
                task("web", 2, "running", &[("bridge", "172.17.0.2/16")]),
            ],
            want: Default::default(),
            errors: &[],
        },
        Case {
            what: "no port label: left out (a service has no exposed port)",
            config: keep,
            services: vec![service("web", &[], &[])],
            tasks: vec![task("web", 1, "running", &[("a", "10.0.0.3/24")])],
            want: Default::default(),
            errors: &["port is missing"],
        },
        Case {
            what: "a server URL in the labels needs no port",
            config: keep,
            services: vec![service(
                "web",
                &[(
                    "traefik.http.services.ext.loadbalancer.server.url",
                    "http://127.0.0.1:9",
                )],
                &[],
            )],
            tasks: vec![task("web", 1, "running", &[("a", "10.0.0.3/24")])],
            want: (
                routers(&[("web", "Host(`web`)", "ext")]),
                services(&[("ext", &["http://127.0.0.1:9"])]),
            ),
            errors: &[],
        },
        Case {
            what: "traefik.enable=false, and exposedByDefault off",
            config: |c| c.exposed_by_default = false,
            services: vec![
                service("off", &[PORT, ("traefik.enable", "false")], &[]),
                service("plain", &[PORT], &[]),
                service("web", &[PORT, ("traefik.enable", "true")], &[]),
            ],
            tasks: vec![
                task("off", 1, "running", &[("a", "10.0.0.7/24")]),
                task("plain", 1, "running", &[("a", "10.0.0.8/24")]),
                task("web", 1, "running", &[("a", "10.0.0.3/24")]),
            ],
            want: (
                web_router.clone(),
                services(&[("web", &["http://10.0.0.3:80"])]),
            ),
            errors: &[],
        },
        Case {
            what: "constraints on the service's labels",
            config: |c| c.constraints = "Label(`team`, `blue`)".into(),
            services: vec![
                service("web", &[PORT, ("team", "blue")], &[]),
                service("other", &[PORT, ("team", "red")], &[]),
            ],
            tasks: vec![
                task("web", 1, "running", &[("a", "10.0.0.3/24")]),
                task("other", 1, "running", &[("a", "10.0.0.8/24")]),
            ],
            want: (
                web_router.clone(),
                services(&[("web", &["http://10.0.0.3:80"])]),
            ),
            errors: &[],
        },
        Case {
            what: "Docker and Swarm labels together: the service is left out",
            config: keep,
            services: vec![service(
                "web",
                &[
                    PORT,
                    ("traefik.docker.network", "a"),
                    ("traefik.swarm.network", "a"),
                ],
                &[],
            )],
            tasks: vec![task("web", 1, "running", &[("a", "10.0.0.3/24")])],
            want: Default::default(),
            errors: &["both Docker and Swarm labels are defined"],
        },
        Case {
            what: "a Docker-only label (allownonrunning) is unknown to Swarm's section",
            config: keep,
            services: vec![service(
                "web",
                &[PORT, ("traefik.swarm.allownonrunning", "true")],
                &[],
            )],
            tasks: vec![task("web", 1, "running", &[("a", "10.0.0.3/24")])],
            want: Default::default(),
            errors: &["allownonrunning"],
        },
        Case {
            what: "labelled router and middleware; two services share a router name",
            config: keep,
            services: vec![
                service(
                    "web",
                    &[
                        PORT,
                        ("traefik.http.routers.r.rule", "Path(`/w`)"),
                        ("traefik.http.routers.r.middlewares", "strip"),
                        ("traefik.http.middlewares.strip.stripprefix.prefixes", "/w"),
                    ],
                    &[],
                ),
                service(
                    "api",
                    &[("traefik.http.services.api.loadbalancer.server.port", "8080")],
                    &[],
                ),
            ],
            tasks: vec![
                task("web", 1, "running", &[("a", "10.0.0.3/24")]),
                task("api", 1, "running", &[("a", "10.0.0.4/24")]),
            ],
            want: (
                routers(&[("api", "Host(`api`)", "api"), ("r", "Path(`/w`)", "web")]),
                services(&[
                    ("api", &["http://10.0.0.4:8080"]),
                    ("web", &["http://10.0.0.3:80"]),
                ]),
            ),
            errors: &[],
        },
    ];
    for case in cases {
        let mut config = SwarmProvider::default();
        (case.config)(&mut config);
        let settings = super::settings(&config).expect(case.what);
        let snapshot = Snapshot {
            services: case.services,
            tasks: case.tasks,
            networks: networks(),
        };
        let listed = containers(&snapshot);
        let built = build(&listed.containers, &settings);
        assert_eq!(summary(&built.configuration), case.want, "{}", case.what);
        let errors: Vec<&String> = listed.errors.iter().chain(&built.errors).collect();
        assert_eq!(errors.len(), case.errors.len(), "{}: {errors:?}", case.what);
        for (got, want) in errors.iter().zip(case.errors) {
            assert!(got.contains(want), "{}: {got:?} lacks {want:?}", case.what);
        }
    }
}

#[test]
fn task_names_and_what_is_warned() {
    let snapshot = Snapshot {
        services: vec![
            service("web", &[PORT], &[]),
            global(service("agent", &[PORT], &[])),
            service("old", &[PORT, ("traefik.docker.network", "a")], &[]),
            dnsrr(service(
                "rr",
                &[PORT, ("traefik.swarm.lbswarm", "true")],
                &[],
            )),
        ],
        tasks: vec![
            task("web", 3, "running", &[("a", "10.0.0.3/24")]),
            task("agent", 0, "running", &[("a", "10.0.0.4/24")]),
            task("old", 1, "running", &[("a", "10.0.0.5/24")]),
            task("rr", 1, "running", &[("a", "10.0.0.6/24")]),
        ],
        networks: networks(),
    };
    let listed = containers(&snapshot);
    let names: Vec<(&str, &str, &str)> = listed
        .containers
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str(), c.service.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("t-web-3", "web.3", "web"),
            // A global service's task is named by its ID, not its slot.
            ("t-agent-0", "agent.t-agent-0", "agent"),
            ("t-old-1", "old.1", "old"),
            ("t-rr-1", "rr.1", "rr"),
        ]
    );
    assert_eq!(listed.deprecated, vec!["old".to_string()]);
    assert_eq!(listed.dnsrr_lbswarm, vec!["rr".to_string()]);
    assert!(listed.errors.is_empty(), "{:?}", listed.errors);
}

#[test]
fn default_rule_sees_the_service_and_the_task() {
    let mut config = SwarmProvider {
        default_rule:
            "Host(`{{ .ContainerName }}.{{ normalize .Name }}.{{ index .Labels \"zone\" }}`)".into(),
        ..SwarmProvider::default()
    };
    let snapshot = Snapshot {
        services: vec![service("my_web", &[PORT, ("zone", "eu")], &[])],
        tasks: vec![task("my_web", 2, "running", &[("a", "10.0.0.3/24")])],
        networks: networks(),
    };
    let settings = super::settings(&config).expect("settings");
    let built = build(&containers(&snapshot).containers, &settings);
    assert_eq!(
        summary(&built.configuration).0,
        routers(&[("my-web", "Host(`my_web.2.my-web.eu`)", "web")])
    );
    // A template that does not parse stops the provider, naming its key.
    config.default_rule = "Host(`{{ .Name `)".into();
    let err = super::settings(&config).err().unwrap_or_default();
    assert!(err.contains("providers.swarm.defaultRule"), "{err}");
}

#[test]
fn engine_answers_parse() {
    // Trimmed from a 20.10 engine's answers; `null` where the engine
    // sends it for an empty list or map.
    let services: Vec<Service> = serde_json::from_str(
        r#"[{"ID":"s1","Version":{"Index":15},"Spec":{"Name":"web","Labels":{"a":"b"},
            "Mode":{"Replicated":{"Replicas":2}},"EndpointSpec":{"Mode":"vip"}},
            "Endpoint":{"Spec":{"Mode":"vip"},"VirtualIPs":[{"NetworkID":"n1","Addr":"10.0.1.2/24"}]}},
           {"ID":"s2","Spec":{"Name":"agent","Labels":null,"Mode":{"Global":{}}},"Endpoint":{"Spec":{}}}]"#,
    )
    .expect("services parse");
    assert_eq!(services[0].spec.labels["a"], "b");
    assert_eq!(services[0].endpoint.virtual_ips[0].addr, "10.0.1.2/24");
    assert_eq!(
        services[0]
            .spec
            .endpoint_spec
            .as_ref()
            .map(|e| e.mode.as_str()),
        Some("vip")
    );
    assert!(services[0].spec.mode.global.is_none());
    assert!(services[1].spec.mode.global.is_some());
    assert!(services[1].spec.labels.is_empty());
    assert!(services[1].spec.endpoint_spec.is_none());
    let tasks: Vec<Task> = serde_json::from_str(
        r#"[{"ID":"t1","ServiceID":"s1","Slot":2,"NodeID":"n",
            "Status":{"State":"running","Message":"started","PortStatus":{}},"DesiredState":"running",
            "NetworksAttachments":[{"Network":{"ID":"n1","Spec":{"Name":"net"}},"Addresses":["10.0.1.3/24"]}]},
           {"ID":"t2","ServiceID":"s2","Status":{"State":"pending"},"DesiredState":"running","NetworksAttachments":null}]"#,
    )
    .expect("tasks parse");
    assert_eq!(tasks[0].slot, 2);
    assert_eq!(tasks[0].status.state, "running");
    assert_eq!(tasks[0].networks_attachments[0].network.id, "n1");
    assert_eq!(tasks[0].networks_attachments[0].addresses, ["10.0.1.3/24"]);
    assert!(tasks[1].networks_attachments.is_empty());
    let networks: Vec<Network> =
        serde_json::from_str(r#"[{"Name":"net","Id":"n1","Scope":"swarm","Driver":"overlay"}]"#)
            .expect("networks parse");
    assert_eq!(networks[0].id, "n1");
    let listed = containers(&Snapshot {
        services,
        tasks,
        networks,
    });
    assert_eq!(listed.containers.len(), 1);
    assert_eq!(listed.containers[0].networks["net"], "10.0.1.3");
}

#[test]
fn addresses_without_a_prefix_or_broken() {
    let snapshot = Snapshot {
        services: vec![service("web", &[PORT], &[])],
        tasks: vec![
            task("web", 1, "running", &[("a", "fd00::3/64")]),
            task("web", 2, "running", &[("a", "10.0.0.4")]),
            task("web", 3, "running", &[("a", "garbage")]),
        ],
        networks: networks(),
    };
    let settings = super::settings(&SwarmProvider::default()).expect("settings");
    let built = build(&containers(&snapshot).containers, &settings);
    assert_eq!(
        summary(&built.configuration).1,
        services(&[("web", &["http://10.0.0.4:80", "http://[fd00::3]:80"])])
    );
    // The broken one has no address: left out, with the reason.
    assert_eq!(built.errors.len(), 1, "{:?}", built.errors);
    assert!(
        built.errors[0].contains("unable to find the IP address"),
        "{:?}",
        built.errors
    );
}

#[test]
fn refresh_default_and_shared_settings() {
    let config = SwarmProvider::default();
    assert_eq!(
        std::time::Duration::from(config.refresh_seconds),
        std::time::Duration::from_secs(15)
    );
    assert!(config.watch && config.exposed_by_default);
    assert_eq!(config.endpoint, "unix:///var/run/docker.sock");
    let bad = SwarmProvider {
        constraints: "Label(".into(),
        ..SwarmProvider::default()
    };
    let err = super::settings(&bad).err().unwrap_or_default();
    assert!(err.starts_with("providers.swarm.constraints"), "{err}");
}

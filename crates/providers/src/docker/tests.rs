//! Containers → configuration, without an engine.

use std::collections::BTreeMap;
use std::sync::Arc;

use switchyard_config::dynamic::Configuration;
use switchyard_config::static_config::DockerProvider;

use super::build::{build, normalize, service_name, RuleModel, Settings};
use super::container::{Binding, ContainerData, Port};

/// A stand-in for the default rule's template in these tests:
/// ``Host(`<name>.docker.test`)``, an error for a container named `bad`.
fn test_rule(m: &RuleModel<'_>) -> Result<String, String> {
    match m.name {
        "bad" => Err("no rule for bad".into()),
        "empty" => Ok(String::new()),
        name => Ok(format!("Host(`{name}.docker.test`)")),
    }
}

fn settings(edit: impl FnOnce(&mut DockerProvider)) -> Settings {
    let mut config = DockerProvider::default();
    edit(&mut config);
    super::settings(&config, Arc::new(test_rule)).expect("settings")
}

fn container(name: &str, ip: &str, ports: &[u16], labels: &[(&str, &str)]) -> ContainerData {
    ContainerData {
        id: format!("id-{name}"),
        name: format!("/{name}"),
        service: String::new(),
        status: "running".into(),
        health: String::new(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        network_mode: "bridge".into(),
        ports: ports
            .iter()
            .map(|p| Port {
                number: *p,
                protocol: "tcp".into(),
                bindings: Vec::new(),
            })
            .collect(),
        networks: BTreeMap::from([("bridge".to_string(), ip.to_string())]),
        network_container: None,
    }
}

/// The configuration's routers as `name → (rule, service)` and services
/// as `name → server URLs`.
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
            let urls = s
                .load_balancer
                .as_ref()
                .map(|lb| lb.servers.iter().map(|s| s.url.clone()).collect())
                .unwrap_or_default();
            (k.clone(), urls)
        })
        .collect();
    (routers, services)
}

fn routers(pairs: &[(&str, &str, &str)]) -> BTreeMap<String, (String, String)> {
    pairs
        .iter()
        .map(|(n, r, s)| (n.to_string(), (r.to_string(), s.to_string())))
        .collect()
}

fn services(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    pairs
        .iter()
        .map(|(n, urls)| (n.to_string(), urls.iter().map(|u| u.to_string()).collect()))
        .collect()
}

struct Case {
    what: &'static str,
    settings: Settings,
    containers: Vec<ContainerData>,
    routers: BTreeMap<String, (String, String)>,
    services: BTreeMap<String, Vec<String>>,
    /// Parts of the errors, in order.
    errors: &'static [&'static str],
}

fn stopped(mut c: ContainerData) -> ContainerData {
    c.status = "exited".into();
    c
}

fn health(mut c: ContainerData, h: &str) -> ContainerData {
    c.health = h.into();
    c
}

#[test]
fn containers_to_configuration() {
    let default = || settings(|_| {});
    let cases = vec![
        Case {
            what: "labelled router and the container's service",
            settings: default(),
            containers: vec![container(
                "web",
                "172.17.0.2",
                &[80],
                &[("traefik.http.routers.x.rule", "Host(`a.test`)")],
            )],
            routers: routers(&[("x", "Host(`a.test`)", "web")]),
            services: services(&[("web", &["http://172.17.0.2:80"])]),
            errors: &[],
        },
        Case {
            what: "default router and service named after the container",
            settings: default(),
            containers: vec![container("my_app.1", "172.17.0.3", &[8080], &[])],
            routers: routers(&[("my-app-1", "Host(`my-app-1.docker.test`)", "my-app-1")]),
            services: services(&[("my-app-1", &["http://172.17.0.3:8080"])]),
            errors: &[],
        },
        Case {
            what: "compose names: service_project",
            settings: default(),
            containers: vec![container(
                "proj-api-1",
                "172.17.0.4",
                &[80],
                &[
                    ("com.docker.compose.project", "proj"),
                    ("com.docker.compose.service", "api"),
                ],
            )],
            routers: routers(&[("api-proj", "Host(`api-proj.docker.test`)", "api-proj")]),
            services: services(&[("api-proj", &["http://172.17.0.4:80"])]),
            errors: &[],
        },
        Case {
            what: "several exposed ports: the lowest",
            settings: default(),
            containers: vec![container("multi", "172.17.0.5", &[9000, 8080, 8443], &[])],
            routers: routers(&[("multi", "Host(`multi.docker.test`)", "multi")]),
            services: services(&[("multi", &["http://172.17.0.5:8080"])]),
            errors: &[],
        },
        Case {
            what: "several ports, one chosen by label, with a scheme",
            settings: default(),
            containers: vec![container(
                "multi",
                "172.17.0.5",
                &[8080, 9000],
                &[
                    ("traefik.http.services.s.loadbalancer.server.port", "9000"),
                    ("traefik.http.services.s.loadbalancer.server.scheme", "h2c"),
                ],
            )],
            routers: routers(&[("multi", "Host(`multi.docker.test`)", "s")]),
            services: services(&[("s", &["h2c://172.17.0.5:9000"])]),
            errors: &[],
        },
        Case {
            what: "no port at all is an error on that container",
            settings: default(),
            containers: vec![
                container("noport", "172.17.0.6", &[], &[]),
                container("ok", "172.17.0.7", &[80], &[]),
            ],
            routers: routers(&[("ok", "Host(`ok.docker.test`)", "ok")]),
            services: services(&[("ok", &["http://172.17.0.7:80"])]),
            errors: &["port is missing"],
        },
        Case {
            what: "a URL with a port label is an error",
            settings: default(),
            containers: vec![container(
                "u",
                "172.17.0.6",
                &[80],
                &[
                    (
                        "traefik.http.services.s.loadbalancer.server.url",
                        "http://10.0.0.1:1",
                    ),
                    ("traefik.http.services.s.loadbalancer.server.port", "81"),
                ],
            )],
            routers: routers(&[]),
            services: services(&[]),
            errors: &["not allowed when URL is defined"],
        },
        Case {
            what: "a URL label is taken as is",
            settings: default(),
            containers: vec![container(
                "u",
                "172.17.0.6",
                &[80],
                &[(
                    "traefik.http.services.s.loadbalancer.server.url",
                    "http://10.0.0.1:1",
                )],
            )],
            routers: routers(&[("u", "Host(`u.docker.test`)", "s")]),
            services: services(&[("s", &["http://10.0.0.1:1"])]),
            errors: &[],
        },
        Case {
            what: "stopped, unhealthy and starting containers are left out",
            settings: default(),
            containers: vec![
                stopped(container("down", "172.17.0.8", &[80], &[])),
                health(container("sick", "172.17.0.9", &[80], &[]), "unhealthy"),
                health(container("young", "172.17.0.10", &[80], &[]), "starting"),
                health(container("fine", "172.17.0.11", &[80], &[]), "healthy"),
            ],
            routers: routers(&[("fine", "Host(`fine.docker.test`)", "fine")]),
            services: services(&[("fine", &["http://172.17.0.11:80"])]),
            errors: &[],
        },
        Case {
            what: "allowEmptyServices keeps unhealthy containers, without a server",
            settings: settings(|c| c.allow_empty_services = true),
            containers: vec![
                health(container("sick", "172.17.0.9", &[80], &[]), "unhealthy"),
                stopped(container("down", "172.17.0.8", &[80], &[])),
            ],
            routers: routers(&[("sick", "Host(`sick.docker.test`)", "sick")]),
            services: services(&[("sick", &[])]),
            errors: &[],
        },
        Case {
            what: "allownonrunning keeps a stopped container, without a server",
            settings: default(),
            containers: vec![stopped(container(
                "down",
                "172.17.0.8",
                &[80],
                &[("traefik.docker.allownonrunning", "true")],
            ))],
            routers: routers(&[("down", "Host(`down.docker.test`)", "down")]),
            services: services(&[("down", &[])]),
            errors: &[],
        },
        Case {
            what: "exposedByDefault=false: only traefik.enable=true",
            settings: settings(|c| c.exposed_by_default = false),
            containers: vec![
                container("hidden", "172.17.0.12", &[80], &[]),
                container("shown", "172.17.0.13", &[80], &[("traefik.enable", "true")]),
            ],
            routers: routers(&[("shown", "Host(`shown.docker.test`)", "shown")]),
            services: services(&[("shown", &["http://172.17.0.13:80"])]),
            errors: &[],
        },
        Case {
            what: "traefik.enable=false hides a container",
            settings: default(),
            containers: vec![container(
                "off",
                "172.17.0.12",
                &[80],
                &[("traefik.enable", "false")],
            )],
            routers: routers(&[]),
            services: services(&[]),
            errors: &[],
        },
        Case {
            what: "constraints",
            settings: settings(|c| {
                c.constraints = "Label(`zone`, `edge`) && !LabelRegex(`tier`, `^db`)".into()
            }),
            containers: vec![
                container("a", "172.17.0.14", &[80], &[("zone", "edge")]),
                container(
                    "b",
                    "172.17.0.15",
                    &[80],
                    &[("zone", "edge"), ("tier", "db-main")],
                ),
                container("c", "172.17.0.16", &[80], &[("zone", "core")]),
            ],
            routers: routers(&[("a", "Host(`a.docker.test`)", "a")]),
            services: services(&[("a", &["http://172.17.0.14:80"])]),
            errors: &[],
        },
        Case {
            what: "a malformed label is an error on that container only",
            settings: default(),
            containers: vec![
                container(
                    "broken",
                    "172.17.0.17",
                    &[80],
                    &[("traefik.http.routers.r.priority", "high")],
                ),
                container(
                    "unknown",
                    "172.17.0.18",
                    &[80],
                    &[("traefik.http.routers.r.nosuchfield", "1")],
                ),
                container("ok", "172.17.0.19", &[80], &[]),
            ],
            routers: routers(&[("ok", "Host(`ok.docker.test`)", "ok")]),
            services: services(&[("ok", &["http://172.17.0.19:80"])]),
            errors: &["container broken-id-broken", "container unknown-id-unknown"],
        },
        Case {
            what: "a bad traefik.docker label is an error on that container",
            settings: default(),
            containers: vec![container(
                "b",
                "172.17.0.17",
                &[80],
                &[("traefik.enable", "maybe")],
            )],
            routers: routers(&[]),
            services: services(&[]),
            errors: &["traefik.enable"],
        },
        Case {
            what: "a cross-provider reference is kept as written",
            settings: default(),
            containers: vec![container(
                "x",
                "172.17.0.20",
                &[80],
                &[
                    ("traefik.http.routers.r.rule", "Path(`/x`)"),
                    ("traefik.http.routers.r.service", "shared@file"),
                ],
            )],
            routers: routers(&[("r", "Path(`/x`)", "shared@file")]),
            services: services(&[("x", &["http://172.17.0.20:80"])]),
            errors: &[],
        },
        Case {
            what: "two services: no default router; a router without service is dropped",
            settings: default(),
            containers: vec![
                container(
                    "two",
                    "172.17.0.21",
                    &[80],
                    &[
                        ("traefik.http.services.a.loadbalancer.server.port", "80"),
                        ("traefik.http.services.b.loadbalancer.server.port", "81"),
                    ],
                ),
                container(
                    "three",
                    "172.17.0.22",
                    &[80],
                    &[
                        ("traefik.http.routers.r3.rule", "Path(`/`)"),
                        ("traefik.http.services.c.loadbalancer.server.port", "80"),
                        ("traefik.http.services.d.loadbalancer.server.port", "81"),
                    ],
                ),
            ],
            routers: routers(&[]),
            services: services(&[
                ("a", &["http://172.17.0.21:80"]),
                ("b", &["http://172.17.0.21:81"]),
                ("c", &["http://172.17.0.22:80"]),
                ("d", &["http://172.17.0.22:81"]),
            ]),
            errors: &["router \"r3\" cannot be linked automatically"],
        },
        Case {
            what: "a default rule that fails or is empty drops the router",
            settings: default(),
            containers: vec![
                container("bad", "172.17.0.23", &[80], &[]),
                container("empty", "172.17.0.24", &[80], &[]),
            ],
            routers: routers(&[]),
            services: services(&[
                ("bad", &["http://172.17.0.23:80"]),
                ("empty", &["http://172.17.0.24:80"]),
            ]),
            errors: &["no rule for bad", "undefined rule"],
        },
        Case {
            what: "replicas of one service pool their servers",
            settings: default(),
            containers: vec![
                container(
                    "r1",
                    "172.17.0.25",
                    &[80],
                    &[
                        ("traefik.http.routers.app.rule", "Host(`app.test`)"),
                        ("traefik.http.services.app.loadbalancer.server.port", "80"),
                    ],
                ),
                container(
                    "r2",
                    "172.17.0.26",
                    &[80],
                    &[
                        ("traefik.http.routers.app.rule", "Host(`app.test`)"),
                        ("traefik.http.services.app.loadbalancer.server.port", "80"),
                    ],
                ),
            ],
            routers: routers(&[("app", "Host(`app.test`)", "app")]),
            services: services(&[("app", &["http://172.17.0.25:80", "http://172.17.0.26:80"])]),
            errors: &[],
        },
        Case {
            what: "a router defined differently by two containers is dropped",
            settings: default(),
            containers: vec![
                container(
                    "r1",
                    "172.17.0.25",
                    &[80],
                    &[
                        ("traefik.http.routers.app.rule", "Host(`one.test`)"),
                        ("traefik.http.routers.app.service", "s1"),
                        ("traefik.http.services.s1.loadbalancer.server.port", "80"),
                    ],
                ),
                container(
                    "r2",
                    "172.17.0.26",
                    &[80],
                    &[
                        ("traefik.http.routers.app.rule", "Host(`two.test`)"),
                        ("traefik.http.routers.app.service", "s2"),
                        ("traefik.http.services.s2.loadbalancer.server.port", "80"),
                    ],
                ),
            ],
            routers: routers(&[]),
            services: services(&[
                ("s1", &["http://172.17.0.25:80"]),
                ("s2", &["http://172.17.0.26:80"]),
            ]),
            errors: &["HTTP router \"app\" defined multiple times"],
        },
        Case {
            what: "traefik.docker.network picks the network; the provider's network is the default",
            settings: settings(|c| c.network = "back".into()),
            containers: vec![
                {
                    let mut c = container(
                        "n1",
                        "172.17.0.27",
                        &[80],
                        &[("traefik.docker.network", "front")],
                    );
                    c.networks.insert("front".into(), "10.1.0.2".into());
                    c.networks.insert("back".into(), "10.2.0.2".into());
                    c
                },
                {
                    let mut c = container("n2", "172.17.0.28", &[80], &[]);
                    c.networks.insert("back".into(), "10.2.0.3".into());
                    c
                },
                container("n3", "172.17.0.29", &[80], &[]),
            ],
            routers: routers(&[
                ("n1", "Host(`n1.docker.test`)", "n1"),
                ("n2", "Host(`n2.docker.test`)", "n2"),
                ("n3", "Host(`n3.docker.test`)", "n3"),
            ]),
            services: services(&[
                ("n1", &["http://10.1.0.2:80"]),
                ("n2", &["http://10.2.0.3:80"]),
                ("n3", &["http://172.17.0.29:80"]),
            ]),
            errors: &[],
        },
        Case {
            what: "useBindPortIP: the binding's address, else the container's",
            settings: settings(|c| c.use_bind_port_ip = true),
            containers: vec![
                {
                    let mut c = container("b1", "172.17.0.30", &[80], &[]);
                    c.ports[0].bindings.push(Binding {
                        host_ip: "127.0.0.1".into(),
                        host_port: "32768".into(),
                    });
                    c
                },
                {
                    let mut c = container("b2", "172.17.0.31", &[80], &[]);
                    c.ports[0].bindings.push(Binding {
                        host_ip: "0.0.0.0".into(),
                        host_port: "32769".into(),
                    });
                    c
                },
            ],
            routers: routers(&[
                ("b1", "Host(`b1.docker.test`)", "b1"),
                ("b2", "Host(`b2.docker.test`)", "b2"),
            ]),
            services: services(&[
                ("b1", &["http://127.0.0.1:32768"]),
                ("b2", &["http://172.17.0.31:80"]),
            ]),
            errors: &[],
        },
        Case {
            what: "network mode container:<id> takes the other container's address",
            settings: default(),
            containers: vec![{
                let mut c = container(
                    "side",
                    "",
                    &[],
                    &[(
                        "traefik.http.services.side.loadbalancer.server.port",
                        "7000",
                    )],
                );
                c.networks.clear();
                c.network_mode = "container:id-main".into();
                c.network_container = Some(Box::new(container("main", "172.17.0.40", &[80], &[])));
                c
            }],
            routers: routers(&[("side", "Host(`side.docker.test`)", "side")]),
            services: services(&[("side", &["http://172.17.0.40:7000"])]),
            errors: &[],
        },
    ];
    for case in cases {
        let built = build(&case.containers, &case.settings);
        let (routers, services) = summary(&built.configuration);
        assert_eq!(routers, case.routers, "{}: routers", case.what);
        assert_eq!(services, case.services, "{}: services", case.what);
        assert_eq!(
            built.errors.len(),
            case.errors.len(),
            "{}: errors {:?}",
            case.what,
            built.errors
        );
        for (got, want) in built.errors.iter().zip(case.errors) {
            assert!(
                got.contains(want),
                "{}: error {got:?} should mention {want:?}",
                case.what
            );
        }
    }
}

#[test]
fn tcp_and_udp_labels_are_completed_and_kept() {
    let db = container(
        "db",
        "172.17.0.50",
        &[5432],
        &[
            ("traefik.tcp.routers.pg.rule", "HostSNI(`*`)"),
            ("traefik.tcp.services.pg.loadbalancer.server.port", "5433"),
            ("traefik.tcp.services.pg.loadbalancer.server.tls", "true"),
        ],
    );
    let dns = container(
        "dns",
        "172.17.0.51",
        &[53],
        &[("traefik.udp.routers.d.entrypoints", "dns")],
    );
    let norule = container(
        "norule",
        "172.17.0.52",
        &[1],
        &[("traefik.tcp.routers.n.entrypoints", "x")],
    );
    let built = build(&[db, dns, norule], &settings(|_| {}));
    assert_eq!(built.errors.len(), 1, "{:?}", built.errors);
    assert!(
        built.errors[0].contains("TCP router \"n\": empty rule"),
        "{:?}",
        built.errors
    );
    // TCP-only and UDP-only containers get no HTTP router or service.
    assert!(built.configuration.http.is_none());
    let tcp = built.configuration.tcp.expect("tcp kept").to_json();
    assert_eq!(tcp["routers"]["pg"]["service"], "pg");
    assert_eq!(
        tcp["services"]["pg"]["loadbalancer"]["servers"][0]["address"],
        "172.17.0.50:5433"
    );
    assert_eq!(
        tcp["services"]["pg"]["loadbalancer"]["servers"][0]["tls"],
        "true"
    );
    // The rule-less router's container still has its default service.
    assert_eq!(
        tcp["services"]["norule"]["loadbalancer"]["servers"][0]["address"],
        "172.17.0.52:1"
    );
    assert!(tcp["routers"].get("n").is_none());
    let udp = built.configuration.udp.expect("udp kept").to_json();
    assert_eq!(udp["routers"]["d"]["service"], "dns");
    assert_eq!(
        udp["services"]["dns"]["loadbalancer"]["servers"][0]["address"],
        "172.17.0.51:53"
    );
}

#[test]
fn normalize_as_traefik() {
    // (input, normalized)
    let cases = [
        ("/my_app.1", "my-app-1"),
        ("web", "web"),
        ("--a--b--", "a-b"),
        ("Straße_1", "Straße-1"),
        ("", ""),
        ("a b\tc", "a-b-c"),
    ];
    for (input, want) in cases {
        assert_eq!(normalize(input), want, "{input:?}");
    }
}

#[test]
fn compose_name_needs_both_labels() {
    let only_project = container(
        "p-x-1",
        "1.2.3.4",
        &[],
        &[("com.docker.compose.project", "p")],
    );
    assert_eq!(service_name(&only_project), "p-x-1");
    let both = container(
        "p-x-1",
        "1.2.3.4",
        &[],
        &[
            ("com.docker.compose.project", "p"),
            ("com.docker.compose.service", "x"),
        ],
    );
    assert_eq!(service_name(&both), "x-p");
    let empty_service = container(
        "p-x-1",
        "1.2.3.4",
        &[],
        &[
            ("com.docker.compose.project", "p"),
            ("com.docker.compose.service", ""),
        ],
    );
    assert_eq!(service_name(&empty_service), "p-x-1");
}

#[test]
fn default_rule_is_a_go_template() {
    let labels = BTreeMap::from([("env".to_string(), "prod".to_string())]);
    let model = RuleModel {
        name: "my-app",
        container_name: "my_app",
        labels: &labels,
    };
    // (description, template, rendered or error part)
    let cases: &[(&str, &str, Result<&str, &str>)] = &[
        (
            "Traefik's default",
            "Host(`{{ normalize .Name }}`)",
            Ok("Host(`my-app`)"),
        ),
        (
            "labels and the container name",
            "Host(`{{ .ContainerName }}.{{ index .Labels \"env\" }}.test`)",
            Ok("Host(`my_app.prod.test`)"),
        ),
        (
            "sprig functions",
            "Host(`{{ .Name | upper }}`)",
            Ok("Host(`MY-APP`)"),
        ),
        (
            "missing labels as Traefik renders them",
            "Host(`{{ .Labels.nope }}x.{{ index .Labels \"nope\" }}y`)",
            Ok("Host(`<no value>x.y`)"),
        ),
        (
            "index out of a list",
            "Host(`{{ index (list 1 2) 5 }}`)",
            Err("index out of range"),
        ),
    ];
    for (what, text, want) in cases {
        let rule = super::default_rule(text).expect(what);
        match want {
            Ok(w) => assert_eq!(rule(&model).as_deref(), Ok(*w), "{what}"),
            Err(w) => assert!(rule(&model).expect_err(what).contains(w), "{what}"),
        }
    }
    let e = super::default_rule("Host(`{{ nosuchfunc .Name }}`)")
        .err()
        .expect("unknown function refused");
    assert!(e.contains("defaultRule"), "{e}");
}

#[test]
fn inspect_answers_are_read() {
    // (description, inspect JSON as the engine sends it, expected facts)
    let running = r#"{
        "Id": "abc", "Name": "/web",
        "State": {"Status": "running", "Running": true, "Health": {"Status": "healthy"}},
        "Config": {"Labels": {"traefik.enable": "true"}},
        "HostConfig": {"NetworkMode": "bridge"},
        "NetworkSettings": {
            "Ports": {"8080/tcp": null, "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}], "53/udp": []},
            "Networks": {
                "bridge": {"IPAddress": "172.17.0.2", "GlobalIPv6Address": ""},
                "v6only": {"IPAddress": "", "GlobalIPv6Address": "fd00::2"}
            }
        }
    }"#;
    let c: bollard::models::ContainerInspectResponse =
        serde_json::from_str(running).expect("inspect JSON");
    let d = ContainerData::from_inspect(&c).expect("has a state");
    assert_eq!((d.id.as_str(), d.name.as_str()), ("abc", "/web"));
    assert_eq!(
        (d.status.as_str(), d.health.as_str()),
        ("running", "healthy")
    );
    assert_eq!(
        d.labels.get("traefik.enable").map(String::as_str),
        Some("true")
    );
    assert_eq!(d.network_mode, "bridge");
    let ports: Vec<(u16, &str, usize)> = d
        .ports
        .iter()
        .map(|p| (p.number, p.protocol.as_str(), p.bindings.len()))
        .collect();
    assert_eq!(
        ports,
        vec![(53, "udp", 0), (80, "tcp", 1), (8080, "tcp", 0)]
    );
    assert_eq!(d.ports[1].bindings[0].host_port, "32768");
    assert_eq!(
        d.networks.get("bridge").map(String::as_str),
        Some("172.17.0.2")
    );
    assert_eq!(
        d.networks.get("v6only").map(String::as_str),
        Some("fd00::2")
    );

    let stopped = r#"{"Id": "def", "Name": "/down", "State": {"Status": "exited"},
        "HostConfig": {"NetworkMode": "container:abc"}, "NetworkSettings": {"Ports": {}, "Networks": {}}}"#;
    let c: bollard::models::ContainerInspectResponse =
        serde_json::from_str(stopped).expect("inspect JSON");
    let d = ContainerData::from_inspect(&c).expect("has a state");
    assert_eq!((d.status.as_str(), d.health.as_str()), ("exited", ""));
    assert_eq!(d.connected_container(), Some("abc"));

    let no_state = r#"{"Id": "x", "Name": "/x"}"#;
    let c: bollard::models::ContainerInspectResponse =
        serde_json::from_str(no_state).expect("inspect JSON");
    assert!(ContainerData::from_inspect(&c).is_none());
}

#[test]
fn events_that_trigger_a_listing() {
    // (action, triggers)
    let cases = [
        ("start", true),
        ("die", true),
        ("stop", true),
        ("pause", true),
        ("destroy", true),
        ("health_status: healthy", true),
        ("health_status: unhealthy", true),
        ("connect", true),
        ("disconnect", true),
        ("exec_start: sh", false),
        ("attach", false),
        ("create", false),
        ("top", false),
    ];
    for (action, want) in cases {
        assert_eq!(super::relevant(action), want, "{action}");
    }
}

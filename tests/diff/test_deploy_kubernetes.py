"""The Kubernetes manifests in deploy/kubernetes: they parse and hang
together (names, namespace, selectors, ports, probes), and they work. The
Deployment's own flags start Switchyard in-cluster (the service account
directory through the tests-only SWITCHYARD_TEST_SERVICE_ACCOUNT_DIR,
the API server from KUBERNETES_SERVICE_HOST/PORT: the API server double
over HTTPS) and an IngressRoute is routed; the same flags start the real
Traefik (pointed at its own double by `endpoint`, as it cannot be given
another service account directory) with its three Kubernetes providers;
every request either makes must be one the ClusterRole allows, as a real
API server's RBAC would check it."""

import glob
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest
import yaml

from harness import REPO, Backend, free_port, request, switchyard_bin, traefik_bin
from test_kubernetes import CA, TOKEN, KubeDouble, kube_double_bin, wait

DEPLOY = os.path.join(REPO, "deploy", "kubernetes")


def documents():
    out = []
    for path in sorted(glob.glob(os.path.join(DEPLOY, "*.yaml"))):
        with open(path) as f:
            out += [(os.path.basename(path), d) for d in yaml.safe_load_all(f) if d]
    return out


def one(kind):
    found = [d for _, d in documents() if d["kind"] == kind]
    assert len(found) == 1, "%s: %d found" % (kind, len(found))
    return found[0]


def test_manifests_parse_and_hang_together():
    docs = documents()
    kinds = sorted(d["kind"] for _, d in docs)
    assert kinds == sorted(["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                            "Deployment", "DaemonSet", "Service"]), kinds
    namespace = one("Namespace")["metadata"]["name"]
    for name, d in docs:
        assert "apiVersion" in d and d["metadata"].get("name"), name
        if d["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert d["metadata"].get("namespace") == namespace, (name, d["kind"])
    account = one("ServiceAccount")["metadata"]["name"]
    binding = one("ClusterRoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": one("ClusterRole")["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]

    deployment, daemonset, service = one("Deployment"), one("DaemonSet"), one("Service")
    # The two differ only in what makes them a Deployment or a DaemonSet.
    assert deployment["spec"]["template"] == daemonset["spec"]["template"]
    assert deployment["spec"]["selector"] == daemonset["spec"]["selector"]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in deployment["spec"]["selector"]["matchLabels"].items())
    assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items())
    assert pod["spec"]["serviceAccountName"] == account
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    # Each entry point flag listens on the container port of its name.
    addresses = dict(re.findall(r"^--entryPoints\.(\w+)\.address=:(\d+)$", "\n".join(container["args"]), re.M))
    assert {k: int(v) for k, v in addresses.items()} == ports
    for p in service["spec"]["ports"]:
        assert p["targetPort"] in ports, p
    for probe in ("readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] == "/ping" and get["port"] == ports["traefik"], probe
    assert "--ping=true" in container["args"]
    assert "--providers.kubernetescrd=true" in container["args"]


def allowed(rules, group, resource, verb):
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in rules)


def asked(requests):
    """(group, resource, verb) of each API request a double saw."""
    out = set()
    for line in requests:
        method, target = line.split(" ")[:2]
        path, _, query = target.partition("?")
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] not in ("api", "apis") or path.startswith("/_double"):
            continue
        group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
        if rest[:1] == ["watch"]:
            rest = rest[1:]
        if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) != 2:
            rest = rest[2:]
        if not rest:
            continue  # discovery
        resource = rest[0] + ("/" + rest[2] if len(rest) == 3 else "")
        if method == "GET":
            verb = "get" if len(rest) >= 2 else ("watch" if "watch=true" in query or "watch=1" in query else "list")
        else:
            verb = {"PUT": "update", "PATCH": "patch", "POST": "create", "DELETE": "delete"}[method]
        out.add((group, resource, verb))
    return out


OBJECTS = """
apiVersion: v1
kind: Service
metadata: {name: whoami, namespace: apps}
spec:
  ports: [{name: web, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: whoami-1, namespace: apps, labels: {kubernetes.io/service-name: whoami}}
addressType: IPv4
ports: [{name: web, port: <<port>>}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: whoami, namespace: apps}
spec:
  entryPoints: [web]
  routes:
  - match: Host(`deploy.test`)
    kind: Rule
    services: [{name: whoami, port: web}]
"""


def flags(container, ports):
    """The container's flags, each entry point on a free 127.0.0.1 port."""
    out = []
    for a in container["args"]:
        m = re.match(r"^--entryPoints\.(\w+)\.address=:(\d+)$", a)
        if m:
            ports[m.group(1)] = free_port()
            a = "--entryPoints.%s.address=127.0.0.1:%d" % (m.group(1), ports[m.group(1)])
        out.append(a)
    return out


def routed(port):
    try:
        status, _, body = request(port, "GET", "/", host="deploy.test")
    except OSError as e:
        return repr(e)
    return status == 200 or status


@pytest.mark.skipif(traefik_bin() is None or kube_double_bin() is None or switchyard_bin() is None,
                    reason="needs traefik, switchyard and kube-double")
def test_the_deployment_flags_run_in_cluster_and_rbac_allows_every_request():
    (container,) = one("Deployment")["spec"]["template"]["spec"]["containers"]
    rules = one("ClusterRole")["rules"]
    backend = Backend("a")
    objects = OBJECTS.replace("<<port>>", str(backend.server.server_address[1]))
    doubles, procs, dirs = [], [], []
    try:
        # Switchyard in a pod: nothing but the Deployment's flags.
        double = KubeDouble(objects, tls=True)
        doubles.append(double)
        account = tempfile.mkdtemp(prefix="sy-sa-")
        dirs.append(account)
        with open(os.path.join(account, "token"), "w") as f:
            f.write(TOKEN + "\n")
        shutil.copy(CA, os.path.join(account, "ca.crt"))
        sy_ports = {}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAEFIK_", "SWITCHYARD_", "KUBERNETES_"))}
        env.update(KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(double.port),
                   SWITCHYARD_TEST_SERVICE_ACCOUNT_DIR=account)
        log = open(os.path.join(account, "log.txt"), "w")
        procs.append(subprocess.Popen([switchyard_bin()] + flags(container, sy_ports), cwd=account,
                                      stdout=log, stderr=subprocess.STDOUT, env=env))
        wait("switchyard routes the IngressRoute", lambda: routed(sy_ports["web"]), timeout=20)
        status, _, _ = request(sy_ports["traefik"], "GET", "/ping", host="localhost")
        assert status == 200

        # Traefik with the same flags and its three Kubernetes providers.
        tdouble = KubeDouble(objects, tls=True)
        doubles.append(tdouble)
        t_ports = {}
        tdir = tempfile.mkdtemp(prefix="sy-traefik-")
        dirs.append(tdir)
        connection = []
        for p in ("kubernetescrd", "kubernetesingress", "kubernetesgateway"):
            connection += ["--providers.%s.endpoint=%s" % (p, tdouble.endpoint),
                           "--providers.%s.token=%s" % (p, TOKEN),
                           "--providers.%s.certAuthFilePath=%s" % (p, CA)]
        tlog = open(os.path.join(tdir, "log.txt"), "w")
        procs.append(subprocess.Popen(
            [traefik_bin()] + flags(container, t_ports) + connection
            + ["--providers.kubernetesingress=true", "--providers.kubernetesgateway=true"],
            cwd=tdir, stdout=tlog, stderr=subprocess.STDOUT,
            env={k: v for k, v in env.items() if not k.startswith(("SWITCHYARD_", "KUBERNETES_"))}))
        wait("traefik routes the IngressRoute", lambda: routed(t_ports["web"]), timeout=30)
        time.sleep(1)  # Traefik's Gateway provider writes its statuses.

        for name, d in (("switchyard", double), ("traefik", tdouble)):
            refused = sorted(a for a in asked(d.requests()) if not allowed(rules, *a))
            assert not refused, "%s asked for what the ClusterRole does not allow: %r" % (name, refused)
        # Switchyard asked for every traefik.io kind the rules name.
        crd_kinds = {r for g, r, v in asked(double.requests()) if g == "traefik.io" and v == "watch"}
        granted = {r for rule in rules if "traefik.io" in rule["apiGroups"] for r in rule["resources"]}
        assert crd_kinds == granted, (crd_kinds, granted)
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=10)
        for d in doubles:
            d.close()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
        backend.close()

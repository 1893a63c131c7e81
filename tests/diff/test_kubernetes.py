"""The Kubernetes providers against the testkit's API server double
(`kube-double`, crates/testkit/src/kube; no real API server can be
installed here).

These tests prove the double faithful (the manifests in `kubernetes/`,
served by it, make the real Traefik route as its documentation says, and
Traefik follows live changes: an endpoint not ready and ready again, a
slice added, a rule or class changed, objects deleted) and pin the answers
Switchyard's Kubernetes providers must give. For the providers Switchyard
has (kubernetesCRD), Switchyard runs beside Traefik, each on a double of
its own loaded and changed alike, every step must hold for both, and their
answers are compared. The Ingress and Gateway providers are compared with
Traefik in `test_kubernetes_ingress.py` and `test_kubernetes_gateway.py`;
what stays here for them runs Traefik only (the Gateway experimental
channel's TCPRoutes and TLSRoutes wait for TCP routing).

What Traefik 3.7 does here, which the providers must match:
- client-go lists and watches in one request (watch-list): `watch=true`
  with `sendInitialEvents=true`, `resourceVersionMatch=NotOlderThan`,
  `allowWatchBookmarks=true` and `timeoutSeconds` of 5 to 10 minutes, then
  watches on from the last version it saw; no `/version` or discovery call.
  Built-in kinds ask `Accept: application/vnd.kubernetes.protobuf,application/json`
  and write protobuf (the Ingress status `PUT`); the CRD clients use JSON.
- Watched, all namespaces: kubernetesCRD its ten traefik.io kinds,
  services, endpointslices, configmaps, secrets (`labelSelector=owner!=helm`)
  and nodes; kubernetesIngress ingresses, ingressclasses, services,
  endpointslices, secrets; kubernetesGateway namespaces, gatewayclasses,
  gateways, httproutes, grpcroutes, referencegrants, backendtlspolicies,
  services, endpointslices, configmaps, secrets.
- Router names: an IngressRoute route is `<ns>-<name>-<hash>@kubernetescrd`
  (the hash covers the route's match and priority), its service
  `<ns>-<service>-<port>@kubernetescrd`; an Ingress path is
  `<ns>-<name>-<host><path>` normalized (`.`, `/` to `-`) `@kubernetes`.
- A service whose endpoints are all not ready has no server: without
  `allowEmptyServices` its router is dropped (404, or the next router that
  matches); a deleted Service drops the routes that use it likewise.
- Endpoints are one server per address across a service's slices: two
  slices with the same IP and different ports give one server.
- An Ingress `pathType: Exact` path is `Path(...)`, a `Prefix` one
  `PathPrefix(...)`, ordered by rule length as any router.
- Status written back with `PUT .../status`: the Ingress
  `status.loadBalancer.ingress` from `ingressEndpoint`; GatewayClass,
  Gateway and HTTPRoute conditions (`Accepted`, `ResolvedRefs`, with
  `observedGeneration`).
- Traefik relies on the API server's CRD defaults (an HTTPRoute rule
  without `matches` is `PathPrefix /` only because the API server says
  so); the double applies the Gateway API's.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from http.server import ThreadingHTTPServer

import pytest

from harness import REPO, Backend, EchoHandler, Proxy, fill, free_port, request, switchyard_bin, traefik_bin

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "sydiff-token"
# The fixture CA, which signed the certificate `kube-double --tls` serves.
CA = os.path.join(REPO, "crates", "testkit", "fixtures", "ca.pem")


def kube_double_bin():
    """`kube-double`, beside the switchyard binary (built with
    `cargo build -p switchyard-testkit --bin kube-double`)."""
    candidates = [os.environ.get("KUBE_DOUBLE_BIN")]
    if switchyard_bin():
        candidates.append(os.path.join(os.path.dirname(switchyard_bin()), "kube-double"))
    candidates.append(os.path.join(REPO, "target", "debug", "kube-double"))
    for c in candidates:
        if c and os.path.exists(c):
            return c
    return None


pytestmark = pytest.mark.skipif(
    traefik_bin() is None or kube_double_bin() is None,
    reason="needs `traefik` and kube-double (cargo build -p switchyard-testkit --bin kube-double)",
)


def wait(what, check, timeout=15):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = check()
        if last is True:
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


class KubeDouble:
    """The double as a process, loaded with manifests, changed live
    through its `/_double/...` control paths."""

    def __init__(self, manifest, tls=False):
        self.tls = tls
        self.dir = tempfile.mkdtemp(prefix="sy-kube-")
        path = os.path.join(self.dir, "manifest.yml")
        with open(path, "w") as f:
            f.write(manifest)
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "double.log"), "w")
        self.proc = subprocess.Popen(
            [kube_double_bin(), str(self.port), "--token", TOKEN, path] + (["--tls"] if tls else []),
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        wait("kube double", self._listening)

    def _listening(self):
        if self.proc.poll() is not None:
            raise RuntimeError("kube-double exited: " + self.read_log())
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    @property
    def endpoint(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    def _call(self, method, path, body=None, token=False):
        import ssl
        context = ssl.create_default_context(cafile=CA) if self.tls else None
        req = urllib.request.Request(self.endpoint + path, data=body.encode() if body else None, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + TOKEN)
        try:
            with urllib.request.urlopen(req, timeout=5, context=context) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            raise AssertionError("%s %s: %s %s" % (method, path, e.code, e.read()[:500]))

    def apply(self, manifest, expire=False):
        """With `expire`, every watch ends and the history is forgotten:
        clients must list again to see the change."""
        return self._call("POST", "/_double/apply" + ("?expire=true" if expire else ""), manifest)

    def delete(self, manifest):
        return self._call("POST", "/_double/delete", manifest)

    def ready(self, namespace, name, address, ready):
        q = "namespace=%s&name=%s&address=%s&ready=%s" % (namespace, name, address, "true" if ready else "false")
        return self._call("POST", "/_double/ready?" + q)

    def get(self, path):
        return self._call("GET", path, token=True)

    def requests(self):
        return self._call("GET", "/_double/requests")

    def read_log(self):
        self.log.flush()
        with open(os.path.join(self.dir, "double.log")) as f:
            return f.read()[-3000:]

    def close(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


STATIC = """
entryPoints:
  web:
    address: "127.0.0.1:<<web>>"
  websecure:
    address: "127.0.0.1:<<other>>"
  traefik:
    address: "127.0.0.1:<<admin>>"
api:
  insecure: true
log:
  level: DEBUG
providers:
  providersThrottleDuration: 0s
  <<provider>>:
    endpoint: "<<endpoint>>"
    token: "<<token>>"
<<extra>>
"""


def manifest(*names, **values):
    text = ""
    for name in names:
        with open(os.path.join(HERE, "kubernetes", name + ".yml")) as f:
            text += "---\n" + f.read()
    return fill(text, values)


def answer(proxy, host, path):
    """(status, backend name or None)."""
    try:
        status, _, body = request(proxy.web, "GET", path, host=host, timeout=5)
    except OSError:
        return 0, None
    if status == 200 and body.startswith(b"{"):
        return status, json.loads(body)["name"]
    return status, None


def expect(proxy, what, wants, timeout=15):
    """Polls until every (host, path) answers as wanted: a status, or
    (200, backend). Returns how long the change took to show."""
    start = time.time()

    def check():
        got = {}
        for (host, path), want in wants.items():
            status, name = answer(proxy, host, path)
            have = (status, name) if isinstance(want, tuple) else status
            if have != want:
                got[(host, path)] = have
        return True if not got else got

    try:
        wait(what, check, timeout)
    except AssertionError as e:
        raise AssertionError("%s\n--- traefik log tail:\n%s" % (e, proxy.read_log()))
    return time.time() - start


def spread(proxy, host, path, n):
    return Counter(answer(proxy, host, path)[1] for _ in range(n))


class Backend6(Backend):
    """An echo backend on [::1]: Traefik keeps one server per endpoint
    address across a service's EndpointSlices, so a second endpoint on
    loopback needs another address than 127.0.0.1."""

    def __init__(self, name):
        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6

        self.server = Server(("::1", 0), EchoHandler)
        self.server.name = name
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()


class Doubles:
    """One double per proxy, changed together: each proxy has its own
    API server (and request log), loaded with the same manifests."""

    def __init__(self, doubles):
        self.doubles = doubles

    def apply(self, manifest, expire=False):
        return [d.apply(manifest, expire=expire) for d in self.doubles.values()][0]

    def delete(self, manifest):
        return [d.delete(manifest) for d in self.doubles.values()][0]

    def ready(self, namespace, name, address, ready):
        return [d.ready(namespace, name, address, ready) for d in self.doubles.values()][0]

    def get(self, path):
        """From Traefik's double (the status Traefik wrote)."""
        return self.doubles["traefik"].get(path)

    def requests(self, of="traefik"):
        return self.doubles[of].requests()

    def close(self):
        for d in self.doubles.values():
            d.close()


class Setup:
    """Two echo backends on 127.0.0.1 (a, b) and a spare one on [::1] (c);
    Traefik with one provider on a double, and, for the providers
    Switchyard has (kubernetesCRD), Switchyard on a double of its own with
    the same manifests, every change made to both."""

    COMPARED = ("kubernetesCRD",)

    def __init__(self, provider, manifests, extra="", tls=False):
        self.backends = {"a": Backend("a"), "b": Backend("b"), "c": Backend6("c")}
        self.ports = {n + "_port": b.server.server_address[1] for n, b in self.backends.items()}
        binaries = {"traefik": traefik_bin()}
        if provider in self.COMPARED:
            binaries["switchyard"] = switchyard_bin()
        # The Services and EndpointSlices are loaded at start; the
        # provider's objects once the proxies run (a Gateway listener names
        # the web entry point's port).
        self.proxies = {}
        self.double = Doubles({})
        for name, binary in binaries.items():
            double = KubeDouble(manifest("backends", **self.ports), tls=tls)
            self.double.doubles[name] = double
            values = dict(provider=provider, endpoint=double.endpoint, token=TOKEN, extra=extra)
            self.proxies[name] = Proxy(binary, STATIC, "", values)
        self.proxy = self.proxies["traefik"]
        self.double.apply(manifest(*manifests, web=self.proxy.web, **self.ports))

    def expect(self, what, wants, timeout=15):
        """`expect` on every proxy, then their answers compared: the same
        (status, backend) for every (host, path). Returns Traefik's delay."""
        took = {name: expect(p, "%s: %s" % (name, what), wants, timeout) for name, p in self.proxies.items()}
        got = {name: {k: answer(p, *k) for k in wants} for name, p in self.proxies.items()}
        for name, answers in got.items():
            assert answers == got["traefik"], "%s: %s answered %r, traefik %r" % (what, name, answers, got["traefik"])
        return took["traefik"]

    def routers(self, of="traefik"):
        status, _, body = request(self.proxies[of].admin, "GET", "/api/http/routers", host="localhost")
        names = (r["name"] for r in json.loads(body)) if status == 200 else ()
        return sorted(n for n in names if not n.endswith("@internal"))

    def close(self):
        for p in self.proxies.values():
            p.close()
        self.double.close()
        for b in self.backends.values():
            b.close()


@pytest.fixture
def setups():
    made = []
    yield lambda *a, **k: made.append(Setup(*a, **k)) or made[-1]
    for s in made:
        s.close()


def test_traefik_kubernetes_crd_on_the_double(setups):
    s = setups("kubernetesCRD", ["crd"])
    s.expect("IngressRoutes served", {
        ("crd.test", "/"): (200, "a"),
        ("crd.test", "/strip/x"): (200, "b"),
        ("nothing.test", "/"): 404,
    })
    for name, p in s.proxies.items():
        # The middleware is applied (the echo shows the header it added).
        _, _, body = request(p.web, "GET", "/", host="crd.test")
        headers = {k.lower(): v for k, v in json.loads(body)["headers"]}
        assert headers.get("x-kube") == "crd", name
        _, _, body = request(p.web, "GET", "/strip/x", host="crd.test")
        assert json.loads(body)["uri"] == "/x", name
    s.expect("weighted TraefikService", {("weighted.test", "/"): 200})
    for name, p in s.proxies.items():
        assert spread(p, "weighted.test", "/", 8) == Counter({"a": 6, "b": 2}), name
        # `<namespace>-<IngressRoute>-<hash of the route's match and priority>`.
        assert s.routers(name) == [
            "default-app-38849c696549faaa092f@kubernetescrd",
            "default-app-a3924233c91f26292e34@kubernetescrd",
            "default-weighted-d224c0616138fdd2c9fe@kubernetescrd",
        ], name

    # The endpoint goes not ready: no server left, so (without
    # allowEmptyServices) the route is dropped with its service: 404.
    s.double.ready("default", "whoami-a-1", "127.0.0.1", False)
    s.expect("endpoint not ready", {("crd.test", "/"): 404, ("crd.test", "/strip/x"): (200, "b")})
    # Back, and scaled: a second (IPv6) slice with backend c.
    s.double.ready("default", "whoami-a-1", "127.0.0.1", True)
    s.expect("endpoint ready again", {("crd.test", "/"): (200, "a")})
    s.double.apply("""
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: whoami-a-2, namespace: default, labels: {kubernetes.io/service-name: whoami-a}}
addressType: IPv6
ports: [{name: web, port: %d}]
endpoints: [{addresses: ["::1"], conditions: {ready: true}}]
""" % s.ports["c_port"])
    for name, p in s.proxies.items():
        wait("%s: both slices served" % name, lambda: set(spread(p, "crd.test", "/", 6)) == {"a", "c"} or None)
    # A rule changed.
    s.double.apply("""
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: weighted, namespace: default}
spec:
  entryPoints: [web]
  routes:
  - match: Host(`moved.test`)
    kind: Rule
    services: [{name: whoami-b, port: web}]
""")
    s.expect("rule changed", {("weighted.test", "/"): 404, ("moved.test", "/"): (200, "b")})
    # Objects deleted: the route, and the service the other route uses.
    s.double.delete("apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {name: weighted, namespace: default}\n")
    s.expect("route deleted", {("moved.test", "/"): 404})
    # Its service gone, the /strip route is dropped: the Host route answers.
    s.double.delete("apiVersion: v1\nkind: Service\nmetadata: {name: whoami-b, namespace: default}\n")
    s.expect("service deleted", {("crd.test", "/strip/x"): (200, "a")})
    # The API server loses its history with every watch: client-go's
    # resumed watch gets 410 Expired, and Traefik lists again (Switchyard
    # too: a list is a GET without `watch=true`).
    initial = lambda: sum("ingressroutes?" in r and "sendInitialEvents=true" in r for r in s.double.requests())
    lists = lambda: sum("ingressroutes?" in r and "watch=true" not in r for r in s.double.requests("switchyard"))
    before, lists_before = initial(), lists()
    s.double.apply("""
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: late, namespace: default}
spec:
  entryPoints: [web]
  routes:
  - match: Host(`late.test`)
    kind: Rule
    services: [{name: whoami-a, port: web}]
""", expire=True)
    s.expect("relisted after 410", {("late.test", "/"): (200, "a")}, timeout=30)
    assert initial() > before, "Traefik listed again"
    assert lists() > lists_before, "Switchyard listed again"


def test_traefik_kubernetes_crd_over_tls_on_the_double(setups):
    """HTTPS (HTTP/2 by ALPN, as a real API server) with `certAuthFilePath`."""
    s = setups("kubernetesCRD", ["crd"], extra="    certAuthFilePath: \"%s\"" % CA, tls=True)
    s.expect("IngressRoutes served over TLS", {("crd.test", "/"): (200, "a"), ("crd.test", "/strip/x"): (200, "b")})
    watches = [r for r in s.double.requests() if "watch=true" in r]
    assert watches and all(r.endswith("HTTP/2.0") for r in watches), watches[:3]
    s.double.delete("apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {name: app, namespace: default}\n")
    s.expect("route deleted", {("crd.test", "/"): 404})


def test_traefik_kubernetes_crd_namespaces_and_label_selector_on_the_double(setups):
    """`namespaces` makes Traefik watch per-namespace paths; `labelSelector`
    goes to the API server with the CRD watches (not with services)."""
    extra = "    namespaces: [default]\n    labelSelector: \"team=a\""
    s = setups("kubernetesCRD", [], extra=extra)
    route = """
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: %(name)s, namespace: %(ns)s, labels: {team: %(team)s}}
spec:
  entryPoints: [web]
  routes:
  - match: Host(`%(name)s.test`)
    kind: Rule
    services: [{name: whoami-a, port: web}]
"""
    s.double.apply(route % dict(name="mine", ns="default", team="a"))
    s.double.apply(route % dict(name="theirs", ns="default", team="b"))
    s.double.apply(route % dict(name="elsewhere", ns="other", team="a"))
    s.expect("selected routes", {
        ("mine.test", "/"): (200, "a"),
        ("theirs.test", "/"): 404,
        ("elsewhere.test", "/"): 404,
    })
    s.double.apply(route % dict(name="theirs", ns="default", team="a"))
    s.expect("relabelled into the selection", {("theirs.test", "/"): (200, "a")})
    s.double.apply(route % dict(name="mine", ns="default", team="b"))
    s.expect("relabelled out of it", {("mine.test", "/"): 404})
    for name in s.proxies:
        asked = s.double.requests(name)
        assert any(r.startswith("GET /apis/traefik.io/v1alpha1/namespaces/default/ingressroutes?") and "labelSelector=team=a" in r for r in asked), (name, asked)
        assert not any(r.startswith("GET /apis/traefik.io/v1alpha1/ingressroutes?") for r in asked), name
        assert any(r.startswith("GET /api/v1/namespaces/default/services?") and "labelSelector" not in r for r in asked), name


def test_traefik_kubernetes_gateway_experimental_on_the_double(setups):
    """With `experimentalChannel`, Traefik watches TCPRoutes and TLSRoutes
    too (v1alpha2 and v1), and still routes HTTP."""
    s = setups("kubernetesGateway", ["gateway"], extra="    experimentalChannel: true")
    expect(s.proxy, "HTTPRoute served", {("gw.test", "/a"): (200, "a")}, timeout=20)
    asked = s.double.requests()
    for kind in ("tcproutes", "tlsroutes"):
        assert any("/%s?" % kind in r and "watch=true" in r for r in asked), (kind, asked)


def test_traefik_kubernetes_crd_tls_from_a_secret_on_the_double(setups):
    """An IngressRoute's `tls.secretName`: the certificate comes from a
    Secret (written with `stringData`, stored base64 in `data` as the API
    server does), chosen by SNI among its names (the fixture certificate is
    for `backend.test`), and follows the Secret's deletion."""
    s = setups("kubernetesCRD", [])
    with open(os.path.join(REPO, "crates", "testkit", "fixtures", "server.pem")) as f:
        cert = f.read()
    with open(os.path.join(REPO, "crates", "testkit", "fixtures", "server.key")) as f:
        key = f.read()
    indent = lambda text: "\n".join("      " + line for line in text.strip().splitlines())
    s.double.apply("""
apiVersion: v1
kind: Secret
metadata: {name: site-cert, namespace: default}
type: kubernetes.io/tls
stringData:
  tls.crt: |
%s
  tls.key: |
%s
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: secure, namespace: default}
spec:
  entryPoints: [websecure]
  routes:
  - match: Host(`backend.test`)
    kind: Rule
    services: [{name: whoami-a, port: web}]
  tls:
    secretName: site-cert
""" % (indent(cert), indent(key)))
    assert "tls.crt" in s.double.get("/api/v1/namespaces/default/secrets/site-cert")["data"]

    def tls_answer(p):
        try:
            status, headers, _ = request(p.other, "GET", "/", host="backend.test", tls={"sni": "backend.test"})
        except OSError as e:
            return str(e)
        return status, headers.get("x-test-cert-cn")

    for name, p in s.proxies.items():
        wait("%s: the Secret's certificate served" % name, lambda: tls_answer(p) == (200, "localhost") or tls_answer(p))
    s.double.delete("apiVersion: v1\nkind: Secret\nmetadata: {name: site-cert, namespace: default}\n")
    # Each serves its generated default certificate: the one difference,
    # its name (Switchyard's is `SWITCHYARD DEFAULT CERT`, crates/server/src/tls).
    default_cn = {"traefik": "TRAEFIK DEFAULT CERT", "switchyard": "SWITCHYARD DEFAULT CERT"}
    for name, p in s.proxies.items():
        wait("%s: the default certificate once the Secret is gone" % name,
             lambda: tls_answer(p) == (200, default_cn[name]) or tls_answer(p))

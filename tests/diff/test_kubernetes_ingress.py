"""The kubernetesIngress provider, Traefik and Switchyard side by side on
the testkit's API server double (`kube-double`; no real API server can be
installed here): each proxy has its own double loaded and changed alike,
every step must hold for both, and their answers are compared (see
test_kubernetes.py for the double and what Traefik 3.7 does on it).

Besides routing: the routers are named alike (`<ns>-<name>-<host><path>`
normalized, `@kubernetes`), and each proxy writes `ingressEndpoint` into
the status of the Ingresses it serves (Traefik as protobuf, Switchyard as
JSON; both `PUT .../ingresses/<name>/status`).
"""

import os

import pytest

from harness import REPO, request, traefik_bin
from test_kubernetes import Setup, kube_double_bin, spread, wait

pytestmark = pytest.mark.skipif(
    traefik_bin() is None or kube_double_bin() is None,
    reason="needs `traefik` and kube-double (cargo build -p switchyard-testkit --bin kube-double)",
)


class IngressSetup(Setup):
    COMPARED = Setup.COMPARED + ("kubernetesIngress",)

    def status(self, name, ingress):
        """`status.loadBalancer.ingress` of an Ingress on `name`'s double."""
        path = "/apis/networking.k8s.io/v1/namespaces/default/ingresses/" + ingress
        return self.double.doubles[name].get(path).get("status", {}).get("loadBalancer", {}).get("ingress")


@pytest.fixture
def setups():
    made = []
    yield lambda *a, **k: made.append(IngressSetup(*a, **k)) or made[-1]
    for s in made:
        s.close()


def ingress(name, host, path="/", service="whoami-a", cls="traefik", annotations=None):
    meta = "{name: %s, namespace: default}" % name
    if annotations:
        meta = "{name: %s, namespace: default, annotations: {%s}}" % (
            name, ", ".join('%s: "%s"' % kv for kv in annotations.items()))
    return """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: %s
spec:
  %s
  rules:
  - host: %s
    http:
      paths:
      - {path: '%s', pathType: Prefix, backend: {service: {name: %s, port: {number: 80}}}}
""" % (meta, "ingressClassName: %s" % cls if cls else "", host, path, service)


def test_kubernetes_ingress_compared(setups):
    extra = "    ingressEndpoint:\n      ip: 10.9.8.7"
    s = setups("kubernetesIngress", ["ingress"], extra=extra)
    s.expect("Ingress served", {
        ("ing.test", "/"): (200, "a"),
        ("ing.test", "/exact-path-b"): (200, "b"),
        ("ing.test", "/exact-path-b/c"): (200, "a"),
        ("other-class.test", "/"): 404,
    })
    for name in s.proxies:
        assert s.routers(name) == ["default-site-ing-test-exact-path-b@kubernetes", "default-site-ing-test@kubernetes"], name
        wait("%s: status written" % name, lambda: s.status(name, "site") == [{"ip": "10.9.8.7"}] or s.status(name, "site"))
        assert any(r.startswith("PUT /apis/networking.k8s.io/v1/namespaces/default/ingresses/site/status")
                   for r in s.double.requests(name)), name
        assert s.status(name, "elsewhere") is None, name
    # The other class's Ingress moves to Traefik's class.
    s.double.apply(ingress("elsewhere", "other-class.test", service="whoami-b"))
    s.expect("class changed", {("other-class.test", "/"): (200, "b")})
    for name in s.proxies:
        wait("%s: status of the moved Ingress" % name,
             lambda: s.status(name, "elsewhere") == [{"ip": "10.9.8.7"}] or s.status(name, "elsewhere"))
    # No ready endpoint: the router goes with its empty service (404).
    s.double.ready("default", "whoami-b-1", "127.0.0.1", False)
    s.expect("endpoint not ready", {("other-class.test", "/"): 404, ("ing.test", "/"): (200, "a")})
    s.double.ready("default", "whoami-b-1", "127.0.0.1", True)
    s.expect("endpoint ready again", {("other-class.test", "/"): (200, "b")})
    # Scaled: a second (IPv6) slice with backend c.
    s.double.apply("""
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: whoami-a-2, namespace: default, labels: {kubernetes.io/service-name: whoami-a}}
addressType: IPv6
ports: [{name: web, port: %d}]
endpoints: [{addresses: ["::1"], conditions: {ready: true}}]
""" % s.ports["c_port"])
    for name, p in s.proxies.items():
        wait("%s: both slices served" % name, lambda: set(spread(p, "ing.test", "/", 6)) == {"a", "c"} or None)
    # A path changed.
    s.double.apply(ingress("elsewhere", "other-class.test", path="/moved", service="whoami-b"))
    s.expect("path changed", {("other-class.test", "/"): 404, ("other-class.test", "/moved/x"): (200, "b")})
    s.double.delete("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: site, namespace: default}\n")
    s.expect("Ingress deleted", {("ing.test", "/"): 404, ("other-class.test", "/moved"): (200, "b")})


def test_kubernetes_ingress_class_annotation_compared(setups):
    s = setups("kubernetesIngress", [], extra="    ingressClass: edge")
    s.double.apply(ingress("edge", "edge.test", cls=None, annotations={"kubernetes.io/ingress.class": "edge"}))
    s.double.apply(ingress("plain", "plain.test", cls=None, annotations={"kubernetes.io/ingress.class": "traefik"}))
    s.expect("the provider's class only", {("edge.test", "/"): (200, "a"), ("plain.test", "/"): 404})
    s.double.apply(ingress("plain", "plain.test", cls=None, annotations={"kubernetes.io/ingress.class": "edge"}))
    s.expect("annotation changed", {("plain.test", "/"): (200, "a")})


def test_kubernetes_ingress_annotations_and_default_backend_compared(setups):
    """Router annotations (priority, path matcher, entry points), the
    `strictPrefixMatching` option, a wildcard host, and an Ingress's
    default backend."""
    s = setups("kubernetesIngress", [], extra="    strictPrefixMatching: true")
    # No class: served, as the provider has no `ingressClass`.
    s.double.apply(ingress("prefix", "ann.test", path="/v1", cls=None))
    s.double.apply(ingress("regexp", "ann.test", path="^/v[0-9]+/b", service="whoami-b", cls=None, annotations={
        "traefik.ingress.kubernetes.io/router.pathmatcher": "PathRegexp",
        "traefik.ingress.kubernetes.io/router.priority": "1000",
    }).replace("pathType: Prefix", "pathType: ImplementationSpecific"))
    # A wildcard host: one label under it.
    s.double.apply(ingress("wild", "'*.wild.test'", cls=None))
    s.double.apply(ingress("elsewhere", "ep.test", cls=None, annotations={
        "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
    }))
    s.double.apply("""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: fallback, namespace: default}
spec:
  defaultBackend: {service: {name: whoami-b, port: {name: web}}}
""")
    s.expect("annotations and default backend", {
        ("ann.test", "/v1"): (200, "a"),
        ("ann.test", "/v1/x"): (200, "a"),
        # Strict prefix matching: `/v12` is not under `/v1`; the default
        # backend answers it.
        ("ann.test", "/v12"): (200, "b"),
        # The regexp path wins by its priority.
        ("ann.test", "/v1/b"): (200, "b"),
        # Only on websecure: the default backend answers on web.
        ("ep.test", "/"): (200, "b"),
        ("any.test", "/"): (200, "b"),
        ("a.wild.test", "/"): (200, "a"),
        ("x.y.wild.test", "/"): (200, "b"),
    })
    for name in s.proxies:
        assert "default-router@kubernetes" in s.routers(name), name


def test_kubernetes_ingress_published_service_compared(setups):
    extra = "    ingressEndpoint:\n      publishedService: default/edge"
    s = setups("kubernetesIngress", ["ingress"], extra=extra)
    service = """
apiVersion: v1
kind: Service
metadata: {name: edge, namespace: default}
spec:
  type: LoadBalancer
  ports: [{name: web, port: 80}]
status:
  loadBalancer:
    ingress: [{ip: %s}]
"""
    s.double.apply(service % "192.0.2.10")
    s.expect("Ingress served", {("ing.test", "/"): (200, "a")})
    for name in s.proxies:
        wait("%s: published status" % name, lambda: s.status(name, "site") == [{"ip": "192.0.2.10"}] or s.status(name, "site"))
    s.double.apply(service % "192.0.2.11")
    for name in s.proxies:
        wait("%s: published status followed" % name,
             lambda: s.status(name, "site") == [{"ip": "192.0.2.11"}] or s.status(name, "site"))


def test_kubernetes_ingress_tls_from_a_secret_compared(setups):
    """`spec.tls` Secrets give the certificates, `router.tls` makes the
    routers TLS ones (on websecure by `router.entrypoints`): the Secret's
    certificate is served by SNI, and the default one once it is gone."""
    s = setups("kubernetesIngress", [])
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
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: secure
  namespace: default
  annotations:
    traefik.ingress.kubernetes.io/router.entrypoints: websecure
    traefik.ingress.kubernetes.io/router.tls: "true"
spec:
  tls: [{hosts: [backend.test], secretName: site-cert}]
  rules:
  - host: backend.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: whoami-a, port: {number: 80}}}}
""" % (indent(cert), indent(key)))

    def tls_answer(p):
        try:
            status, headers, _ = request(p.other, "GET", "/", host="backend.test", tls={"sni": "backend.test"})
        except OSError as e:
            return str(e)
        return status, headers.get("x-test-cert-cn")

    for name, p in s.proxies.items():
        wait("%s: the Secret's certificate served" % name, lambda: tls_answer(p) == (200, "localhost") or tls_answer(p))
    s.expect("not on web", {("backend.test", "/"): 404})
    s.double.delete("apiVersion: v1\nkind: Secret\nmetadata: {name: site-cert, namespace: default}\n")
    default_cn = {"traefik": "TRAEFIK DEFAULT CERT", "switchyard": "SWITCHYARD DEFAULT CERT"}
    for name, p in s.proxies.items():
        wait("%s: the default certificate once the Secret is gone" % name,
             lambda: tls_answer(p) == (200, default_cn[name]) or tls_answer(p))


def test_kubernetes_ingress_namespaces_and_label_selector_compared(setups):
    """`namespaces` makes both watch per-namespace paths; `labelSelector`
    goes to the API server with the Ingress watches only."""
    extra = "    namespaces: [default]\n    labelSelector: \"team=a\""
    s = setups("kubernetesIngress", [], extra=extra)
    one = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: %(name)s, namespace: %(ns)s, labels: {team: %(team)s}}
spec:
  rules:
  - host: %(name)s.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: whoami-a, port: {number: 80}}}}
"""
    s.double.apply(one % dict(name="mine", ns="default", team="a"))
    s.double.apply(one % dict(name="theirs", ns="default", team="b"))
    s.double.apply(one % dict(name="elsewhere", ns="other", team="a"))
    s.expect("selected Ingresses", {
        ("mine.test", "/"): (200, "a"),
        ("theirs.test", "/"): 404,
        ("elsewhere.test", "/"): 404,
    })
    s.double.apply(one % dict(name="theirs", ns="default", team="a"))
    s.expect("relabelled into the selection", {("theirs.test", "/"): (200, "a")})
    s.double.apply(one % dict(name="mine", ns="default", team="b"))
    s.expect("relabelled out of it", {("mine.test", "/"): 404})
    for name in s.proxies:
        asked = s.double.requests(name)
        assert any(r.startswith("GET /apis/networking.k8s.io/v1/namespaces/default/ingresses?") and "labelSelector=team=a" in r for r in asked), (name, asked)
        assert not any(r.startswith("GET /apis/networking.k8s.io/v1/ingresses?") for r in asked), name
        assert any(r.startswith("GET /api/v1/namespaces/default/services?") and "labelSelector" not in r for r in asked), name
        assert any(r.startswith("GET /apis/networking.k8s.io/v1/ingressclasses?") for r in asked), name

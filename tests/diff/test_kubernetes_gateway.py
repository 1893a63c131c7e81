"""The kubernetesGateway provider, Traefik and Switchyard side by side on
the testkit's API server double (`kube-double`; no real API server can be
installed here): each proxy has a double of its own loaded and changed
alike (the Gateway's listener names each proxy's own `web` port), every
step must hold for both, and their answers, router names and the statuses
they write back are compared.

The machinery (doubles, backends, `expect`) is test_kubernetes.py's, whose
Traefik-only Gateway cases stay as they are.
"""

import http.client
import json
import os
from collections import Counter

import pytest

from harness import REPO, request, switchyard_bin, traefik_bin
from test_kubernetes import TOKEN, Backend, Backend6, Doubles, KubeDouble, Proxy, STATIC, answer, expect, kube_double_bin, manifest, spread, wait

pytestmark = pytest.mark.skipif(
    traefik_bin() is None or kube_double_bin() is None or switchyard_bin() is None,
    reason="needs `traefik`, switchyard and kube-double (cargo build -p switchyard -p switchyard-testkit --bin kube-double)",
)

GATEWAY_API = "/apis/gateway.networking.k8s.io/v1"


def untimed(v):
    if isinstance(v, dict):
        return {k: untimed(x) for k, x in v.items() if k != "lastTransitionTime"}
    if isinstance(v, list):
        return [untimed(x) for x in v]
    return v


class GatewaySetup:
    """Backends a, b (127.0.0.1) and c ([::1]); Traefik and Switchyard,
    each with providers.kubernetesGateway on its own double holding the
    Services and EndpointSlices, then `manifests` with `<<web>>` its own
    web port."""

    def __init__(self, manifests, extra=""):
        self.backends = {"a": Backend("a"), "b": Backend("b"), "c": Backend6("c")}
        self.ports = {n + "_port": b.server.server_address[1] for n, b in self.backends.items()}
        self.proxies = {}
        self.double = Doubles({})
        for name, binary in (("traefik", traefik_bin()), ("switchyard", switchyard_bin())):
            double = KubeDouble(manifest("backends", **self.ports))
            self.double.doubles[name] = double
            values = dict(provider="kubernetesGateway", endpoint=double.endpoint, token=TOKEN, extra=extra)
            self.proxies[name] = Proxy(binary, STATIC, "", values)
            double.apply(manifest(*manifests, web=self.proxies[name].web, **self.ports))

    def apply(self, text):
        """`text` with `<<web>>` and `<<other>>` each proxy's web and
        websecure ports, on each double."""
        for name, d in self.double.doubles.items():
            p = self.proxies[name]
            d.apply(text.replace("<<web>>", str(p.web)).replace("<<other>>", str(p.other)))

    def expect(self, what, wants, timeout=20):
        took = {name: expect(p, "%s: %s" % (name, what), wants, timeout) for name, p in self.proxies.items()}
        got = {name: {k: answer(p, *k) for k in wants} for name, p in self.proxies.items()}
        for name, answers in got.items():
            assert answers == got["traefik"], "%s: %s answered %r, traefik %r" % (what, name, answers, got["traefik"])
        return took["traefik"]

    def routers(self, of):
        status, _, body = request(self.proxies[of].admin, "GET", "/api/http/routers", host="localhost")
        names = (r["name"] for r in json.loads(body)) if status == 200 else ()
        return sorted(n for n in names if not n.endswith("@internal"))

    def status(self, of, path):
        return untimed(self.double.doubles[of].get(path).get("status"))

    def close(self):
        for p in self.proxies.values():
            p.close()
        self.double.close()
        for b in self.backends.values():
            b.close()


@pytest.fixture
def setups():
    made = []
    yield lambda *a, **k: made.append(GatewaySetup(*a, **k)) or made[-1]
    for s in made:
        s.close()


def statuses_alike(s, paths):
    """Waits until both doubles hold the same statuses (times aside) at
    every path, each written."""
    def check():
        got = {name: [s.status(name, p) for p in paths] for name in s.proxies}
        if all(v is not None for v in got["traefik"]) and got["traefik"] == got["switchyard"]:
            return True
        return got
    wait("the same statuses written", check, timeout=20)


def test_kubernetes_gateway_compared(setups):
    s = setups(["gateway"])
    s.expect("HTTPRoute served", {
        ("gw.test", "/a"): (200, "a"),
        ("gw.test", "/a/b"): (200, "a"),
        ("other.test", "/a"): 404,
    })
    # `/ab` is not under the `/a` prefix: the weighted rule takes it (which
    # backend answers depends on the balancer's turn).
    for name, p in s.proxies.items():
        assert answer(p, "gw.test", "/ab")[0] == 200, name
    # Weighted 1:1, the same turns.
    spreads = {name: spread(p, "gw.test", "/", 8) for name, p in s.proxies.items()}
    assert spreads["switchyard"] == spreads["traefik"] == Counter({"a": 4, "b": 4}), spreads
    # Named alike: `httproute-<ns>-<route>-gw-<ns>-<gateway>-ep-<entry point>-<rule>-<hash>`.
    assert s.routers("switchyard") == s.routers("traefik"), (s.routers("switchyard"), s.routers("traefik"))
    assert len(s.routers("traefik")) == 2
    statuses_alike(s, [
        GATEWAY_API + "/gatewayclasses/traefik",
        GATEWAY_API + "/namespaces/default/gateways/gw",
        GATEWAY_API + "/namespaces/default/httproutes/site",
    ])

    # whoami-a's only endpoint not ready: its load balancers have no server.
    s.double.ready("default", "whoami-a-1", "127.0.0.1", False)
    s.expect("endpoint not ready", {("gw.test", "/a"): 503})
    s.double.ready("default", "whoami-a-1", "127.0.0.1", True)
    s.expect("endpoint ready again", {("gw.test", "/a"): (200, "a")})
    # A second slice for whoami-b, on [::1]: both served.
    s.apply("""
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: whoami-b-2, namespace: default, labels: {kubernetes.io/service-name: whoami-b}}
addressType: IPv6
ports: [{name: web, port: %d}]
endpoints: [{addresses: ["::1"], conditions: {ready: true}}]
""" % s.ports["c_port"])
    for name, p in s.proxies.items():
        wait("%s: the second slice served" % name, lambda: set(spread(p, "gw.test", "/", 8)) == {"a", "b", "c"} or None)
    # The route changed.
    s.apply("""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: site, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [gw2.test]
  rules:
  - backendRefs: [{name: whoami-a, port: 80}]
""")
    s.expect("HTTPRoute changed", {("gw.test", "/a"): 404, ("gw2.test", "/a"): (200, "a")})
    assert s.routers("switchyard") == s.routers("traefik")
    # Deleted.
    s.double.delete("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: site, namespace: default}\n")
    s.expect("HTTPRoute deleted", {("gw2.test", "/a"): 404})


MATCHES = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: matches, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [m.test, "*.wild.test"]
  rules:
  - matches:
    - path: {type: Exact, value: /exact}
    - path: {type: PathPrefix, value: /h}
      headers: [{name: X-Env, value: prod}]
    - path: {type: RegularExpression, value: "^/re/[0-9]+$"}
    - path: {type: PathPrefix, value: /q}
      queryParams: [{name: v, value: "2"}]
      method: GET
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Set, value: s}]
        remove: [X-Drop]
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{name: X-Answer, value: r}]
    backendRefs: [{name: whoami-b, port: 80}]
"""


def test_kubernetes_gateway_matches_and_filters_compared(setups):
    s = setups(["gateway"])
    s.apply(MATCHES)
    s.expect("matches", {
        ("m.test", "/exact"): (200, "b"),
        ("m.test", "/exact/more"): 404,
        ("x.wild.test", "/exact"): (200, "b"),
        ("wild.test", "/exact"): 404,
        ("m.test", "/re/42"): (200, "b"),
        ("m.test", "/re/x"): 404,
        ("m.test", "/q?v=2"): (200, "b"),
        ("m.test", "/q?v=3"): 404,
        # The original route still takes gw.test; /h without the header is not matched.
        ("m.test", "/h"): 404,
    })
    for name, p in s.proxies.items():
        status, headers, body = request(p.web, "GET", "/h", host="m.test", headers={"X-Env": "prod", "X-Drop": "x"})
        assert status == 200, name
        seen = {k.lower(): v for k, v in json.loads(body)["headers"]}
        assert seen.get("x-set") == "s", (name, seen)
        assert "x-drop" not in seen, (name, seen)
        assert headers.get("x-answer") == "r", (name, headers)
    assert s.routers("switchyard") == s.routers("traefik")
    statuses_alike(s, [GATEWAY_API + "/namespaces/default/httproutes/matches"])


REDIRECTS = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: redirects, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [r.test, "r.test:8000"]
  rules:
  - matches: [{path: {type: PathPrefix, value: /secure}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, statusCode: 301}
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - type: RequestRedirect
      requestRedirect:
        hostname: moved.test
        port: 8443
        path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}
  - matches: [{path: {type: Exact, value: /full}}]
    filters:
    - type: RequestRedirect
      requestRedirect:
        path: {type: ReplaceFullPath, replaceFullPath: /elsewhere}
  - matches: [{path: {type: PathPrefix, value: /see}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {hostname: see.test, statusCode: 303}
  - matches: [{path: {type: PathPrefix, value: /temp}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, port: 9443, statusCode: 307}
  - matches: [{path: {type: PathPrefix, value: /perm/}}]
    filters:
    - type: RequestRedirect
      requestRedirect:
        statusCode: 308
        path: {type: ReplacePrefixMatch, replacePrefixMatch: /p/}
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: whoami-a, port: 80}]
"""


def test_kubernetes_gateway_redirects_compared(setups):
    """RequestRedirect filters (Traefik's own `requestRedirect` middleware
    in both): the same status, Location and body for every method, every
    status the Gateway API allows, the request's port kept unless a scheme
    or port is given."""
    s = setups(["gateway"])
    s.apply(REDIRECTS)
    s.expect("redirect routes", {("r.test", "/"): (200, "a"), ("r.test", "/secure"): 301})
    paths = [
        "/secure", "/secure/x?q=1", "/old", "/old/", "/old/a/b?z", "/full", "/full?k=v", "/oldish",
        "/see/x", "/temp?t=1", "/perm", "/perm/", "/perm/a/b", "/old/a%20b",
    ]
    got = {}
    for name, p in s.proxies.items():
        got[name] = []
        for method in ("GET", "POST"):
            for host in ("r.test", "r.test:8000"):
                for path in paths:
                    status, headers, body = request(p.web, method, path, host=host)
                    got[name].append((method, host, path, status, headers.get("location"), body if status != 200 else None))
    assert got["switchyard"] == got["traefik"], json.dumps({k: [repr(x) for x in v] for k, v in got.items()}, indent=1)
    get_plain = [(path, status, location) for method, host, path, status, location, _ in got["traefik"] if method == "GET" and host == "r.test"]
    assert get_plain[:8] == [
        ("/secure", 301, "https://r.test/secure"),
        ("/secure/x?q=1", 301, "https://r.test/secure/x?q=1"),
        ("/old", 302, "http://moved.test:8443/new"),
        ("/old/", 302, "http://moved.test:8443/new/"),
        ("/old/a/b?z", 302, "http://moved.test:8443/new/a/b?z"),
        ("/full", 302, "http://r.test/elsewhere"),
        ("/full?k=v", 302, "http://r.test/elsewhere?k=v"),
        ("/oldish", 200, None),
    ], get_plain
    # A POST keeps the status (not 307/308 for 302/301).
    posted = {(path, host): status for method, host, path, status, _, _ in got["traefik"] if method == "POST"}
    assert posted[("/secure", "r.test")] == 301 and posted[("/see/x", "r.test")] == 303, posted
    assert s.routers("switchyard") == s.routers("traefik")


REWRITES = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: rewrites, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [u.test]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    filters:
    - type: URLRewrite
      urlRewrite:
        hostname: rewritten.test
        path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}
    backendRefs: [{name: whoami-a, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /root/}}]
    filters:
    - type: URLRewrite
      urlRewrite:
        path: {type: ReplacePrefixMatch, replacePrefixMatch: /}
    backendRefs: [{name: whoami-a, port: 80}]
  - matches: [{path: {type: Exact, value: /full}}]
    filters:
    - type: URLRewrite
      urlRewrite:
        path: {type: ReplaceFullPath, replaceFullPath: /replaced/whole}
    backendRefs: [{name: whoami-b, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /host}}]
    filters:
    - type: URLRewrite
      urlRewrite: {hostname: only-host.test}
    backendRefs: [{name: whoami-b, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /ver/}}]
    filters:
    - type: URLRewrite
      urlRewrite:
        path: {type: ReplacePrefixMatch, replacePrefixMatch: /new/}
    backendRefs: [{name: whoami-b, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /svc}}]
    backendRefs:
    - name: whoami-a
      port: 80
      filters:
      - type: URLRewrite
        urlRewrite:
          hostname: svc.test
          path: {type: ReplacePrefixMatch, replacePrefixMatch: /backend}
"""


def test_kubernetes_gateway_url_rewrites_compared(setups):
    """URLRewrite filters (Switchyard builds them as replacePath,
    replacePathRegex and headers middlewares): the backend receives the
    same path, query and Host from both proxies, and no X-Replaced-Path."""
    s = setups(["gateway"])
    s.apply(REWRITES)
    s.expect("rewrite routes", {("u.test", "/api"): (200, "a"), ("u.test", "/full"): (200, "b")})
    paths = [
        "/api", "/api/", "/api/x", "/api/x/y/?q=1", "/api//x", "/apix",
        "/root", "/root/", "/root/a/b", "/full", "/full?k=v", "/host/p?z",
        "/ver", "/ver/", "/ver/x/", "/api/a/../b",
        # On a backendRef: the service's middlewares rewrite alike.
        "/svc", "/svc/x?y=1",
    ]
    got = {}
    for name, p in s.proxies.items():
        got[name] = []
        for path in paths:
            status, _, body = request(p.web, "GET", path, host="u.test")
            seen = json.loads(body) if status == 200 else {}
            sent = dict(seen.get("headers", []))
            got[name].append((path, status, seen.get("uri"), sent.get("host"), sent.get("x-replaced-path")))
    assert got["switchyard"] == got["traefik"], json.dumps(got, indent=1)
    assert got["traefik"][:3] == [
        ("/api", 200, "/v2", "rewritten.test", None),
        ("/api/", 200, "/v2/", "rewritten.test", None),
        ("/api/x", 200, "/v2/x", "rewritten.test", None),
    ], got["traefik"]
    assert got["traefik"][-1] == ("/svc/x?y=1", 200, "/backend/x?y=1", "svc.test", None), got["traefik"]
    assert s.routers("switchyard") == s.routers("traefik")


def test_kubernetes_gateway_https_listener_compared(setups):
    """An HTTPS listener on the websecure entry point's port, its
    certificate from a Secret (the fixture certificate, for
    `backend.test`): served over TLS by the route attached to it only, and
    the certificate follows the Secret's deletion (each proxy then serves
    its generated default certificate, and the listener is invalid)."""
    s = setups(["gateway"])
    fixtures = os.path.join(REPO, "crates", "testkit", "fixtures")
    indent = lambda path: "\n".join("      " + line for line in open(os.path.join(fixtures, path)).read().strip().splitlines())
    s.apply("""
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
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: traefik
  listeners:
  - {name: web, port: <<web>>, protocol: HTTP}
  - name: secure
    port: <<other>>
    protocol: HTTPS
    hostname: backend.test
    tls: {certificateRefs: [{name: site-cert}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: secure, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: secure}]
  rules:
  - backendRefs: [{name: whoami-b, port: 80}]
""" % (indent("server.pem"), indent("server.key")))

    def tls_answer(p):
        try:
            status, headers, body = request(p.other, "GET", "/", host="backend.test", tls={"sni": "backend.test"})
        except OSError as e:
            return str(e)
        name = json.loads(body)["name"] if status == 200 and body.startswith(b"{") else None
        return status, name, headers.get("x-test-cert-cn")

    for name, p in s.proxies.items():
        wait("%s: served over TLS with the Secret's certificate" % name,
             lambda: tls_answer(p) == (200, "b", "localhost") or tls_answer(p))
    # The plain listener does not take the route.
    s.expect("not on the plain listener", {("backend.test", "/"): 404})
    assert s.routers("switchyard") == s.routers("traefik")
    statuses_alike(s, [GATEWAY_API + "/namespaces/default/gateways/gw", GATEWAY_API + "/namespaces/default/httproutes/secure"])
    # The Secret deleted: the listener is invalid, its route detached.
    s.double.delete("apiVersion: v1\nkind: Secret\nmetadata: {name: site-cert, namespace: default}\n")
    default_cn = {"traefik": "TRAEFIK DEFAULT CERT", "switchyard": "SWITCHYARD DEFAULT CERT"}
    for name, p in s.proxies.items():
        wait("%s: the default certificate, no route" % name,
             lambda: tls_answer(p) == (404, None, default_cn[name]) or tls_answer(p))
    statuses_alike(s, [GATEWAY_API + "/namespaces/default/gateways/gw", GATEWAY_API + "/namespaces/default/httproutes/secure"])


def test_kubernetes_gateway_namespaces_and_label_selector_compared(setups):
    """`namespaces` makes both watch per-namespace paths (a route elsewhere
    is not seen); `labelSelector` goes with the GatewayClass watch only (a
    class without the label is not Traefik's)."""
    s = setups([], extra="    namespaces: [default]\n    labelSelector: \"team=a\"")
    s.apply("""
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: mine, labels: {team: a}}
spec: {controllerName: traefik.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: unlabelled}
spec: {controllerName: traefik.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: mine
  listeners:
  - {name: web, port: <<web>>, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ignored, namespace: default}
spec:
  gatewayClassName: unlabelled
  listeners:
  - {name: web, port: <<web>>, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: here, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [here.test]
  rules:
  - backendRefs: [{name: whoami-a, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: there, namespace: other}
spec:
  parentRefs: [{name: gw, namespace: default}]
  hostnames: [there.test]
  rules:
  - backendRefs: [{name: whoami-a, namespace: default, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: unclassed, namespace: default}
spec:
  parentRefs: [{name: ignored}]
  hostnames: [unclassed.test]
  rules:
  - backendRefs: [{name: whoami-a, port: 80}]
""")
    s.expect("selected objects only", {
        ("here.test", "/"): (200, "a"),
        ("there.test", "/"): 404,
        ("unclassed.test", "/"): 404,
    })
    for name in s.proxies:
        asked = s.double.requests(name)
        assert any(r.startswith("GET /apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes?") for r in asked), (name, asked)
        assert not any(r.startswith("GET /apis/gateway.networking.k8s.io/v1/httproutes?") for r in asked), name
        assert any(r.startswith("GET /apis/gateway.networking.k8s.io/v1/gatewayclasses?") and "labelSelector=team" in r for r in asked), (name, asked)
    assert s.routers("switchyard") == s.routers("traefik")
    statuses_alike(s, [GATEWAY_API + "/gatewayclasses/mine", GATEWAY_API + "/namespaces/default/gateways/gw"])
    # Only Traefik's own class gets a status.
    for name in s.proxies:
        assert s.status(name, GATEWAY_API + "/gatewayclasses/unlabelled") is None, name


INVALID = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: invalid, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [bad.test]
  rules:
  - matches: [{path: {type: PathPrefix, value: /mirror}}]
    filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: whoami-b, port: 80}}
    backendRefs: [{name: whoami-a, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /cors}}]
    filters:
    - type: CORS
      cors: {allowOrigins: ["*"]}
    backendRefs: [{name: whoami-a, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /missing}}]
    backendRefs: [{name: nothing-here, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /noport}}]
    backendRefs: [{name: whoami-a}]
  - matches: [{path: {type: PathPrefix, value: /kind}}]
    backendRefs: [{group: example.com, kind: Thing, name: whoami-a, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /cross}}]
    backendRefs: [{name: whoami-a, namespace: other, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /badport}}]
    backendRefs: [{name: whoami-a, port: 81}]
  - matches: [{path: {type: PathPrefix, value: /half}}]
    backendRefs:
    - {name: whoami-a, port: 80, weight: 1}
    - {name: nothing-here, port: 80, weight: 1}
  - matches: [{path: {type: PathPrefix, value: /fine}}]
    backendRefs: [{name: whoami-b, port: 80}]
"""


def test_kubernetes_gateway_invalid_rules_answer_500_compared(setups):
    """What Traefik cannot load (an unsupported filter, a missing Service,
    no port, an unknown kind, no ReferenceGrant, a port the Service does
    not have) keeps its router and answers 500 with no body; a missing
    backend weighted beside a good one answers 500 for its share. The same
    routers, services and route status in both."""
    s = setups(["gateway"])
    s.apply(INVALID)
    wants = {("bad.test", "/fine"): (200, "b")}
    for path in ("/mirror", "/cors", "/missing", "/noport", "/kind", "/cross", "/badport"):
        wants[("bad.test", path)] = 500
    s.expect("invalid rules", wants)
    for name, p in s.proxies.items():
        for path in ("/mirror", "/missing"):
            status, _, body = request(p.web, "GET", path, host="bad.test")
            assert (status, body) == (500, b""), (name, path, status, body)
    spreads = {name: Counter(answer(p, "bad.test", "/half") for _ in range(8)) for name, p in s.proxies.items()}
    assert spreads["switchyard"] == spreads["traefik"] == Counter({(200, "a"): 4, (500, None): 4}), spreads
    assert s.routers("switchyard") == s.routers("traefik")
    services = {}
    for name, p in s.proxies.items():
        status, _, body = request(p.admin, "GET", "/api/rawdata", host="localhost")
        raw = json.loads(body)["services"]
        services[name] = {k: v.get("weighted") for k, v in raw.items() if k.endswith("wrr@kubernetesgateway")}
    assert services["switchyard"] == services["traefik"], json.dumps(services, indent=1)
    statuses_alike(s, [GATEWAY_API + "/namespaces/default/httproutes/invalid"])


ADDS = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: adds, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [add.test]
  rules:
  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Set, value: s}]
        add: [{name: X-Multi, value: added}, {name: X-Set, value: also}]
        remove: [X-Drop]
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        add: [{name: X-Backend, value: added}]
        set: [{name: X-Answer, value: r}]
    backendRefs: [{name: whoami-a, port: 80}]
"""


def raw_answer(port, path, host, headers):
    """(status, the response's X-Backend and X-Answer fields, the request's
    X-Multi, X-Set and X-Drop fields the backend saw): each field as
    (name, value), repeated ones kept in their order."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        for k, v in headers:
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        fields = [(k.lower(), v) for k, v in resp.getheaders() if k.lower() in ("x-backend", "x-answer")]
        seen = [tuple(h) for h in json.loads(body)["headers"] if h[0] in ("x-multi", "x-set", "x-drop")] if resp.status == 200 else []
        # Each proxy writes the fields of different names in its own order.
        return resp.status, sorted(fields, key=lambda f: f[0]), sorted(seen, key=lambda f: f[0])
    finally:
        conn.close()


def test_kubernetes_gateway_header_add_appends_compared(setups):
    """Header modifiers' `add` appends a value (a field of its own) to what
    the request or the answer has, after `set`; `remove` last."""
    s = setups(["gateway"])
    s.apply(ADDS)
    s.expect("adds route", {("add.test", "/"): (200, "a")})
    got = {}
    for name, p in s.proxies.items():
        got[name] = [
            raw_answer(p.web, "/", "add.test", []),
            raw_answer(p.web, "/", "add.test", [("X-Multi", "sent"), ("X-Set", "old"), ("X-Drop", "d")]),
        ]
    assert got["switchyard"] == got["traefik"], got
    assert got["traefik"][1] == (
        200,
        [("x-answer", "r"), ("x-backend", "a"), ("x-backend", "added")],
        [("x-multi", "sent"), ("x-multi", "added"), ("x-set", "s"), ("x-set", "also")],
    ), got["traefik"]


TCP_ROUTES = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: tcpgw, namespace: default}
spec:
  gatewayClassName: traefik
  listeners:
  - {name: raw, port: <<other>>, protocol: TCP}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: raw, namespace: default}
spec:
  parentRefs: [{name: tcpgw, sectionName: raw}]
  rules:
  - backendRefs: [{name: whoami-a, port: 80}]
"""


def tcp_view(s, name):
    """The proxy's TCP routers and services (names, rules, services and
    TLS), as its /api/rawdata shows them."""
    status, _, body = request(s.proxies[name].admin, "GET", "/api/rawdata", host="localhost")
    raw = json.loads(body) if status == 200 else {}
    routers = {k: (v.get("rule"), v.get("service"), v.get("tls"), v.get("entryPoints"), v.get("priority"))
               for k, v in raw.get("tcpRouters", {}).items()}
    services = {k: v.get("weighted") or {"servers": len(v.get("loadBalancer", {}).get("servers", []))}
                for k, v in raw.get("tcpServices", {}).items()}
    return routers, services


def test_kubernetes_gateway_tcp_and_tls_routes_compared(setups):
    """With experimentalChannel: a TCPRoute on a TCP listener routes the
    connection to its Service (an HTTP request sent through it is answered
    by the backend); then a TLSRoute on a TLS listener terminating with the
    Secret's certificate (`backend.test`), routed by SNI. The same TCP
    routers and services in both, the same route statuses."""
    s = setups(["gateway"], extra="    experimentalChannel: true")
    s.apply(TCP_ROUTES)

    def through(p, tls=None):
        try:
            status, _, body = request(p.other, "GET", "/", host="any.test", tls=tls, timeout=5)
        except OSError as e:
            return str(e)
        return status, (json.loads(body)["name"] if status == 200 and body.startswith(b"{") else None)

    for name, p in s.proxies.items():
        wait("%s: TCPRoute routed" % name, lambda: through(p) == (200, "a") or through(p), timeout=20)
    assert tcp_view(s, "switchyard") == tcp_view(s, "traefik"), (tcp_view(s, "switchyard"), tcp_view(s, "traefik"))
    statuses_alike(s, [
        "/apis/gateway.networking.k8s.io/v1alpha2/namespaces/default/tcproutes/raw",
        GATEWAY_API + "/namespaces/default/gateways/tcpgw",
    ])

    fixtures = os.path.join(REPO, "crates", "testkit", "fixtures")
    indent = lambda path: "\n".join("      " + line for line in open(os.path.join(fixtures, path)).read().strip().splitlines())
    s.double.delete("apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: raw, namespace: default}\n")
    s.apply("""
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
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: tcpgw, namespace: default}
spec:
  gatewayClassName: traefik
  listeners:
  - name: tls
    port: <<other>>
    protocol: TLS
    tls: {mode: Terminate, certificateRefs: [{name: site-cert}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: sni, namespace: default}
spec:
  parentRefs: [{name: tcpgw, sectionName: tls}]
  hostnames: [backend.test]
  rules:
  - backendRefs: [{name: whoami-b, port: 80}]
""" % (indent("server.pem"), indent("server.key")))
    for name, p in s.proxies.items():
        wait("%s: TLSRoute routed by SNI" % name,
             lambda: through(p, tls={"sni": "backend.test"}) == (200, "b") or through(p, tls={"sni": "backend.test"}), timeout=20)
    assert tcp_view(s, "switchyard") == tcp_view(s, "traefik"), (tcp_view(s, "switchyard"), tcp_view(s, "traefik"))
    statuses_alike(s, [
        GATEWAY_API + "/namespaces/default/tlsroutes/sni",
        GATEWAY_API + "/namespaces/default/gateways/tcpgw",
    ])

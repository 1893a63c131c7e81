"""Watch event to routed, Traefik and Switchyard on kube doubles of their
own (the diff suite's `Setup`), with N IngressRoutes already there.

    cd tests/diff && SWITCHYARD_BIN=... python3 ../../bench/kube_latency.py [N ...]

For each N (default: 0, 1000, 10000): N IngressRoutes (each its own Host,
to the same Service) applied in one control POST, timed until the last
of them answers 200 (polled every 20 ms); then 20 rounds (ROUNDS) of one more
IngressRoute for a new Host, each timed from the POST's answer (the event
is then in the watch streams) to the start of the first request that gets
200 (a routed request itself takes ~45 ms with the suite's Python echo
backend, so it is not counted); then each proxy's RSS. Switchyard's own
log gives its translation and apply times. The diff suite's static
configuration: `providersThrottleDuration: 0s`, log level DEBUG.

MIDDLEWARE=own gives every IngressRoute (the bulk and the rounds') a
Middleware of its own (a `headers` one, applied with it); MIDDLEWARE=shared
has them all name the suite's `tag` Middleware; unset, none."""
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.getcwd())
import test_kubernetes as tk

ROUNDS = int(os.environ.get("ROUNDS", "20"))
ROUTE = """
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: %(name)s, namespace: default}
spec:
  entryPoints: [web]
  routes:
  - match: Host(`%(name)s.test`)
    kind: Rule
    services: [{name: whoami-a, port: web}]
"""
MIDDLEWARE = os.environ.get("MIDDLEWARE", "")
OWN = """
apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata: {name: mw-%(name)s, namespace: default}
spec:
  headers:
    customRequestHeaders: {X-Route: %(name)s}
---"""


def route(name):
    """The IngressRoute `name` (with its Middleware, per MIDDLEWARE)."""
    text = ROUTE % {"name": name}
    if MIDDLEWARE == "own":
        return OWN % {"name": name} + text.replace("    kind: Rule\n", "    kind: Rule\n    middlewares: [{name: mw-%s}]\n" % name)
    if MIDDLEWARE == "shared":
        return text.replace("    kind: Rule\n", "    kind: Rule\n    middlewares: [{name: tag}]\n")
    return text


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def wait_routed(p, host, since, timeout):
    """Seconds from `since` to the start of the first request that gets 200."""
    while True:
        started = time.perf_counter()
        if tk.answer(p, host, "/")[0] == 200:
            return started - since
        if started - since > timeout:
            raise SystemExit("timeout: %s not routed" % host)
        time.sleep(0.0005)


def run(n):
    s = tk.Setup("kubernetesCRD", ["crd"])
    try:
        s.expect("ready", {("crd.test", "/"): (200, "a")})
        print("== %d IngressRoutes (middlewares: %s)" % (n, MIDDLEWARE or "none"))
        if n:
            bulk = "".join("---" + route("bulk-%d" % i) for i in range(n))
            for name, p in s.proxies.items():
                t0 = time.perf_counter()
                s.double.doubles[name].apply(bulk)
                posted = time.perf_counter() - t0
                last = wait_routed(p, "bulk-%d.test" % (n - 1), t0, 300)
                print("%s: %d applied in %.2f s (the POST), all routed after %.2f s" % (name, n, posted, last))
        for name, p in s.proxies.items():
            d = s.double.doubles[name]
            took = []
            for i in range(ROUNDS):
                d.apply(route("r%d" % i))
                t0 = time.perf_counter()
                took.append(wait_routed(p, "r%d.test" % i, t0, 30) * 1000)
            took.sort()
            print("%s: one more IngressRoute to routed: min %.1f ms, median %.1f ms, p90 %.1f ms, max %.1f ms; RSS %.0f MiB"
                  % (name, took[0], statistics.median(took), took[max(0, (len(took) * 9 + 9) // 10 - 1)], took[-1],
                     rss_mib(p.proc.pid)))
        sy = s.proxies.get("switchyard")
        if sy:
            with open(os.path.join(sy.dir, "log.txt")) as f:
                lines = f.read().splitlines()
            translated = [l for l in lines if "translated" in l and "ingress_routes=" in l][-3:]
            applied = [l for l in lines if "configuration applied" in l][-3:]
            for l in translated + applied:
                print("  switchyard log:", re.sub(r"^\S+\s+\w+\s+", "", l)[:220])
    finally:
        s.close()


for n in [int(a) for a in sys.argv[1:]] or [0, 1000, 10000]:
    run(n)

"""Watch event to routed for providers.kubernetesGateway, Traefik and
Switchyard on kube doubles of their own (test_kubernetes_gateway.py's
`GatewaySetup`): 20 rounds, each one HTTPRoute for a new hostname applied
through the double's control POST, timed from the POST's answer to the
start of the first request that gets 200 (the routed request itself, ~45 ms
with the suite's Python echo backend, is not counted), as
bench/kube_latency.py does for kubernetesCRD. Run from tests/diff with
SWITCHYARD_BIN set; debug builds are what the suite uses."""
import os
import statistics
import sys
import time

sys.path.insert(0, os.getcwd())
import test_kubernetes as tk
import test_kubernetes_gateway as tg

ROUTE = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r%(i)d, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [r%(i)d.test]
  rules:
  - backendRefs: [{name: whoami-a, port: 80}]
"""
s = tg.GatewaySetup(["gateway"])
try:
    s.expect("ready", {("gw.test", "/a"): (200, "a")})
    for name, p in s.proxies.items():
        d = s.double.doubles[name]
        took = []
        for i in range(20):
            d.apply(ROUTE % {"i": i})
            t0 = time.perf_counter()
            while True:
                started = time.perf_counter()
                if tk.answer(p, "r%d.test" % i, "/")[0] == 200:
                    break
                if started - t0 > 10:
                    raise SystemExit("timeout")
                time.sleep(0.0005)
            took.append((started - t0) * 1000)
        took.sort()
        print(name, "min %.1f ms, median %.1f ms, p90 %.1f ms, max %.1f ms"
              % (took[0], statistics.median(took), took[17], took[-1]))
finally:
    s.close()

"""Watch event to routed, Traefik and Switchyard on kube doubles of their
own (the diff suite's `Setup`): 20 rounds, each one IngressRoute for a new
Host applied through the double's control POST, then timed from the POST's
answer to the start of the first request that gets 200 (a routed request
itself takes ~45 ms with the suite's Python echo backend, so it is not
counted). Run from tests/diff with SWITCHYARD_BIN set; debug builds are what
the suite uses."""
import os
import statistics
import sys
import time

sys.path.insert(0, os.getcwd())
import test_kubernetes as tk
ROUTE = """
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: r%(i)d, namespace: default}
spec:
  entryPoints: [web]
  routes:
  - match: Host(`r%(i)d.test`)
    kind: Rule
    services: [{name: whoami-a, port: web}]
"""
s = tk.Setup("kubernetesCRD", ["crd"])
try:
    s.expect("ready", {("crd.test", "/"): (200, "a")})
    for name, p in s.proxies.items():
        d = s.double.doubles[name]
        took = []
        applies = []
        for i in range(20):
            t_apply = time.perf_counter()
            d.apply(ROUTE % {"i": i})
            t0 = time.perf_counter()
            applies.append((t0 - t_apply) * 1000)
            # Timed to the start of the first request that is routed (a
            # routed request itself takes ~45 ms: the Python echo backend).
            while True:
                started = time.perf_counter()
                if tk.answer(p, "r%d.test" % i, "/")[0] == 200:
                    break
                if started - t0 > 10: raise SystemExit("timeout")
                time.sleep(0.0005)
            took.append((started - t0) * 1000)
        took.sort()
        print(name, "control POST itself: median %.1f ms" % statistics.median(applies))
        print(name, "min %.1f ms, " % took[0], "median %.1f ms, p90 %.1f ms, max %.1f ms" % (statistics.median(took), took[17], took[-1]))
finally:
    s.close()

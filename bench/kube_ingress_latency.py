"""Watch event to routed for `providers.kubernetesIngress`, Traefik and
Switchyard on kube doubles of their own (the diff suite's Setup), measured
as bench/kube_latency.py measures the CRD provider: 20 rounds, each one
Ingress for a new host applied through the double's control POST, timed
from the POST's answer to the start of the first request that gets 200
(the routed request itself, ~45 ms with the suite's Python echo backend,
is not counted). Run from tests/diff with SWITCHYARD_BIN set."""
import os
import statistics
import sys
import time

sys.path.insert(0, os.getcwd())
import test_kubernetes as tk
from test_kubernetes_ingress import IngressSetup, ingress

s = IngressSetup("kubernetesIngress", ["ingress"])
try:
    s.expect("ready", {("ing.test", "/"): (200, "a")})
    for name, p in s.proxies.items():
        d = s.double.doubles[name]
        took = []
        for i in range(20):
            host = "r%d.test" % i
            d.apply(ingress("r%d" % i, host))
            t0 = time.perf_counter()
            while True:
                started = time.perf_counter()
                if tk.answer(p, host, "/")[0] == 200:
                    break
                if started - t0 > 10:
                    raise SystemExit("timeout")
                time.sleep(0.0005)
            took.append((started - t0) * 1000)
        took.sort()
        print(name, "min %.1f / median %.1f / p90 %.1f / max %.1f ms"
              % (took[0], statistics.median(took), took[17], took[-1]))
finally:
    s.close()

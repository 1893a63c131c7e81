"""The dashboard in a real browser: headless Chromium, driven over WebDriver
(tests/browser/webdriver.py), against the real switchyard binary serving a
file configuration with more than 100 routers, one router in error, a
middleware chain and a service with a live backend, under `api.basePath` (routed by hand, as Traefik needs it),
24 TLS certificates (one expired, one expiring within 30 days), and TCP
and UDP routers, services and a TCP ipAllowList middleware (one TCP and one
UDP router in error).

Each test asserts on the page's DOM and leaves a screenshot in
target/browser-screenshots/. Without chromium and chromedriver the tests
fail, naming the packages to install.
"""

import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request

import pytest

from harness import REPO, Backend, Proxy, free_port, switchyard_bin

sys.path.insert(0, os.path.join(REPO, "tests", "browser"))
from webdriver import Browser, find_browser  # noqa: E402

pytestmark = pytest.mark.skipif(switchyard_bin() is None, reason="needs target/debug/switchyard")

SHOTS = os.path.join(REPO, "target", "browser-screenshots")
BASE = "/sy"
MANY = 120

STATIC = """
entryPoints:
  web:
    address: "127.0.0.1:<<web>>"
  traefik:
    address: "127.0.0.1:<<admin>>"
  tcp:
    address: "127.0.0.1:<<tcp>>"
  dns:
    address: "127.0.0.1:<<other>>/udp"
api:
  dashboard: true
  basePath: /sy
log:
  level: ERROR
providers:
  providersThrottleDuration: 0s
  file:
    filename: "<<dynamic>>"
"""

DYNAMIC_TAIL = """
    dash:
      entryPoints: [traefik]
      rule: "PathPrefix(`/sy`)"
      service: api@internal
    api:
      rule: "Host(`a.test`) && PathPrefix(`/api`)"
      service: app
      middlewares: [strip, hdr]
    admin:
      rule: "Host(`a.test`) && Header(`X-Env`, `prod`)"
      priority: 1000
      service: app
    broken:
      rule: "Host(`broken.test`)"
      service: missing
  middlewares:
    strip:
      stripPrefix:
        prefixes: ["/api"]
    hdr:
      headers:
        customRequestHeaders:
          X-Dash: "from-the-dashboard"
  services:
    app:
      loadBalancer:
        servers:
          - url: "<<backend>>"
            weight: 3
        sticky:
          cookie:
            name: sy_sticky
        healthCheck:
          path: /health
          interval: 1s
    split:
      weighted:
        services:
          - name: app
            weight: 4
"""


# TCP and UDP elements; their servers are never dialled (no health checks,
# no traffic), so fixed addresses do.
TCP_UDP = """
tcp:
  routers:
    db:
      entryPoints: [tcp]
      rule: "HostSNI(`*`)"
      service: db
      middlewares: [local]
    secure:
      entryPoints: [tcp]
      rule: "HostSNI(`db.test`)"
      service: db
      tls:
        passthrough: true
    tcpbroken:
      entryPoints: [tcp]
      rule: "HostSNI(`*`)"
      service: nothere
  middlewares:
    local:
      ipAllowList:
        sourceRange: ["127.0.0.1/32"]
  services:
    db:
      loadBalancer:
        servers:
          - address: "127.0.0.1:15432"
    dbsplit:
      weighted:
        services:
          - name: db
            weight: 2
udp:
  routers:
    dns:
      entryPoints: [dns]
      service: dns
    udpbroken:
      entryPoints: [dns]
      service: gone
  services:
    dns:
      loadBalancer:
        servers:
          - address: "127.0.0.1:15353"
"""


# The directory of the certificates (set by the `env` fixture).
CERTS = {}
VALID_CERTS = 22


def make_certs(d):
    """cert-00.test ... cert-21.test (valid a year), expired.test (expired
    in 2021, organisation Old Org) and soon.test (10 days left), self-signed
    P-256, as <name>.pem and <name>.key in `d`."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    utc = datetime.timezone.utc
    now = datetime.datetime.now(utc)
    day = datetime.timedelta(days=1)
    specs = [("cert-%02d.test" % i, "", now - day, now + 365 * day) for i in range(VALID_CERTS)]
    specs += [
        ("expired.test", "Old Org", datetime.datetime(2020, 1, 1, tzinfo=utc), datetime.datetime(2021, 1, 1, tzinfo=utc)),
        ("soon.test", "", now - day, now + 10 * day),
    ]
    for cn, org, start, end in specs:
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = ([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)] if org else []) + [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        name = x509.Name(attrs)
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn), x509.DNSName("www." + cn)]), critical=False)
            .sign(key, hashes.SHA256())
        )
        with open(os.path.join(d, cn + ".pem"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(os.path.join(d, cn + ".key"), "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return [cn for cn, _, _, _ in specs]


def dynamic(extra=""):
    routers = "".join(
        '    r%03d:\n      rule: "Host(`r%03d.example.com`)"\n      service: app\n' % (i, i) for i in range(MANY)
    )
    tls = ""
    if CERTS:
        tls = "tls:\n  certificates:\n" + "".join(
            '    - {certFile: "%s/%s.pem", keyFile: "%s/%s.key"}\n' % (CERTS["dir"], cn, CERTS["dir"], cn) for cn in CERTS["names"]
        )
    return "http:\n  routers:\n" + routers + extra + DYNAMIC_TAIL + TCP_UDP + tls


@pytest.fixture(scope="module")
def env():
    chromium, driver, missing = find_browser()
    if missing:
        pytest.fail(missing)
    backend = Backend("app")
    cert_dir = tempfile.mkdtemp(prefix="sy-dash-certs-")
    CERTS.update(dir=cert_dir, names=make_certs(cert_dir))
    proxy = Proxy(switchyard_bin(), STATIC, dynamic(), {"backend": backend.url, "tcp": free_port()})
    browser = None
    try:
        proxy.wait_ready(path=BASE + "/api/rawdata")
        browser = Browser(chromium, driver)
        yield proxy, browser
    finally:
        if browser:
            browser.close()
        proxy.close()
        backend.close()
        shutil.rmtree(cert_dir, ignore_errors=True)


def page(proxy, fragment=""):
    return "http://127.0.0.1:%d%s/dashboard/#/%s" % (proxy.admin, BASE, fragment)


def api(proxy, path):
    url = "http://127.0.0.1:%d%s/api/%s" % (proxy.admin, BASE, path)
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read()), r.headers.get("X-Next-Page")


def shot(browser, name):
    browser.screenshot(os.path.join(SHOTS, name + ".png"))


def text(browser, css):
    return browser.js("const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", css)


def rows(browser, css="#list tbody tr[data-name]"):
    return browser.js("return [...document.querySelectorAll(arguments[0])].map(r => r.dataset.name);", css)


def wait_rows(browser, want, what):
    """Waits until the list shows exactly `want` (names, in order)."""
    try:
        browser.wait(
            "return JSON.stringify([...document.querySelectorAll('#list tbody tr[data-name]')].map(r => r.dataset.name)) === arguments[0];",
            json.dumps(want, separators=(",", ":")),
            what=what,
        )
    except AssertionError:
        raise AssertionError("%s: the list shows %r, want %r" % (what, rows(browser), want)) from None


def test_overview_counts_entrypoints_and_providers(env):
    proxy, b = env
    b.get(page(proxy))
    overview, _ = api(proxy, "overview")
    total = overview["http"]["routers"]["total"]
    assert total >= MANY + 3
    b.wait(
        "const e = document.querySelector('[data-testid=count-http-routers] [data-count=total]'); return e && e.textContent === arguments[0];",
        str(total),
        what="the HTTP routers' count",
    )
    card = "[data-testid=count-http-routers] "
    assert text(b, card + "[data-count=errors]") == "1"
    assert text(b, card + "[data-count=success]") == str(total - 1)
    assert text(b, "[data-testid=count-http-middlewares] [data-count=total]") == str(overview["http"]["middlewares"]["total"])
    eps = b.js("return [...document.querySelectorAll('[data-testid=entrypoint]')].map(e => e.textContent);")
    assert any("web" in e and "127.0.0.1:%d" % proxy.web in e for e in eps), eps
    assert [p.strip() for p in b.js("return [...document.querySelectorAll('[data-testid=provider]')].map(e => e.textContent);")] == ["File"]
    assert "version" in text(b, "#version")
    # The elements in error are listed first, with their errors.
    b.wait("return document.querySelector('#problems tbody tr');", what="the problems table")
    assert rows(b, "#problems tbody tr") == ["broken@file", "tcpbroken@file", "udpbroken@file"]
    assert 'the service "missing@file" does not exist' in text(b, "#problems [data-testid=errors]")
    shot(b, "overview")

    # Navigation: the card's "errors" link opens the routers in error.
    b.click(card + "a.err")
    b.wait("return location.hash === '#/http/routers?status=disabled';", what="the errors link")
    wait_rows(b, ["broken@file"], "routers in error")


def test_every_router_is_listed_beyond_the_first_page(env):
    proxy, b = env
    # The API itself pages by 100: the page must follow X-Next-Page.
    first, next_page = api(proxy, "http/routers?per_page=100")
    assert len(first) == 100 and next_page == "2"
    names = []
    page_no = "1"
    for _ in range(10):
        items, nxt = api(proxy, "http/routers?per_page=100&page=" + page_no)
        names += [i["name"] for i in items]
        if int(nxt) <= int(page_no):
            break
        page_no = nxt
    b.get(page(proxy, "http/routers"))
    wait_rows(b, names, "every router, by name")
    assert "r119@file" in names and len(names) > 100
    assert text(b, "#list-count") == "%d routers" % len(names)
    # Reachable: the last one's link opens its page.
    b.click('#list tr[data-name="r119@file"] a[href^="#/http/routers/"]')
    b.wait("return document.querySelector('[data-testid=rule]')?.textContent === 'Host(`r119.example.com`)';", what="r119's page")
    shot(b, "router-r119")


def test_search_status_filter_and_sorting(env):
    proxy, b = env
    b.get(page(proxy, "http/routers"))
    b.wait("return document.querySelectorAll('#list tbody tr[data-name]').length > 100;", what="the full list")
    b.type("#search", "r11")
    want = ["r%03d@file" % i for i in range(110, 120)]
    wait_rows(b, want, "search r11")
    assert "search=r11" in b.js("return location.hash;")
    shot(b, "routers-search")

    # Sorting by name, then the other way.
    b.click('th[data-sort="name"]')
    wait_rows(b, list(reversed(want)), "search r11, by name descending")

    # The fragment keeps the search across a reload.
    b.js("location.reload();")
    b.wait("return document.querySelector('#search')?.value === 'r11';", what="the search after reload")
    wait_rows(b, list(reversed(want)), "search r11 after reload")

    # The status filter: errors only.
    b.type("#search", "", clear=True)
    b.click('#status-filter option[value="disabled"]')
    wait_rows(b, ["broken@file"], "status disabled")
    b.click('#status-filter option[value="enabled"]')
    b.wait(
        "const n = [...document.querySelectorAll('#list tbody tr[data-name]')].map(r => r.dataset.name);"
        "return n.length > 100 && !n.includes('broken@file');",
        what="status enabled",
    )
    shot(b, "routers-enabled")


def test_element_in_error_shows_its_error(env):
    proxy, b = env
    want = 'the service "missing@file" does not exist'
    b.get(page(proxy, "http/routers?status=disabled"))
    wait_rows(b, ["broken@file"], "routers in error")
    assert want in text(b, '#list tr[data-name="broken@file"] [data-testid=errors]')
    b.get(page(proxy, "http/routers/broken%40file"))
    b.wait("return document.querySelector('#detail [data-testid=errors]');", what="the error box")
    assert want in text(b, "#detail [data-testid=errors]")
    assert text(b, "#detail-props [data-status]") == "Error"
    shot(b, "router-in-error")


def test_detail_pages_link_router_middlewares_and_service(env):
    proxy, b = env
    b.get(page(proxy, "http/routers/api%40file"))
    b.wait("return document.querySelector('[data-testid=rule]');", what="the router's page")
    assert text(b, "[data-testid=rule]") == "Host(`a.test`) && PathPrefix(`/api`)"
    chain = b.js("return [...document.querySelectorAll('[data-testid=chain-middleware] a')].map(a => a.textContent);")
    assert chain == ["strip@file", "hdr@file"]
    assert text(b, "#detail-props [data-status]") == "Success"
    shot(b, "router-detail")

    # The middleware's page shows its whole configuration.
    b.click('[data-testid=chain-middleware] a[href$="hdr%40file"]')
    b.wait("return document.querySelector('#middleware-config');", what="the middleware's page")
    config = text(b, "#middleware-config")
    assert "customRequestHeaders" in config and "X-Dash" in config and "from-the-dashboard" in config
    assert "api@file" in text(b, "#detail-props")
    shot(b, "middleware-detail")

    # The service's page: servers with weight and status, sticky.
    b.get(page(proxy, "http/routers/api%40file"))
    b.wait("return document.querySelector('[data-testid=chain-service] a');", what="the service link")
    b.click("[data-testid=chain-service] a")
    b.wait("return document.querySelector('#servers tbody tr');", what="the servers")
    cells = b.js("return [...document.querySelectorAll('#servers tbody tr td')].map(td => td.textContent.trim());")
    backend = api(proxy, "http/services/app%40file")[0]["loadBalancer"]["servers"][0]["url"]
    assert cells == [backend, "3", "UP"], cells
    assert "sy_sticky" in text(b, "[data-testid=lb-sticky]")
    assert "/health" in text(b, "[data-testid=lb-healthCheck]")
    assert b.js("return location.hash;") == "#/http/services/app%40file"
    shot(b, "service-detail")

    # A weighted service links the services it balances, with their weight.
    b.get(page(proxy, "http/services/split%40file"))
    b.wait("return document.querySelector('#children tbody tr');", what="the weighted service's services")
    children = b.js("return [...document.querySelectorAll('#children tbody tr')].map(r => [r.querySelector('a').getAttribute('href'), r.cells[1].textContent]);")
    assert children == [["#/http/services/app%40file", "weight 4"]], children

    # An entrypoint's page, reached from the navigation bar.
    b.click('#nav a[data-section="entrypoints"]')
    b.wait("return document.querySelector('#list tr[data-name=\"web\"] a');", what="the entrypoints list")
    b.click('#list tr[data-name="web"] a')
    b.wait("return document.querySelector('#detail dl');", what="web's page")
    assert "127.0.0.1:%d" % proxy.web in text(b, "#detail")
    assert text(b, "#detail-name") == "web"


def table_cells(browser, css):
    """The text of each cell of each row matched by `css`."""
    return browser.js("return [...document.querySelectorAll(arguments[0])].map(r => [...r.cells].map(c => c.textContent.trim()));", css)


def test_tcp_and_udp_overview_cards(env):
    proxy, b = env
    b.get(page(proxy))
    b.wait("return document.querySelector('[data-testid=count-tcp-routers] [data-count=total]')?.textContent === '3';", what="the TCP routers' card")
    for card, total, errors in [("tcp-routers", 3, 1), ("tcp-services", 2, 0), ("tcp-middlewares", 1, 0), ("udp-routers", 2, 1), ("udp-services", 1, 0)]:
        c = "[data-testid=count-%s] " % card
        got = [text(b, c + "[data-count=%s]" % k) for k in ("total", "success", "errors")]
        assert got == [str(total), str(total - errors), str(errors)], (card, got)
    assert text(b, "[data-testid=count-udp-middlewares]") is None, "UDP has no middlewares"
    assert "the UDP service" in text(b, '#problems tr[data-name="udpbroken@file"] [data-testid=errors]')
    b.click("[data-testid=count-tcp-routers] a.err")
    b.wait("return location.hash === '#/tcp/routers?status=disabled';", what="the TCP errors link")
    wait_rows(b, ["tcpbroken@file"], "TCP routers in error")


def test_tcp_pages(env):
    proxy, b = env
    b.get(page(proxy))
    b.click('#nav a[data-section="tcp"]')
    b.wait("return location.hash === '#/tcp/routers';", what="the TCP routers")
    wait_rows(b, ["db@file", "secure@file", "tcpbroken@file"], "the TCP routers")
    heads = b.js("return [...document.querySelectorAll('#list thead th')].map(th => th.textContent);")
    assert heads == ["Status", "Name", "Rule", "Entrypoints", "TLS", "Service", "Priority", "Provider"], heads
    row = table_cells(b, '#list tr[data-name="db@file"]')[0]
    assert row[:4] == ["Success", "db@file", "HostSNI(`*`)", "tcp"] and row[5] == "db@file", row
    assert b.js("return document.querySelector('#list tr[data-name=\"db@file\"] a[href^=\"#/tcp/services/\"]').getAttribute('href');") == "#/tcp/services/db%40file"
    assert text(b, '#list tr[data-name="secure@file"] [data-tls]') == "TLS passthrough"
    assert text(b, '#list tr[data-name="db@file"] [data-tls]') is None
    # The router in error shows its error, in the list and on its page.
    want = api(proxy, "tcp/routers/tcpbroken%40file")[0]["error"][0]
    assert "nothere" in want, want
    assert want in text(b, '#list tr[data-name="tcpbroken@file"] [data-testid=errors]')
    shot(b, "tcp-routers")
    b.click('#list tr[data-name="tcpbroken@file"] a[href^="#/tcp/routers/"]')
    b.wait("return document.querySelector('#detail [data-testid=errors]');", what="tcpbroken's error")
    assert want in text(b, "#detail [data-testid=errors]")
    assert text(b, "#detail-props [data-status]") == "Error"

    # A router's page: rule, entrypoints, middleware and service, linked.
    b.get(page(proxy, "tcp/routers/db%40file"))
    b.wait("return document.querySelector('[data-testid=chain-service] a');", what="db's page")
    assert text(b, "[data-testid=rule]") == "HostSNI(`*`)"
    assert text(b, "[data-testid=entrypoints]") == "tcp"
    assert text(b, "[data-testid=tls]") == "no"
    chain = b.js("return [...document.querySelectorAll('[data-testid=chain-middleware] a')].map(a => a.getAttribute('href'));")
    assert chain == ["#/tcp/middlewares/local%40file"], chain
    shot(b, "tcp-router-detail")
    b.click("[data-testid=chain-middleware] a")
    b.wait("return document.querySelector('#middleware-config');", what="the TCP middleware's page")
    config = text(b, "#middleware-config")
    assert "ipAllowList" in config and "sourceRange" in config and "127.0.0.1/32" in config, config
    assert text(b, "#detail-name") == "local@file"

    b.get(page(proxy, "tcp/routers/secure%40file"))
    b.wait("return document.querySelector('[data-testid=tls]')?.textContent.includes('passthrough');", what="secure's TLS")

    # A service's page: its servers by address, with their status.
    b.get(page(proxy, "tcp/routers/db%40file"))
    b.wait("return document.querySelector('[data-testid=chain-service] a');", what="db's page")
    b.click("[data-testid=chain-service] a")
    b.wait("return document.querySelector('#servers tbody tr');", what="the TCP servers")
    assert b.js("return location.hash;") == "#/tcp/services/db%40file"
    assert b.js("return [...document.querySelectorAll('#servers th')].map(th => th.textContent);") == ["Address", "Status"]
    assert table_cells(b, "#servers tbody tr") == [["127.0.0.1:15432", "UP"]]
    used = b.js("return [...document.querySelectorAll('#detail-props a[href^=\"#/tcp/routers/\"]')].map(a => a.textContent);")
    assert used == ["db@file", "secure@file"], used
    shot(b, "tcp-service-detail")

    # The services and middlewares tabs; a weighted service links its services.
    b.get(page(proxy, "tcp/routers"))
    wait_rows(b, ["db@file", "secure@file", "tcpbroken@file"], "the TCP routers")
    b.click('.tabs a[href="#/tcp/services"]')
    wait_rows(b, ["db@file", "dbsplit@file"], "the TCP services")
    assert table_cells(b, '#list tr[data-name="db@file"]')[0][2:4] == ["loadbalancer", "1"]
    b.get(page(proxy, "tcp/services/dbsplit%40file"))
    b.wait("return document.querySelector('#children tbody tr');", what="the weighted TCP service")
    children = b.js("return [...document.querySelectorAll('#children tbody tr')].map(r => [r.querySelector('a').getAttribute('href'), r.cells[1].textContent]);")
    assert children == [["#/tcp/services/db%40file", "weight 2"]], children
    b.get(page(proxy, "tcp/middlewares"))
    wait_rows(b, ["local@file"], "the TCP middlewares")
    assert table_cells(b, "#list tbody tr[data-name]")[0][2] == "ipallowlist"
    tabs = b.js("return [...document.querySelectorAll('.tabs a')].map(a => a.textContent);")
    assert tabs == ["Routers", "Services", "Middlewares"]


def test_udp_pages(env):
    proxy, b = env
    b.get(page(proxy))
    b.click('#nav a[data-section="udp"]')
    b.wait("return location.hash === '#/udp/routers';", what="the UDP routers")
    wait_rows(b, ["dns@file", "udpbroken@file"], "the UDP routers")
    # No rule, TLS or priority: a UDP entrypoint has one router.
    heads = b.js("return [...document.querySelectorAll('#list thead th')].map(th => th.textContent);")
    assert heads == ["Status", "Name", "Entrypoints", "Service", "Provider"], heads
    assert table_cells(b, '#list tr[data-name="dns@file"]')[0] == ["Success", "dns@file", "dns", "dns@file", "file"]
    want = 'the UDP service "gone@file" does not exist'
    assert want in text(b, '#list tr[data-name="udpbroken@file"] [data-testid=errors]')
    tabs = b.js("return [...document.querySelectorAll('.tabs a')].map(a => a.textContent);")
    assert tabs == ["Routers", "Services"]
    shot(b, "udp-routers")

    b.get(page(proxy, "udp/routers/udpbroken%40file"))
    b.wait("return document.querySelector('#detail [data-testid=errors]');", what="udpbroken's error")
    assert want in text(b, "#detail [data-testid=errors]")

    b.get(page(proxy, "udp/routers/dns%40file"))
    b.wait("return document.querySelector('[data-testid=chain-service] a');", what="dns's page")
    assert text(b, "[data-testid=rule]") is None and text(b, "[data-testid=tls]") is None
    assert text(b, "[data-testid=entrypoints]") == "dns"
    b.click("[data-testid=chain-service] a")
    b.wait("return document.querySelector('#servers tbody tr');", what="the UDP servers")
    assert b.js("return location.hash;") == "#/udp/services/dns%40file"
    assert b.js("return [...document.querySelectorAll('#servers th')].map(th => th.textContent);") == ["Address"]
    assert table_cells(b, "#servers tbody tr") == [["127.0.0.1:15353"]]
    assert b.js("return [...document.querySelectorAll('#detail-props a')].map(a => a.getAttribute('href'));") == ["#/udp/routers/dns%40file"]
    shot(b, "udp-service-detail")
    b.get(page(proxy, "udp/services"))
    wait_rows(b, ["dns@file"], "the UDP services")


def test_explain_form(env):
    proxy, b = env
    b.get(page(proxy, "explain"))
    # The TCP entrypoints, not the UDP one (dns).
    b.wait("return document.querySelectorAll('#ex-ep option').length === 4;", what="the entrypoints in the select")
    assert b.js("return [...document.querySelectorAll('#ex-ep option')].map(o => o.value);") == ["", "tcp", "traefik", "web"]
    b.type("#ex-url", "http://a.test/api/users")
    b.click('#ex-ep option[value="web"]')
    b.click("#ex-submit")
    b.wait("return document.querySelector('#explain-answer');", what="the answer")
    answer = text(b, "#explain-answer")
    assert "router api@file" in answer and "strip@file, hdr@file" in answer and "service app@file" in answer, answer
    chosen = rows(b, "#explain-routers tr.chosen")
    assert chosen == ["api@file"]
    # admin@file (priority 1000) was tried first and failed on its header;
    # broken@file, in error, is not among the routers of `web`.
    order = rows(b, "#explain-routers tbody tr")
    assert order[0] == "admin@file" and len(order) == MANY + 2, order[:3]
    assert "broken@file" not in order
    failed = b.js("return [...document.querySelectorAll('#explain-routers tr[data-name=\"admin@file\"] .term.unmatched')].map(t => t.textContent);")
    assert failed == ["Header(`X-Env`, `prod`)"], failed
    assert "UP" in text(b, "#explain-chain")
    shot(b, "explain-chosen")

    # A header makes admin@file match.
    b.type("#ex-headers", "X-Env: prod")
    b.click("#ex-submit")
    b.wait("return document.querySelector('#explain-routers tr.chosen')?.dataset.name === 'admin@file';", what="admin chosen")

    # No router: the 404 reason.
    b.type("#ex-url", "http://nowhere.test/")
    b.type("#ex-headers", "")
    b.click("#ex-submit")
    b.wait("return document.querySelector('#explain-answer.notfound');", what="the 404 answer")
    assert "404" in text(b, "#explain-answer")
    shot(b, "explain-404")

    # A bad query: the API's message.
    b.type("#ex-url", "not a url")
    b.click("#ex-submit")
    b.wait("return document.querySelector('#explanation [data-testid=errors]');", what="the error")
    assert "url" in text(b, "#explanation [data-testid=errors]")


def test_refreshes_without_losing_the_page(env):
    proxy, b = env
    b.get(page(proxy, "http/routers?search=zz"))
    wait_rows(b, [], "no zz router yet")
    b.js("document.querySelector('#search').focus();")
    extra = '    zz-new:\n      rule: "Host(`zz.test`)"\n      service: app\n'
    with open(os.path.join(proxy.dir, "dynamic.yml"), "w") as f:
        f.write(dynamic(extra).replace("<<backend>>", api(proxy, "http/services/app%40file")[0]["loadBalancer"]["servers"][0]["url"]))
    started = time.time()
    wait_rows(b, ["zz-new@file"], "the new router, after a refresh")
    assert time.time() - started < 15
    assert b.js("return document.querySelector('#search').value;") == "zz"
    assert b.js("return document.activeElement && document.activeElement.id;") == "search"
    assert b.js("return location.hash;") == "#/http/routers?search=zz"
    shot(b, "refreshed")


def cert_ids(proxy, query):
    """The certificates' ids (fingerprints) the API gives for `query`."""
    items, _ = api(proxy, "certificates?" + query)
    return [c["name"] for c in items]


def test_certificates_page_search_pages_and_expired(env):
    proxy, b = env
    total = VALID_CERTS + 2
    # The overview's card counts them, the expired one as an error.
    b.get(page(proxy))
    card = "[data-testid=count-certificates] "
    b.wait(
        "const e = document.querySelector(arguments[0]); return e && e.textContent === arguments[1];",
        card + "[data-count=total]", str(total), what="the certificates' count",
    )
    assert text(b, card + "[data-count=errors]") == "1"
    assert text(b, card + "[data-count=warnings]") == "1"

    # From the navigation: the first page of 20, by common name.
    b.click('#nav a[data-section="certificates"]')
    b.wait("return location.hash === '#/certificates';", what="the certificates link")
    first = cert_ids(proxy, "per_page=20")
    assert len(first) == 20
    wait_rows(b, first, "the first page of certificates")
    assert text(b, "#page-number") == "page 1"
    assert b.js("return document.querySelector('#page-prev').disabled;") is True

    # The next page holds the rest, the expired one marked.
    b.click("#page-next")
    second = cert_ids(proxy, "per_page=20&page=2")
    assert len(second) == total - 20
    wait_rows(b, second, "the second page")
    expired = cert_ids(proxy, "status=expired")
    soon = cert_ids(proxy, "status=warning")
    assert len(expired) == 1 and len(soon) == 1
    row = '#list tr[data-name="%s"]' % expired[0]
    assert text(b, row + " [data-status]") == "Expired"
    assert "has-error" in b.js("return document.querySelector(arguments[0]).className;", row)
    assert text(b, '#list tr[data-name="%s"] [data-status]' % soon[0]) == "Expires soon"
    assert "page=2" in b.js("return location.hash;")
    shot(b, "certificates-page-2")

    # Search (over names, SANs and issuers) and the status filter.
    b.type("#search", "old org")
    wait_rows(b, expired, "search by the issuer's organisation")
    b.type("#search", "www.soon", clear=True)
    wait_rows(b, soon, "search by a SAN")
    b.type("#search", "", clear=True)
    b.click('#status-filter option[value="expired"]')
    wait_rows(b, expired, "status expired")
    b.click('#status-filter option[value=""]')

    # Sorting by expiry: the expired one first, then the other way.
    b.click('th[data-sort="validUntil"]')
    wait_rows(b, cert_ids(proxy, "per_page=20&sortBy=validUntil"), "by expiry")
    assert rows(b)[:2] == expired + soon
    b.click('th[data-sort="validUntil"]')
    wait_rows(b, cert_ids(proxy, "per_page=20&sortBy=validUntil&direction=desc"), "by expiry, descending")
    shot(b, "certificates")

    # The expired one's page: every field, and the warning.
    b.get(page(proxy, "certificates?search=expired"))
    wait_rows(b, expired, "search expired")
    b.click('#list tr[data-name="%s"] a' % expired[0])
    b.wait("return document.querySelector('[data-testid=cert-notice]');", what="the expired notice")
    assert "Expired" in text(b, "[data-testid=cert-notice]")
    assert text(b, "#detail-name") == "expired.test"
    assert text(b, '[data-field="certFingerprint"]') == expired[0]
    assert text(b, '[data-field="issuerOrg"]') == "Old Org"
    assert text(b, '[data-field="sans"]') == "expired.test, www.expired.test"
    assert text(b, '[data-field="keyType"]') == "ECDSA 256 bits"
    assert text(b, '[data-field="notAfter"]').startswith("2021-01-01 00:00:00 UTC")
    shot(b, "certificate-expired")

    # An unknown id: the API's message.
    b.get(page(proxy, "certificates/nope"))
    b.wait("return document.querySelector('#detail [data-testid=errors]');", what="the not-found box")
    assert "certificate not found: nope" in text(b, "#detail [data-testid=errors]")


def test_an_api_that_stops_answering_is_shown(env):
    """Last: it stops the proxy."""
    proxy, b = env
    b.get(page(proxy, "http/routers"))
    b.wait("return document.querySelectorAll('#list tbody tr[data-name]').length > 100;", what="the list")
    assert b.js("return document.querySelector('#problem').hidden;") is True
    proxy.proc.kill()
    proxy.proc.wait(timeout=10)
    b.wait("return !document.querySelector('#problem').hidden;", timeout=15, what="the problem banner")
    assert "Cannot read the API" in text(b, "#problem")
    # The page it was on stays.
    assert len(rows(b)) > 100
    shot(b, "api-gone")

"""A small WebDriver client (the W3C protocol's HTTP JSON, spoken with
urllib) that drives Debian's headless Chromium through `chromedriver`.

Every call and every wait is bounded in time. Nothing is downloaded: the
browser and the driver are the system's (`apt-get install chromium
chromium-driver`).
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

# The W3C key under which an element reference travels.
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1300,1000",
]


def find_browser():
    """(chromium, chromedriver) paths, or a message saying what is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    missing = [name for name, path in (("chromium", chromium), ("chromedriver (chromium-driver)", driver)) if not path]
    if missing:
        return None, None, "the dashboard's browser tests need %s: apt-get install chromium chromium-driver" % " and ".join(missing)
    return chromium, driver, None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriverError(RuntimeError):
    pass


class Browser:
    """One chromedriver process and one browser session in a fresh profile."""

    def __init__(self, chromium, chromedriver, timeout=30):
        self.dir = tempfile.mkdtemp(prefix="sy-browser-")
        self.port = _free_port()
        self.log = open(os.path.join(self.dir, "chromedriver.log"), "w")
        self.proc = subprocess.Popen(
            [chromedriver, "--port=%d" % self.port],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.session = None
        deadline = time.time() + timeout
        while True:
            try:
                if self._call("GET", "/status", timeout=2).get("ready"):
                    break
            except (OSError, WebDriverError):
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.close()
                raise WebDriverError("chromedriver did not start")
            time.sleep(0.1)
        args = CHROMIUM_ARGS + ["--user-data-dir=" + os.path.join(self.dir, "profile")]
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {"binary": chromium, "args": args},
                }
            }
        }
        try:
            self.session = self._call("POST", "/session", caps, timeout=60)["sessionId"]
        except Exception:
            self.close()
            raise

    def _call(self, method, path, body=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.port, path),
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            raise WebDriverError("%s %s: %s %s" % (method, path, e.code, detail[:2000])) from None

    def _s(self, path):
        return "/session/%s%s" % (self.session, path)

    def get(self, url):
        self._call("POST", self._s("/url"), {"url": url})

    def js(self, script, *args):
        """Runs `script` (a function body) in the page and returns its value."""
        return self._call("POST", self._s("/execute/sync"), {"script": script, "args": list(args)})

    def find(self, css):
        found = self._call("POST", self._s("/element"), {"using": "css selector", "value": css})
        if not isinstance(found, dict) or ELEMENT not in found:
            raise WebDriverError("no element for %r: %r" % (css, found))
        return found[ELEMENT]

    def click(self, css):
        self._call("POST", self._s("/element/%s/click" % self.find(css)), {})

    def type(self, css, text, clear=True):
        el = self.find(css)
        if clear:
            self._call("POST", self._s("/element/%s/clear" % el), {})
        self._call("POST", self._s("/element/%s/value" % el), {"text": text})

    def wait(self, script, *args, timeout=15, what=None):
        """Polls `script` until it returns something truthy; returns it."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = self.js(script, *args)
            if last:
                return last
            time.sleep(0.1)
        raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what or script, last))

    def screenshot(self, path):
        png = self._call("GET", self._s("/screenshot"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(png))

    def close(self):
        if self.session:
            try:
                self._call("DELETE", self._s(""), timeout=10)
            except (OSError, WebDriverError):
                pass
            self.session = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

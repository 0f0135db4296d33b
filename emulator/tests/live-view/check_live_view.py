"""The live view at GET /__emulator/, checked in a real headless browser.

Starts the emulator and Debian's chromium (headless, driven over the DevTools
protocol on a pipe: --remote-debugging-pipe, NUL-separated JSON on fds 3 and 4,
so no websocket library is needed), opens the page, sends an event to the
emulator and waits for the event to appear in the page without a reload. Then
reads the page without JavaScript (plain HTTP) and finds it there too.

    python3 check_live_view.py EMULATOR_BINARY CHROMIUM_BINARY
"""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

DEADLINE_S = 60  # generous: a busy machine starts chromium slowly


class Browser:
    """chromium --headless with the DevTools protocol on a pipe."""

    def __init__(self, binary):
        self.profile = tempfile.mkdtemp(prefix="emu-live-view-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()
        # Above the range the child's 3 and 4 are taken from, so dup2 cannot clobber.
        high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
        high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def wire_pipes():
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.process = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",  # chromium refuses to run as root with its sandbox
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-pipe",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_pipes,
            close_fds=False,  # fds 3 and 4 must reach chromium; ours are non-inheritable
        )
        os.close(high_r)
        os.close(high_w)
        self.next_id = 0
        self.buffer = b""

    def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def _read(self):
        while b"\0" not in self.buffer:
            chunk = os.read(self.from_browser, 65536)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.to_browser)
        os.close(self.from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)


def evaluate(browser, session, expression):
    result = browser.call(
        "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session
    )
    return result["result"].get("value")


def wait_for(what, check):
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def send_event(base, marker):
    event = {
        "event": {
            "xdm": {
                "eventType": "web.webpagedetails.pageViews",
                "identityMap": {"FPID": [{"id": "live-view-visitor", "primary": True}]},
            }
        }
    }
    request = urllib.request.Request(
        f"{base}/ee/v2/interact?dataStreamId=live-view&requestId={marker}",
        data=json.dumps(event).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, response.status


def main(emulator_binary, chromium_binary):
    emulator = subprocess.Popen(
        [emulator_binary, "--port", "0", "--exit-on-stdin-eof"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    browser = None
    try:
        base = emulator.stdout.readline().strip()
        assert base.startswith("http://"), base
        browser = Browser(chromium_binary)
        target = browser.call("Target.createTarget", {"url": f"{base}/__emulator/"})
        session = browser.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )["sessionId"]

        # Loaded, and its script has polled the emulator at least once.
        wait_for(
            "the page to load and go live",
            lambda: evaluate(
                browser,
                session,
                "document.readyState === 'complete' && "
                "document.getElementById('state').textContent.startsWith('Live')",
            ),
        )
        marker = f"live-view-{uuid.uuid4()}"
        rows = "document.querySelector('#requests tbody')"
        assert not evaluate(browser, session, f"{rows}.textContent.includes('{marker}')")
        print("live view: page loaded, no event yet")

        send_event(base, marker)
        row = wait_for(
            "the event to appear in the open page",
            lambda: evaluate(
                browser,
                session,
                f"""(() => {{
                    const tr = Array.from({rows}.querySelectorAll('tr'))
                        .find(r => r.textContent.includes('{marker}'));
                    return tr && tr.querySelector('.status').textContent === '200'
                        && tr.textContent;
                }})()""",
            ),
        )
        assert "/ee/v2/interact" in row and "locationHint:result" in row, row
        print("live view: the event appeared in the open page with its 200 answer")

        # Without JavaScript: the page as served holds the row too.
        with urllib.request.urlopen(f"{base}/__emulator/", timeout=10) as response:
            html = response.read().decode()
        assert marker in html and "/ee/v2/interact" in html, html[:2000]
        print("live view: the served HTML lists it without JavaScript")
    finally:
        if browser is not None:
            browser.close()
        emulator.stdin.close()
        try:
            emulator.wait(timeout=10)
        except subprocess.TimeoutExpired:
            emulator.kill()
            emulator.wait()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])

"""Headless Chromium driven through the DevTools protocol over a pipe (no selenium, no websocket
library): open a page, run JavaScript in it or in one of its frames, take screenshots.

`find_chromium()` returns the browser, installing Debian's `chromium` package when run as root
(like tests/slurm/setup_slurm.sh installs SLURM), or raises BrowserUnavailable with the reason.

    python tests/chromium.py results/report.html OUT_DIR   # screenshots of the report's main views
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=IsolateOrigins,site-per-process",  # the report's data: iframes stay in-process
    "--remote-debugging-pipe",
]


class BrowserUnavailable(RuntimeError):
    """No Chromium and no way to install it here (the reason is the message)."""


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.geteuid() != 0:
        raise BrowserUnavailable("chromium is not installed and the tests do not run as root (as root: apt-get install chromium)")
    if not shutil.which("apt-get"):
        raise BrowserUnavailable("chromium is not installed and there is no apt-get on this machine")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise BrowserUnavailable(f"`{' '.join(cmd)}` failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    path = shutil.which("chromium")
    if not path:
        raise BrowserUnavailable("apt-get installed chromium but it is not on PATH")
    return path


class Browser:
    """One headless Chromium with one page; `call` sends a DevTools command to that page."""

    def __init__(self, executable: str, width: int = 1400, height: int = 1000):
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Chromium reads commands on fd 3 and writes answers on fd 4
        args = " ".join(FLAGS + [f"--user-data-dir={self.profile}", "about:blank"])
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" {args} 3<&{to_browser_r} 4>&{from_browser_w}', executable],
            pass_fds=(to_browser_r, from_browser_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    # ------------------------------------------------------------ protocol

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium exited (code {self.proc.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: bool = True, timeout: float = 60) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_event(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read_message(deadline))

    # ------------------------------------------------------------ page

    def open(self, url: str, timeout: float = 60) -> None:
        self.events.clear()
        self.call("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired", timeout)

    def evaluate(self, expression: str, context_id: int | None = None):
        """The value of a JavaScript expression (awaited when a promise) in the page or a context."""
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        if context_id is not None:
            params["contextId"] = context_id
        result = self.call("Runtime.evaluate", params)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails'].get('exception', {}).get('description', result['exceptionDetails'])}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30, context_id: int | None = None):
        """Poll until the expression is truthy (the report is a React app: it renders after load)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression, context_id)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"not true after {timeout} s: {expression}")
            time.sleep(0.2)

    def frame_context(self, index: int = 0) -> int:
        """An execution context in the page's index-th child frame (e.g. the report's iframe)."""
        tree = self.call("Page.getFrameTree")["frameTree"]
        children = tree.get("childFrames", [])
        if len(children) <= index:
            raise RuntimeError(f"the page has {len(children)} child frames, wanted #{index}")
        frame = children[index]["frame"]["id"]
        return self.call("Page.createIsolatedWorld", {"frameId": frame, "worldName": "test"})["executionContextId"]

    def screenshot(self, path: str | Path, full_page: bool = False) -> None:
        params = {"format": "png", "captureBeyondViewport": full_page}
        Path(path).write_bytes(base64.b64decode(self.call("Page.captureScreenshot", params)["data"]))

    def close(self) -> None:
        try:
            self.call("Browser.close", session=False, timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------- the Snakemake report

SHOW_RESULT = """(() => {{
  const path = {path!r};
  const entry = results[path];
  const mime = entry.mime_type;
  const kind = mime === "text/html" ? "html" : (mime.startsWith("image/") ? "img" : "text");
  app.setView({{content: kind, contentPath: entry.data_uri, resultPath: path}});  // what the eye button does
  return kind;
}})()"""


def show_result(browser: Browser, path: str) -> str:
    """Show one result of the report in its content pane, as its eye button does."""
    return browser.evaluate(SHOW_RESULT.format(path=path))


def report_screenshots(report: Path, out: Path) -> list[Path]:
    """Screenshots of a report's landing page, its metrics table and a few figures."""
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    with Browser(find_chromium()) as browser:
        browser.open(report.resolve().as_uri())
        browser.wait_for("document.querySelector('.prose h1') !== null")
        shots.append(out / "landing.png")
        browser.screenshot(shots[-1])
        paths = browser.evaluate("Object.keys(results)")
        wanted = [p for p in paths if p.endswith(("metrics.html", "tradeoff.png", "table.png", "penalties.png"))]
        for path in wanted:
            kind = show_result(browser, path)
            if kind == "img":
                browser.wait_for(
                    f"(() => {{ const i = Array.from(document.images).find(i => i.src === results[{path!r}].data_uri);"
                    " return i && i.complete; })()"
                )
            else:
                time.sleep(1.5)
            shots.append(out / (path.replace("/", "_")))
            browser.screenshot(shots[-1].with_suffix(".png"))
        browser.evaluate("app.showCategory('Comparison')")
        time.sleep(0.5)
        shots.append(out / "comparison_menu.png")
        browser.screenshot(shots[-1])
    return shots


if __name__ == "__main__":
    for shot in report_screenshots(Path(sys.argv[1]), Path(sys.argv[2])):
        print(shot)

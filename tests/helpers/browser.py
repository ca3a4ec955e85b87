"""The browser tests' tools: a live qcpipe server in a thread, and Debian's Chromium under Playwright.

- `live_server(app)`: uvicorn serving the app on a free 127.0.0.1 port in a background thread;
  yields the base URL, stops the server and joins the thread on exit.
- `chromium_problem()` / `launch_chromium(playwright)`: Playwright's Python API drives the system
  Chromium (/usr/bin/chromium); no browser is ever downloaded (`playwright install` is never run).
- `log_in(page, base, name, password)`: through the /login form, as a person does.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]


def chromium_problem() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed: pip install -e '.[test]'"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing: sudo apt-get install chromium (scripts/test.sh does, as root)"
    return None


def launch_chromium(playwright: Any) -> Any:
    """The system Chromium, headless, with the flags a container needs."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@contextmanager
def live_server(app: Any, startup_timeout_s: float = 15.0) -> Iterator[str]:
    """Serve `app` with uvicorn on a free port of 127.0.0.1 in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the port is ours from here: no race with another test run
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"qcpipe-web-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the test server on port {port} did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(f"the test server on port {port} did not stop")


def log_in(page: Any, base: str, username: str, password: str, path: str = "/") -> None:
    """Open `path`, be sent to the login form, fill it in and submit: back at `path` (or home)."""
    page.goto(base + path)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")
    if "/login" in page.url:
        raise AssertionError(f"{username} could not log in: {page.locator('.refused').all_inner_texts()}")


SCREENSHOTS = Path(os.environ.get("QCPIPE_SCREENSHOTS", "/tmp/qcpipe-shots"))


def screenshot(page: Any, name: str) -> Path:
    """The whole page as SCREENSHOTS/name (PNG), to look at what the browser tests saw."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path

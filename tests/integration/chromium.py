"""Headless Chromium (Debian's ``/usr/bin/chromium``) driven over the DevTools
protocol, for tests that open a page as a person would and count what it shows.

One browser per page: started with ``--remote-debugging-port=0`` and a user data
folder of its own (the port it took is in ``DevToolsActivePort`` there), spoken
to over one WebSocket (aiohttp), killed by its process group's id at the end
whatever happened. Missing Chromium fails the test, saying so: it never skips.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 1200, 900
STARTUP_SECONDS = 30.0
REPLY_SECONDS = 30.0


@dataclass
class Shown:
    value: Any  # what the expression evaluated to, as JSON values
    errors: list[str]  # exceptions, console errors and error log entries, in order
    screenshot: bytes  # PNG of the whole page


class DevTools:
    """Commands and their replies in turn; events are kept as they arrive."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._last_id = 0
        self.events: list[dict[str, Any]] = []

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._last_id += 1
        sent = self._last_id
        await self._ws.send_json({"id": sent, "method": method, "params": params})
        while True:
            message = await self._receive()
            if message.get("id") == sent:
                if "error" in message:
                    raise AssertionError(f"DevTools {method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    async def until(self, event: str) -> dict[str, Any]:
        """The first ``event`` (one that already came counts)."""
        while True:
            for message in self.events:
                if message["method"] == event:
                    return message
            await self._receive()

    async def _receive(self) -> dict[str, Any]:
        frame = await self._ws.receive(timeout=REPLY_SECONDS)
        if frame.type is not aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"DevTools connection ended: {frame.type.name}")
        message: dict[str, Any] = json.loads(frame.data)
        if "method" in message:
            self.events.append(message)
        return message

    def errors(self) -> list[str]:
        found = []
        for event in self.events:
            params = event.get("params", {})
            match event["method"]:
                case "Runtime.exceptionThrown":
                    details = params["exceptionDetails"]
                    found.append(
                        f"exception: {details.get('exception', {}).get('description', details['text'])}"
                    )
                case "Runtime.consoleAPICalled" if params.get("type") == "error":
                    found.append("console.error: " + " ".join(str(a.get("value", a)) for a in params["args"]))
                case "Log.entryAdded" if params["entry"]["level"] == "error":
                    found.append(f"log: {params['entry']['text']} ({params['entry'].get('url', '')})")
        return found


async def show(url: str, expression: str, folder: Path) -> Shown:
    """Open ``url`` in a fresh headless Chromium, wait for its load event, evaluate
    ``expression`` in it, and take a screenshot of the whole page."""
    browser = await asyncio.to_thread(_launch, folder)
    try:
        port = await asyncio.to_thread(_port, browser, folder)
        return await _drive(port, url, expression)
    finally:
        await asyncio.to_thread(_stop, browser)


def _launch(folder: Path) -> subprocess.Popen[bytes]:
    if not CHROMIUM.is_file():
        raise AssertionError(
            f"{CHROMIUM} is missing: this test needs Debian's chromium (./dev.sh installs it)"
        )
    (folder / "profile").mkdir(parents=True)
    command = [
        str(CHROMIUM), "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
        f"--user-data-dir={folder / 'profile'}", "--no-first-run", "--no-default-browser-check",
        "--disable-extensions", "--disable-background-networking", "--disable-component-update",
        "about:blank",
    ]  # fmt: skip
    with (folder / "chromium.log").open("wb") as log:
        return subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)


def _stop(browser: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the browser's pid (it ends and reaps its helpers), then SIGKILL to whatever
    of its process group is left."""
    browser.terminate()
    try:
        browser.wait(timeout=5)
    except subprocess.TimeoutExpired:
        browser.kill()
        browser.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):  # nothing left
        os.killpg(browser.pid, signal.SIGKILL)


def _port(browser: subprocess.Popen[bytes], folder: Path) -> int:
    """The DevTools port Chromium took (the first line of DevToolsActivePort in its profile)."""
    active = folder / "profile" / "DevToolsActivePort"
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if browser.poll() is not None:
            log = (folder / "chromium.log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"chromium exited {browser.returncode}:\n{log}")
        lines = active.read_text().splitlines() if active.is_file() else []
        if len(lines) >= 2:
            return int(lines[0])
        time.sleep(0.1)
    raise AssertionError(f"chromium gave no DevTools port in {STARTUP_SECONDS:g} s")


async def _drive(port: int, url: str, expression: str) -> Shown:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/json/list") as answer:
            targets = await answer.json()
        page = next(t for t in targets if t["type"] == "page")
        async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            tools = DevTools(ws)
            for domain in ("Runtime", "Log", "Page"):
                await tools.send(f"{domain}.enable")
            await tools.send(
                "Emulation.setDeviceMetricsOverride",
                width=WIDTH,
                height=HEIGHT,
                deviceScaleFactor=1,
                mobile=False,
            )
            await tools.send("Page.navigate", url=url)
            await tools.until("Page.loadEventFired")
            evaluated = await tools.send("Runtime.evaluate", expression=expression, returnByValue=True)
            if "exceptionDetails" in evaluated:
                raise AssertionError(f"the expression failed: {evaluated['exceptionDetails']}")
            size = (await tools.send("Page.getLayoutMetrics"))["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
            picture = await tools.send(
                "Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip
            )
            return Shown(evaluated["result"].get("value"), tools.errors(), base64.b64decode(picture["data"]))

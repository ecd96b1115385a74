"""The real router as a separate process on a dev stack, for the tests, the
demo and the benchmark: started with the stack's environment, ready once its
ARI connection is up, reached through its admin HTTP server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from devstack.stack import REPO, StackInfo
from devstack.util import free_port


def migrate(info: StackInfo, config: Path) -> None:
    env = dict(os.environ, **info.env())
    command = [sys.executable, "-m", "callrouter", "migrate", "-c", str(config)]
    subprocess.run(command, env=env, check=True, capture_output=True, cwd=REPO)


class RouterProcess:
    def __init__(
        self,
        info: StackInfo,
        config: Path,
        log_path: Path,
        spool_dir: Path,
        token: str,
        log_level: str = "INFO",
        within: float = 30,
    ) -> None:
        port = free_port()
        self.admin_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.spool_dir = spool_dir
        self.token = token
        self.killed = False
        self.info = info
        env = dict(
            os.environ,
            **info.env(),
            CALLROUTER_ADMIN_BIND=f"127.0.0.1:{port}",
            CALLROUTER_SPOOL_DIR=str(spool_dir),
            CALLROUTER_ADMIN_TOKEN=token,
        )
        log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "callrouter", "--log-format", "json", "--log-level", log_level]
        with open(log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [*command, "run", "-c", str(config)], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
            )
        self._wait_connected(within)

    def _wait_connected(self, within: float) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"router exited {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                if self.health().get("ready"):  # connected, and the calls found taken up
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"router did not connect to ARI:\n{self.log()[-3000:]}\n{self._asterisk_tail()}")

    def _asterisk_tail(self, lines: int = 40) -> str:
        """The end of Asterisk's log, for a router that could not connect."""
        try:
            tail = self.info.asterisk_log.read_text(errors="replace").splitlines()[-lines:]
        except OSError as exc:
            return f"(Asterisk's log unreadable: {exc})"
        return "Asterisk's log ends:\n" + "\n".join(tail)

    def request(self, method: str, path: str, body: object = None) -> tuple[int, str]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        request = urllib.request.Request(self.admin_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def get(self, path: str) -> tuple[int, str]:
        return self.request("GET", path)

    def health(self) -> dict[str, Any]:
        return dict(json.loads(self.get("/health")[1]))

    def metrics(self) -> str:
        return self.get("/metrics")[1]

    def login_all(self, agents: list[str]) -> None:
        for agent in agents:
            status, body = self.request("POST", f"/agents/{agent}/login")
            # A restart keeps agents' states: one still idle from the last router is in.
            if status != 200 and not (status == 409 and "is idle" in body):
                raise RuntimeError(f"logging in {agent} failed: {status} {body}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop the router and return its exit code; one that does not stop
        within 30 s is killed (nothing is left running) and TimeoutExpired raised."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill(self) -> None:
        """Die without a chance to clean up (as in a crash)."""
        self.killed = True
        self.stop(signal.SIGKILL)

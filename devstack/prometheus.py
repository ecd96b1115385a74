"""A real Prometheus (Debian's /usr/bin/prometheus) on a dev stack, for the tests.

It runs the composition's own configuration, docker/prometheus/prometheus.yml:
the same jobs, the same relabelling of Asterisk's figures and the same alert
rules (docker/prometheus/rules/), with each job's targets pointed at the stack
and everything scraped and evaluated every second. It listens on a free
loopback port, keeps its data in a folder of the caller's, and is stopped by
its PID.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from devstack.stack import REPO
from devstack.util import free_port, wait_for

COMPOSE_CONFIG = REPO / "docker/prometheus/prometheus.yml"


def config_for(targets: dict[str, str], self_address: str, interval: str = "1s") -> dict[str, Any]:
    """The composition's config with each job's one target replaced (job -> host:port)
    and its rule files found where the repository keeps them."""
    config: dict[str, Any] = yaml.safe_load(COMPOSE_CONFIG.read_text(encoding="utf-8"))
    config["global"] = {
        "scrape_interval": interval,
        "scrape_timeout": interval,
        "evaluation_interval": interval,
    }
    config["rule_files"] = [str(COMPOSE_CONFIG.parent / pattern) for pattern in config["rule_files"]]
    targets = dict(targets, prometheus=self_address)
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    if jobs != set(targets):
        raise ValueError(f"targets for {sorted(targets)}; the config's jobs are {sorted(jobs)}")
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    return config


class PrometheusProcess:
    def __init__(self, work: Path, targets: dict[str, str], within: float = 30) -> None:
        """``targets``: job name -> host:port, for every job but ``prometheus``."""
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("no prometheus on PATH: install Debian's prometheus (./dev.sh does)")
        work.mkdir(parents=True, exist_ok=True)
        address = f"127.0.0.1:{free_port()}"
        self.url = f"http://{address}"
        config = work / "prometheus.yml"
        config.write_text(yaml.safe_dump(config_for(targets, address)), encoding="utf-8")
        self.log_path = work / "prometheus.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={work / 'data'}",
                    f"--web.listen-address={address}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._wait_ready(within)

    def _wait_ready(self, within: float) -> None:
        try:
            wait_for(self._ready, within, "Prometheus to be ready")
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"prometheus not ready within {within:.0f} s:\n{self.log()[-3000:]}") from None

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"prometheus exited {self.proc.returncode}:\n{self.log()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def api(self, path: str, **params: str) -> Any:
        """The ``data`` of an HTTP API answer; RuntimeError with Prometheus' error otherwise."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
        if body.get("status") != "success":
            raise RuntimeError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's vector (a scalar answer comes as one sample without labels)."""
        data = self.api("query", query=expr)
        if data["resultType"] == "vector":
            return list(data["result"])
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        raise RuntimeError(f"{expr}: a {data['resultType']}, not a vector")

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts pending or firing now."""
        return list(self.api("alerts")["alerts"])

    def alerting_rules(self) -> list[dict[str, Any]]:
        groups = self.api("rules", type="alert")["groups"]
        return [rule for group in groups for rule in group["rules"]]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> PrometheusProcess:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

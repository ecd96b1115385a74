"""Place real SIP calls with sipp (callers) and answer them (agents' softphones)."""

from __future__ import annotations

import html
import random
import re
import socket
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parent / "sipp"
# sipp's media ports: outside Asterisk's RTP range (rtp.conf, 20000-29999) and
# outside the kernel's ephemeral range (32768-60999), where the stack's SIP
# ports come from, so a media port never takes an agent's SIP port.
MEDIA_PORTS = (61000, 65000)
# A calling sipp's own SIP port (callers, patients, feature codes): outside the ephemeral
# range too, so it never takes a port a stack holds for an agent's, the trunk's or the
# fallback's sipp while none runs (two stacks run side by side in the gate).
CALLER_PORTS = (12000, 20000)


class _Ports:
    """Blocks of ``size`` free ports, handed out in turn across ``[first, end)`` (under a
    lock: tests start sipps from several threads at once), so two sipps of one process
    never get the same block; the probe (a bind of each, UDP, and TCP when asked) skips
    blocks another process holds. (Picked at random, two of four callers started together
    once drew the same media block: "Unable to bind audio RTP socket".)"""

    def __init__(self, first: int, end: int, size: int, tcp: bool) -> None:
        self.first, self.end, self.size, self.tcp = first, end, size, tcp
        self.lock = threading.Lock()
        self.next = random.randrange(first, end - size, size)  # this process's next block

    def take(self) -> int:
        kinds = (socket.SOCK_DGRAM, socket.SOCK_STREAM) if self.tcp else (socket.SOCK_DGRAM,)
        with self.lock:
            for _ in range((self.end - self.first) // self.size):
                base = self.next
                self.next = base + self.size if base + 2 * self.size <= self.end else self.first
                socks: list[socket.socket] = []
                try:
                    for port in range(base, base + self.size):
                        for kind in kinds:
                            sock = socket.socket(socket.AF_INET, kind)
                            socks.append(sock)
                            sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                finally:
                    for sock in socks:
                        sock.close()
                return base
        raise RuntimeError(f"no free ports for sipp in {self.first}-{self.end - 1}")


_media = _Ports(*MEDIA_PORTS, size=4, tcp=False)
_callers = _Ports(*CALLER_PORTS, size=1, tcp=True)


def media_port() -> int:
    """A free block of four UDP ports (audio, RTCP, video, RTCP) for one sipp."""
    return _media.take()


def caller_port() -> int:
    """A free SIP port (UDP and TCP) for a calling sipp."""
    return _callers.take()


@dataclass
class SippResult:
    returncode: int
    successful: int
    failed: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failed == 0


def _render(name: str, values: dict[str, str]) -> Path:
    text = (SCENARIOS / name).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    out = Path(tempfile.mkstemp(prefix="callrouter-sipp-", suffix=".xml")[1])
    out.write_text(text)
    return out


def _counts(output: str) -> tuple[int, int]:
    """Successful and failed call counts from sipp's final statistics screen."""
    ok = re.findall(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", output)
    bad = re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", output)
    return (int(ok[-1]) if ok else 0, int(bad[-1]) if bad else 0)


# One key as SIP INFO; ``{dialog}``: the request's From, To (and route, contact) lines,
# the caller's (UAC) or the called person's (UAS, once answered).
INFO_KEY = """
  <pause milliseconds="{pause}"/>
  <send>
    <![CDATA[
      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      {dialog}
      Call-ID: [call_id]
      CSeq: {cseq} INFO
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal={digit}
      Duration=160
    ]]>
  </send>
  <recv response="200"/>
"""
CALLER_DIALOG = """From: "[field0]" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field1]@[remote_ip]:[remote_port]>[peer_tag_param]
      [routes]
      Contact: <sip:[field0]@[local_ip]:[local_port]>"""
ANSWERED_DIALOG = """From: [$invite_to];tag=[pid]SIPpTag03[call_number]
      To: [$invite_from]"""

RFC2833_KEY = """
  <pause milliseconds="{pause}"/>
  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/dtmf_2833_{name}.pcap"/></action></nop>
"""


def answered_keys_xml(keys: Sequence[tuple[int, str]]) -> str:
    """The steps of a called person keying (pause in ms, key) after answering (SIP INFO).
    A key "?" is the call's own: the next character of its row's keys (``Callee``)."""
    steps, own = [], 0
    for n, (pause, key) in enumerate(keys, 2):
        if key == "?":
            own += 1
            key = f"[field{own}]"
        steps.append(INFO_KEY.format(pause=pause, digit=key, cseq=n, dialog=ANSWERED_DIALOG))
    return "".join(steps)


def keys_xml(keys: list[tuple[int, str]], rfc2833: bool = False) -> str:
    """Scenario steps pressing each (pause in ms, key) after the answer.
    SIP INFO carries every key; RFC 2833 (sipp's pcaps) only the first of a call."""
    out = []
    for n, (pause, key) in enumerate(keys, 2):
        if rfc2833:
            name = {"*": "star", "#": "pound"}.get(key, key)
            out.append(RFC2833_KEY.format(pause=pause, name=name))
        else:
            out.append(INFO_KEY.format(pause=pause, digit=key, cseq=n, dialog=CALLER_DIALOG))
    return "".join(out)


def call(
    sip_port: int,
    calls: Sequence[tuple[str, ...]],
    hold_ms: int = 60000,
    keys: list[tuple[int, str]] | None = None,
    rfc2833: bool = False,
    rate: float = 5.0,
    timeout_s: int = 120,
    extra: list[str] | None = None,
    headers: list[str] | None = None,
) -> SippResult:
    """Place one call per (caller number, DID[, field 2]); each waits for the far
    end's BYE or hangs up itself after ``hold_ms``. Blocks until all calls are done.
    ``headers``: more INVITE header lines, e.g. ``"P-Asserted-Identity: <sip:[field2]@127.0.0.1>"``."""
    more = "".join(f"\n      {line}" for line in headers or [])
    values = {"HOLD_MS": str(hold_ms), "KEYS": keys_xml(keys or [], rfc2833), "HEADERS": more}
    scenario = _render("caller.xml", values)
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as inf:
        inf.write("SEQUENTIAL\n")
        for fields in calls:
            inf.write(";".join(fields) + ";\n")
    args = [
        "sipp",
        f"127.0.0.1:{sip_port}",
        "-sf",
        str(scenario),
        "-inf",
        inf.name,
        "-m",
        str(len(calls)),
        "-r",
        str(rate),
        "-l",
        str(max(len(calls), 1)),
        "-i",
        "127.0.0.1",
        "-p",
        str(caller_port()),
        "-mp",
        str(media_port()),
        "-nostdin",
        "-timeout",
        f"{timeout_s}s",
        "-timeout_error",
        "-max_recv_loops",
        "1000",
        *(extra or []),
    ]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s + 30)
    finally:
        scenario.unlink(missing_ok=True)
        Path(inf.name).unlink(missing_ok=True)
    output = proc.stdout + proc.stderr
    ok, bad = _counts(output)
    return SippResult(proc.returncode, ok, bad, output)


FROM_CHECK = """
      <ereg regexp="{regexp}" search_in="hdr" header="From:" check_it="true" assign_to="from_ok"/>
      <log message="From matched: [$from_ok]"/>"""


class _Phones:
    """A sipp on its own port and ``local_ip``, in the background: a UAS answering
    ``calls`` calls (or a UAC placing them, the far end in ``extra``), its scenario's
    log lines read once it is done (``_read``)."""

    def __init__(
        self,
        port: int,
        scenario: Path,
        calls: int,
        timeout_s: int,
        extra: Sequence[str] = (),
        local_ip: str = "127.0.0.1",
    ) -> None:
        self.port = port
        self._scenario = scenario
        self._log = Path(tempfile.mkstemp(prefix="callrouter-sipp-", suffix=".log")[1])
        self._proc = subprocess.Popen(
            [
                "sipp", "-sf", str(scenario), "-i", local_ip, "-p", str(port), "-mp", str(media_port()),
                "-m", str(calls), "-nostdin", "-timeout", f"{timeout_s}s", "-timeout_error",
                "-trace_logs", "-log_file", str(self._log), *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip

    def _read(self, logged: list[str]) -> None:
        """What the scenario logged, a line each."""

    def wait(self, timeout_s: float = 60) -> SippResult:
        try:
            output, _ = self._proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._proc.terminate()
            output, _ = self._proc.communicate(timeout=10)
        self._scenario.unlink(missing_ok=True)
        if self._log.exists():
            self._read(self._log.read_text().splitlines())
            self._log.unlink()
        ok, bad = _counts(output)
        return SippResult(self._proc.returncode, ok, bad, output)

    def stop(self) -> SippResult:
        if self._proc.poll() is None:
            self._proc.terminate()
        return self.wait(10)


def _logged_at(line: str) -> float:
    """The Unix time in a line sipp's ``[timestamp]`` wrote (date, time, then seconds since 1970)."""
    return float(re.findall(r"\b(\d{9,}\.\d+)\b", line)[-1])


class Agent(_Phones):
    """An agent's softphone: a sipp UAS answering calls on its own port, in the
    background. It logs each INVITE's From (``froms``) and when it came
    (``rung_at``, Unix time); with ``from_matches`` (a regexp), a call whose From
    does not match fails instead of being answered."""

    def __init__(
        self,
        port: int,
        calls: int = 1,
        ring_ms: int = 600,
        timeout_s: int = 120,
        talk_ms: int = 600_000,
        from_matches: str | None = None,
    ) -> None:
        check = FROM_CHECK.format(regexp=html.escape(from_matches)) if from_matches is not None else ""
        values = {"RING_MS": str(ring_ms), "TALK_MS": str(talk_ms), "FROM_CHECK": check}
        self.froms: list[str] = []  # each INVITE's From header, once the agent is done
        self.rung_at: list[float] = []  # when each INVITE came, once the agent is done
        super().__init__(port, _render("agent.xml", values), calls, timeout_s)

    def _read(self, logged: list[str]) -> None:
        self.froms = [line.removeprefix("From: ").strip() for line in logged if line.startswith("From: ")]
        self.rung_at = [_logged_at(line) for line in logged if line.startswith("Rung at: ")]


@dataclass(frozen=True)
class Dialled:
    """One call the trunk made out."""

    number: str  # the Request-URI's user: the number dialled (E.164 digits, no +)
    at: float  # when its INVITE came (Unix time)
    to: str  # its To header


CALLEE_ANSWERS = ("answer", "busy", "no_answer")


class Callee(_Phones):
    """The phones behind the trunk's calls out (a callback's person): a sipp UAS on
    the stack's ``trunk_port`` (``PJSIP/{number}@trunk`` reaches it, the number in
    the Request-URI), in the background. One call per item of ``answers``, in the
    order the calls come: "answer" (rings ``ring_ms``, answers, hangs up after
    ``talk_ms`` unless the far end did first), "busy" (486 at once) or "no_answer"
    (rings until the caller gives up). Whatever number is dialled, it answers as
    that number; ``dialled`` says which, and when, once it is done. ``keys``: what
    the person keys once answered (pause in ms, key), on every answered call; a key
    "?" is each call's own, from ``own_keys`` (one string per item of ``answers``,
    as many keys as there are "?"), so calls of one phone key different digits."""

    def __init__(
        self,
        port: int,
        answers: Sequence[str] = ("answer",),
        ring_ms: int = 600,
        talk_ms: int = 600_000,
        timeout_s: int = 120,
        keys: Sequence[tuple[int, str]] = (),
        own_keys: Sequence[str] = (),
    ) -> None:
        unknown = set(answers) - set(CALLEE_ANSWERS)
        if unknown or not answers:
            raise ValueError(f"answers: each one of {CALLEE_ANSWERS}, not {sorted(unknown) or 'none'}")
        wanted = sum(1 for _, key in keys if key == "?")
        if own_keys and (len(own_keys) != len(answers) or {len(k) for k in own_keys} != {wanted}):
            raise ValueError(f"own_keys: one string of {wanted} keys per answer")
        rows = [
            ";".join([answer, *own])
            for answer, own in zip(answers, own_keys or [""] * len(answers), strict=True)
        ]
        self.dialled: list[Dialled] = []
        with tempfile.NamedTemporaryFile("w", prefix="callrouter-sipp-", suffix=".csv", delete=False) as inf:
            inf.write("SEQUENTIAL\n" + "".join(f"{row.rstrip(';')};\n" for row in rows))
        self._answers = Path(inf.name)
        values = {"RING_MS": str(ring_ms), "TALK_MS": str(talk_ms), "KEYS": answered_keys_xml(keys)}
        super().__init__(port, _render("callee.xml", values), len(answers), timeout_s, ["-inf", inf.name])

    def _read(self, logged: list[str]) -> None:
        self._answers.unlink(missing_ok=True)
        for line in logged:
            if (found := re.match(r"Dialled: (\S+) at (.*) To: (.*)$", line)) is not None:
                self.dialled.append(Dialled(found[1], _logged_at(found[2]), found[3].strip()))


def feature_code(sip_port: int, agent_id: str, password: str, code: str, timeout_s: int = 30) -> SippResult:
    """An agent's softphone dials a feature code (e.g. *11 to log in), with digest auth."""
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as inf:
        inf.write(f"SEQUENTIAL\n{agent_id};{code};\n")
    args = [
        "sipp", f"127.0.0.1:{sip_port}", "-sf", str(SCENARIOS / "agent_dial.xml"), "-inf", inf.name,
        "-m", "1", "-i", "127.0.0.1", "-p", str(caller_port()), "-mp", str(media_port()),
        "-au", agent_id, "-ap", password, "-nostdin", "-timeout", f"{timeout_s}s", "-timeout_error",
    ]  # fmt: skip
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s + 30)
    finally:
        Path(inf.name).unlink(missing_ok=True)
    output = proc.stdout + proc.stderr
    ok, bad = _counts(output)
    return SippResult(proc.returncode, ok, bad, output)

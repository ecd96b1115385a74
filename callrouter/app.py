"""The one place that builds and wires everything, and runs it until stopped."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import signal
import socket
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from callrouter import compiled
from callrouter.api.auth import TokenError, check_token
from callrouter.api.results import ResultsDesk
from callrouter.api.server import build_app
from callrouter.ari.client import AriClient, AriError, HttpAriClient
from callrouter.ari.events import EVENT_LABELS, EventStream, Replaced
from callrouter.ari.rest_ws import WsRestTransport
from callrouter.calls.admin import CentreAdmin
from callrouter.calls.dispatcher import Dispatcher, Shell, utcnow
from callrouter.calls.outbound import Leases, Route
from callrouter.calls.results_io import hang_up_unattended
from callrouter.calls.stored_agents import restore_agents
from callrouter.calls.stored_callbacks import restore_callbacks
from callrouter.calls.tally import centre_now
from callrouter.config import Settings
from callrouter.core import waits
from callrouter.core.records import Outcome, RepeatKind
from callrouter.core.switchboard import Remember
from callrouter.metrics import LiveCollector, Metrics
from callrouter.secrets_hash import verify_secret
from callrouter.secrets_pepper import NO_PEPPER
from callrouter.store.leases import CallbackLeases
from callrouter.store.notifications import Notifications
from callrouter.store.postgres import PgRecordStore
from callrouter.store.queries import DatabaseUnavailable, Queries
from callrouter.store.restore import (
    close_lost_calls,
    people,
    read_spool,
    waiting_places,
)
from callrouter.store.results_dialler import ResultsDialler
from callrouter.store.writer import RecordWriter

log = logging.getLogger(__name__)

EXIT_REPLACED = 3
STOP_SECONDS = 5.0  # how long a stop waits for the background tasks to end
SETTLED_LOOK_SECONDS = 0.25  # how often the lost calls' closing looks whether all written has landed
LOST_RETRY_SECONDS = 30.0  # the lost calls of a router before are closed again this often until done


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def build_dispatcher(
    settings: Settings,
    ari: AriClient,
    writer: RecordWriter,
    metrics: Metrics,
    clock: Callable[[], datetime] = utcnow,
    leases: Leases | None = None,
    repeat_key: bytes = b"",
) -> Dispatcher:
    """The shell around the switchboard, with the config compiled once."""
    router, queue = settings.router, settings.file.queue
    shell = Shell(
        router.app,
        router.node,
        tuple(agent.id for agent in settings.file.agents),
        router.reconcile_seconds,
        queue.hold,
        queue.hold_bridges,
        Route(settings.file.callback.dial, settings.file.callback.lease_seconds),
    )
    board = compiled.board(settings, repeat_key)
    # A mark of this run on the channels it originates (the rings of a router before may
    # still be in Asterisk, under ids this one would give again).
    board = replace(board, rules=replace(board.rules, run=secrets.token_hex(3)))
    return Dispatcher(board, shell, ari, writer, metrics, clock, leases)


def build_metrics(line_names: Iterable[str], settings: Settings | None = None) -> Metrics:
    """The router's metrics, their label children made for the configured lines,
    every call outcome, every ARI event type and every kind of repeat call; with
    ``settings``, the wait and talk figures of every line kind and topic too."""
    file = settings.file if settings is not None else None
    return Metrics(
        lines=line_names,
        outcomes=[outcome.value for outcome in Outcome],
        event_types=EVENT_LABELS,
        repeat_kinds=[kind.value for kind in RepeatKind],
        line_kinds={line.name: line.kind for line in file.lines} if file else None,
        topics=file.topics if file else (),
        wait_outcomes=waits.WAIT_OUTCOME_NAMES,
        wait_buckets=waits.WAIT_BUCKETS,
        talk_buckets=waits.TALK_BUCKETS,
        service_level=(file.queue.service_level_seconds, file.queue.service_level_target) if file else None,
    )


def _use_results(settings: Settings, dispatcher: Dispatcher) -> ResultsDialler:
    """Results calls are made with a ``[results]`` section (its store opens no
    connection before its first statement)."""
    store = ResultsDialler(settings.database.dsn, _secret(settings.database_password))
    if settings.file.results is not None:
        pepper = settings.pepper()
        if pepper is None:
            log.warning(NO_PEPPER)
        verify = functools.partial(verify_secret, pepper=pepper)
        dispatcher.use_results(store, verify, settings.file.results.lease_seconds)
    return store


def repeat_key(settings: Settings) -> bytes:
    """The key of the hash callers are recognised by: CALLROUTER_REPEAT_KEY, else one
    made once and kept beside the spool (so a restart on this box knows its callers;
    routers sharing a database should share the key through the environment)."""
    given = _secret(settings.repeat_key)
    if given:
        return given.encode()
    path = settings.database.spool_dir / "repeat.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    key = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(key.hex())
    log.warning("CALLROUTER_REPEAT_KEY is not set: made one, kept in %s", path)
    return key


def admin_sockets(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to the addresses ``host`` names, on ``port`` (address reuse on, as
    aiohttp's TCPSite binds them): bound, not listening, so the port refuses connections
    until the admin API answers them. An address whose kind this machine lacks (IPv6
    switched off) is skipped, as asyncio skips it; OSError if one is taken or not this
    machine's, or none could be made."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    bound: list[socket.socket] = []
    lacking: OSError | None = None
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):
            try:
                sock = socket.socket(family, kind, proto)
            except OSError as exc:
                lacking = exc
                continue
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError:
        for sock in bound:
            sock.close()
        raise
    if not bound:
        raise lacking or OSError(f"no address for {host}")
    return bound


def _start(settings: Settings) -> tuple[str, str, list[socket.socket]] | None:
    """The ARI password, the admin token and the admin address taken; None (said in the
    log) if one is missing or bad. The address is taken first of all that reaches out:
    a second router started by mistake on a working one's address stops here, where it
    would have taken the working one's ARI application (so stopping it) before failing
    to listen."""
    ari_password = _secret(settings.ari_password)
    if ari_password is None:
        log.error("CALLROUTER_ARI_PASSWORD is not set")
        return None
    try:
        admin_token = check_token(_secret(settings.admin_token))
    except TokenError as problem:
        log.error("%s", problem)
        return None
    try:
        listening = admin_sockets(settings.admin.host, settings.admin.port)
    except OSError as problem:
        log.error("cannot listen on admin.bind %s: %s", settings.admin.bind, problem.strerror or problem)
        return None
    return ari_password, admin_token, listening


async def run(settings: Settings) -> int:
    """Run the router until SIGTERM/SIGINT; returns the process exit code."""
    began = utcnow()
    started = _start(settings)
    if started is None:
        return 2
    ari_password, admin_token, listening = started
    metrics = build_metrics((line.name for line in settings.lines), settings)
    store = PgRecordStore(settings.database.dsn, _secret(settings.database_password))
    writer = RecordWriter(
        store,
        settings.database.spool_dir,
        metrics,
        batch_size=settings.database.batch_size,
        max_wait=settings.database.batch_max_wait_ms / 1000,
        queue_limit=settings.database.queue_limit,
    )
    rest_ws = None
    if settings.ari.rest_websockets:
        rest_ws = WsRestTransport(
            settings.ari.url,
            settings.router.app,
            settings.ari.user,
            ari_password,
            settings.ari.rest_websockets,
            reconnect_max_seconds=settings.ari.reconnect_max_seconds,
        )
        rest_ws.start()
    ari = HttpAriClient(
        settings.ari.url,
        settings.ari.user,
        ari_password,
        settings.ari.max_connections,
        rest_ws,
        metrics.ari_request.observe,
    )
    leases = CallbackLeases(settings.database.dsn, _secret(settings.database_password))
    key = repeat_key(settings)
    dispatcher = build_dispatcher(settings, ari, writer, metrics, leases=leases, repeat_key=key)
    results_store = _use_results(settings, dispatcher)
    queries = Queries(settings.database.dsn, _secret(settings.database_password))
    expire_after = compiled.results_expire_after(settings)
    notifications = Notifications(
        settings.database.dsn,
        _secret(settings.database_password),
        expire_after,
        pepper=settings.pepper(),
    )
    # A restart logs nobody out: agents get back the states the last process left.
    spooled = (writer.replaying, writer.spool)
    records = await read_spool(spooled)
    agents = await restore_agents(dispatcher, writer, queries, records)
    # Waiting places, for callers whose channels lost theirs (and to close those whose calls are gone).
    dispatcher.restore_places(await waiting_places(queries, settings.router.node, records))
    # What was remembered of callers (repeat callers), and the callbacks still to make.
    repeat = settings.file.repeat
    remembered = await people(queries, utcnow(), repeat.resume_seconds, repeat.contact_seconds, records)
    dispatcher.step(Remember(tuple(remembered)))
    callbacks = await restore_callbacks(dispatcher, writer, queries, records)

    events = EventStream(
        settings.ari.url,
        settings.router.app,
        settings.ari.user,
        ari_password,
        metrics,
        settings.ari.reconnect_max_seconds,
    )
    metrics.watch(
        LiveCollector(
            lambda: dispatcher.active_calls,
            lambda: writer.backlog,
            lambda: dispatcher.callbacks_pending,
            lambda: dispatcher.board.results_pending + len(dispatcher.board.results),
            lambda: centre_now(dispatcher.board, utcnow()),
        )
    )

    def health() -> dict[str, Any]:
        return {
            "ok": events.ready.is_set(),
            "ari_connected": events.connected.is_set(),
            "ready": events.ready.is_set(),
            "database_up": writer.database_up,
            # False while the callbacks stored before this start are not on the switchboard
            # (PostgreSQL could not tell them, or Asterisk not connected yet): none is booked
            "callbacks_known": not dispatcher.board.callbacks_unknown,
            # False while PostgreSQL could not tell the agents' last states: those only it
            # held are logged out until it can
            "agents_known": agents.read,
            "active_calls": dispatcher.active_calls,
            "queued": len(dispatcher.board.centre.queue),
            "record_backlog": writer.backlog,
            "node": settings.router.node,
        }

    api = build_app(
        metrics,
        health,
        admin_token,
        CentreAdmin(dispatcher, queries.abandoned, queries.callbacks, booking_wait=callbacks.booking_wait),
        ResultsDesk(notifications, compiled.results_input(settings)),
    )
    admin = web.AppRunner(api, access_log=None)
    await admin.setup()
    for sock in listening:
        await web.SockSite(admin, sock).start()
    log.info("admin HTTP on %s", settings.admin.bind)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    writer_task = asyncio.create_task(writer.run(), name="record-writer")
    events_task = asyncio.create_task(events.run(dispatcher.handle, dispatcher.on_connect), name="ari-events")
    reconcile_task = asyncio.create_task(dispatcher.reconcile_loop(), name="reconcile")
    lost = _close_lost(events.ready, ari, settings, dispatcher, queries, began, spooled, writer)
    lost_task = asyncio.create_task(lost, name="close-lost-calls")
    callbacks_task = asyncio.create_task(callbacks.run(), name="read-open-callbacks")
    agents_task = asyncio.create_task(agents.run(), name="read-agents-states")
    stop_task = asyncio.create_task(stop.wait(), name="stop")
    code = 0
    done, _ = await asyncio.wait({events_task, stop_task, writer_task}, return_when=asyncio.FIRST_COMPLETED)
    if writer_task in done:  # never by design: a router that cannot record stops, loudly
        log.error("the record writer stopped: %r", writer_task.exception())
        code = 1
    if events_task in done:
        exc = events_task.exception()
        if isinstance(exc, Replaced):
            code = EXIT_REPLACED
        elif exc is not None:
            log.error("ARI event stream failed: %r", exc)
            code = 1
    log.info("stopping")
    tasks: list[asyncio.Task[Any]] = [
        events_task,
        reconcile_task,
        stop_task,
        lost_task,
        callbacks_task,
        agents_task,
    ]
    for task in tasks:
        task.cancel()
    _, stuck = await asyncio.wait(tasks, timeout=STOP_SECONDS)
    for left in stuck:  # a stop must not wait on it: records and connections still close
        log.error("task %s did not stop within %g s; stopping without it", left.get_name(), STOP_SECONDS)
    dispatcher.detach()  # calls stay up in Asterisk, as they are, for the next router
    if ended := await hang_up_unattended(ari, dispatcher.board, within=2):  # but for a results call's silence
        log.info("hung up %d results call(s) in their automated part: dialled again later", ended)
    await dispatcher.drain(within=2)
    await writer.close(writer_task)
    await ari.close()
    await store.close()
    await queries.close()
    await notifications.close()
    await leases.close()
    await results_store.close()
    await admin.cleanup()
    return code


async def _close_lost(
    ready: asyncio.Event,
    ari: AriClient,
    settings: Settings,
    dispatcher: Dispatcher,
    queries: Queries,
    began: datetime,
    spooled: tuple[Path, ...],
    writer: RecordWriter,
) -> None:
    """Once the calls found in Asterisk are taken up, and all written so far has landed
    (``RecordWriter.settled``: the spool of an outage replayed, its calls' rows in PostgreSQL to be
    closed): close this node's calls a router before this one followed that ended while
    none ran (a kill, a crash), or their rows stayed open for ever. Tried again while the
    database or Asterisk cannot answer."""
    await ready.wait()
    while True:
        if not writer.settled:
            await asyncio.sleep(SETTLED_LOOK_SECONDS)
            continue
        try:
            listed = set((await ari.application(settings.router.app)).channel_ids)
            known = listed | set(dispatcher.board.calls)
            closed = await close_lost_calls(queries, settings.router.node, began, known, spooled)
        except (DatabaseUnavailable, asyncpg.PostgresError, AriError, OSError, TimeoutError) as exc:
            log.warning("calls of a router before not checked (%s); again in %g s", exc, LOST_RETRY_SECONDS)
            await asyncio.sleep(LOST_RETRY_SECONDS)
            continue
        if closed:
            log.info("closed %d calls of a router before that ended while no router ran", closed)
        return

"""Every Prometheus metric the router exports, on a private registry.

Names carry the ``callrouter_`` prefix and base units; label values come only
from fixed sets (outcomes, line names from the config, event types), never a
phone number or channel id. Children are created at start so every series
exists from the first scrape; the sets that belong to the layers measured are
given at wiring time (app.build_metrics), so this module imports none of them.
Live figures are read at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import utils as prometheus_utils
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# What happens to callbacks, each counted once: booked (by a caller or by hand), then one end.
CALLBACK_RESULTS = ("requested", "completed", "failed", "cancelled")
# The final states of a results notification (core.records.NotificationState).
NOTIFICATION_STATES = (
    "delivered", "transferred", "verification_failed", "unreachable", "cancelled", "expired",
)  # fmt: skip


# A histogram bucket's le label as prometheus_client writes it (20 -> "20.0").
bucket_label: Callable[[float], str] = prometheus_utils.floatToGoString


@dataclass(frozen=True)
class CentreNow:
    """The centre as it stands, read at scrape time (label values: configured names)."""

    callers: Mapping[str, int] = field(default_factory=dict)  # topic -> callers waiting on the line
    oldest_seconds: Mapping[str, float] = field(default_factory=dict)  # topic -> longest wait now
    agents: Mapping[str, int] = field(default_factory=dict)  # agent state -> agents in it
    lines_open: Mapping[str, bool] = field(default_factory=dict)  # line -> inside its opening hours


class LiveCollector(Collector):
    """Gauges computed from the router's state when Prometheus scrapes."""

    def __init__(
        self,
        active_calls: Callable[[], int],
        writer_backlog: Callable[[], int],
        callbacks_pending: Callable[[], int],
        notifications_pending: Callable[[], int] = lambda: 0,
        centre: Callable[[], CentreNow] = CentreNow,
    ) -> None:
        self._centre = centre
        self._notifications_pending = notifications_pending
        self._active_calls = active_calls
        self._writer_backlog = writer_backlog
        self._callbacks_pending = callbacks_pending

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            "callrouter_active_calls", "Calls the router is handling now", value=self._active_calls()
        )
        yield GaugeMetricFamily(
            "callrouter_record_backlog",
            "Records waiting for PostgreSQL (queued in memory and spooled to disk)",
            value=self._writer_backlog(),
        )
        yield GaugeMetricFamily(
            "callrouter_callbacks_pending",
            "Open callbacks (waiting for their turn or being dialled)",
            value=self._callbacks_pending(),
        )
        yield GaugeMetricFamily(
            "callrouter_notifications_pending",
            "Results notifications not yet final: waiting (due or not) or being dialled",
            value=self._notifications_pending(),
        )
        now = self._centre()
        yield _by(
            "callrouter_queue_callers", "Callers waiting in the queue now (on the line), by topic", "topic",
            now.callers,
        )  # fmt: skip
        yield _by(
            "callrouter_queue_oldest_wait_seconds",
            "How long the longest-waiting caller of each topic has waited (0: nobody waits)",
            "topic",
            now.oldest_seconds,
        )
        yield _by("callrouter_agents", "Agents by state now", "state", now.agents)
        yield _by(
            "callrouter_line_open", "1 while a line is inside its opening hours", "line",
            {line: float(is_open) for line, is_open in now.lines_open.items()},
        )  # fmt: skip


def _by(name: str, documentation: str, label: str, values: Mapping[str, float]) -> GaugeMetricFamily:
    """A live gauge with one label, a sample per value."""
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in values.items():
        family.add_metric([key], value)
    return family


class Metrics:
    def __init__(
        self,
        *,
        lines: Iterable[str] = (),
        outcomes: Iterable[str] = (),
        event_types: Iterable[str] = (),
        repeat_kinds: Iterable[str] = (),
        line_kinds: Mapping[str, str] | None = None,
        topics: Iterable[str] = (),
        wait_outcomes: Iterable[str] = (),
        wait_buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS,
        talk_buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS,
        service_level: tuple[float, float] | None = None,
    ) -> None:
        """``lines``, ``outcomes``, ``event_types``, ``repeat_kinds``, ``topics`` and
        ``wait_outcomes``: the label values whose children exist from the first scrape
        (others appear when first used). ``line_kinds``: each line's kind (exported as
        ``callrouter_line_info``); ``service_level``: the threshold in seconds and the
        target share, exported for dashboards and alerts."""
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.line_kinds = dict(line_kinds or {})
        self._operations(list(topics), list(wait_outcomes), wait_buckets, talk_buckets, service_level)
        self.ari_connected = Gauge(
            "callrouter_ari_connected", "1 while the ARI events WebSocket is up", registry=r
        )
        self.db_up = Gauge(
            "callrouter_database_up", "1 while the record writer reaches PostgreSQL", registry=r
        )
        self.ari_events = Counter(
            "callrouter_ari_events_total", "ARI events received, by type", ["type"], registry=r
        )
        self.ari_event_lag = Histogram(
            "callrouter_ari_event_lag_seconds",
            "From an event's Asterisk timestamp to the router reading it",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.event_handling = Histogram(
            "callrouter_event_handling_seconds",
            "Time the router spends dispatching one ARI event",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ari_request = Histogram(
            "callrouter_ari_request_seconds",
            "ARI REST round trips, request sent to reply read (over a WebSocket or HTTP)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.hold_start = Histogram(
            "callrouter_hold_start_seconds",
            "From asking Asterisk to put a waiting caller on hold (holding bridge or music) to its reply",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.calls = Counter(
            "callrouter_calls_total", "Calls ended, by line and outcome", ["line", "outcome"], registry=r
        )
        self.ari_errors = Counter(
            "callrouter_ari_command_errors_total",
            "ARI REST commands that failed, by command",
            ["command"],
            registry=r,
        )
        self.records_produced = Counter(
            "callrouter_records_produced_total",
            "Records the router produced for PostgreSQL, by type (call snapshots, call events, agent states)",
            ["type"],
            registry=r,
        )
        self.records_written = Counter(
            "callrouter_records_written_total", "Records written to PostgreSQL", registry=r
        )
        self.records_spooled = Counter(
            "callrouter_records_spooled_total",
            "Records spooled to disk while PostgreSQL was away",
            registry=r,
        )
        self.records_rejected = Counter(
            "callrouter_records_rejected_total",
            "Records the database refused as bad data (kept aside)",
            registry=r,
        )
        self.records_unreadable = Counter(
            "callrouter_records_unreadable_total",
            "Spool lines the router could not read back (kept aside in records.unreadable)",
            registry=r,
        )
        self.record_write_failures = Counter(
            "callrouter_record_write_failures_total",
            "Failed batch writes: timeout (database slow: retried from memory) or unreachable (spooled)",
            ["reason"],
            registry=r,
        )
        self.calls_reconciled = Counter(
            "callrouter_calls_reconciled_total",
            "Calls cleared or adopted by the periodic check against Asterisk",
            ["action"],
            registry=r,
        )
        self.repeat_calls = Counter(
            "callrouter_repeat_calls_total",
            "Calls recognised as a person calling again, by how (counted when the call ends)",
            ["kind"],
            registry=r,
        )
        self.callbacks = Counter(
            "callrouter_callbacks_total",
            "Callbacks requested (by a caller or by hand) and how they ended",
            ["result"],
            registry=r,
        )
        self.notifications = Counter(
            "callrouter_notifications_total",
            "Results notifications by the final state they ended in",
            ["state"],
            registry=r,
        )
        self.notification_attempts = Histogram(
            "callrouter_notification_attempts",
            "Calls made for a results notification by the time it ended",
            buckets=(1, 2, 3, 4, 5, 6, 8, 10, 15, 20),
            registry=r,
        )
        for state in NOTIFICATION_STATES:
            self.notifications.labels(state=state)
        for name in event_types:
            self.ari_events.labels(type=name)
        for kind in repeat_kinds:
            self.repeat_calls.labels(kind=kind)
        for result in CALLBACK_RESULTS:
            self.callbacks.labels(result=result)
        outcomes = list(outcomes)
        for line in [*lines, "none"]:
            for outcome in outcomes:
                self.calls.labels(line=line, outcome=outcome)
        for command in (
            "answer",
            "play",
            "stopplayback",
            "startmoh",
            "stopmoh",
            "bridge",
            "hangup",
            "setvariable",
        ):
            self.ari_errors.labels(command=command)
        for reason in ("timeout", "unreachable"):
            self.record_write_failures.labels(reason=reason)
        for action in ("cleared", "adopted"):
            self.calls_reconciled.labels(action=action)

    def _operations(
        self,
        topics: list[str],
        wait_outcomes: list[str],
        wait_buckets: Sequence[float],
        talk_buckets: Sequence[float],
        service_level: tuple[float, float] | None,
    ) -> None:
        """What operations watch: waits, talk, menu choices, lines and the service level."""
        r, line_kinds = self.registry, self.line_kinds
        self.line_info = Gauge(
            "callrouter_line_info",
            "1 for every configured line, labelled with its kind",
            ["line", "kind"],
            registry=r,
        )
        for line, kind in line_kinds.items():
            self.line_info.labels(line=line, kind=kind).set(1)
        self.service_level_seconds = Gauge(
            "callrouter_service_level_threshold_seconds",
            "Answered within this many seconds counts as within the service level",
            registry=r,
        )
        self.service_level_target = Gauge(
            "callrouter_service_level_target_ratio",
            "The share of calls answered within the service-level threshold the centre aims at",
            registry=r,
        )
        # The wait histogram's bucket of the threshold, by its le label as the histogram writes
        # it: dashboards and alerts multiply the buckets by this (on le) to pick that one, so
        # another [queue] service_level_seconds needs no change to their queries.
        self.service_level_bucket = Gauge(
            "callrouter_service_level_bucket",
            "1 for the callrouter_queue_wait_seconds bucket (le) of the service-level threshold",
            ["le"],
            registry=r,
        )
        if service_level is not None:
            self.service_level_seconds.set(service_level[0])
            self.service_level_target.set(service_level[1])
            self.service_level_bucket.labels(le=bucket_label(service_level[0])).set(1)
        self.queue_wait = Histogram(
            "callrouter_queue_wait_seconds",
            "How long callers waited in the queue, by how the wait ended (answered by an agent, "
            "abandoned, overflowed, turned into a callback); counted when the call ends",
            ["line_kind", "topic", "outcome"],
            buckets=wait_buckets,
            registry=r,
        )
        self.talk = Histogram(
            "callrouter_talk_seconds",
            "How long answered callers talked with an agent (agent's answer to the call's end)",
            ["line_kind", "topic"],
            buckets=talk_buckets,
            registry=r,
        )
        self.menu_choices = Counter(
            "callrouter_menu_choices_total",
            "Calls that joined the queue, by the topic chosen in the menu (or by their line); "
            "counted when the call ends",
            ["topic"],
            registry=r,
        )
        for topic in topics:
            self.menu_choices.labels(topic=topic)
            for kind in sorted(set(line_kinds.values())):
                self.talk.labels(line_kind=kind, topic=topic)
                for outcome in wait_outcomes:
                    self.queue_wait.labels(line_kind=kind, topic=topic, outcome=outcome)

    def watch(self, collector: LiveCollector) -> None:
        self.registry.register(collector)

"""Every Prometheus metric the router exports, on a private registry.

Names carry the ``callrouter_`` prefix and base units; label values come only
from fixed sets (outcomes, line names from the config, event types), never a
phone number or channel id. Children are created at start so every series
exists from the first scrape; the sets that belong to the layers measured are
given at wiring time (app.build_metrics), so this module imports none of them.
Live figures are read at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# What happens to callbacks, each counted once: booked (by a caller or by hand), then one end.
CALLBACK_RESULTS = ("requested", "completed", "failed", "cancelled")
# The final states of a results notification (core.records.NotificationState).
NOTIFICATION_STATES = (
    "delivered", "transferred", "verification_failed", "unreachable", "cancelled", "expired",
)  # fmt: skip


class LiveCollector(Collector):
    """Gauges computed from the router's state when Prometheus scrapes."""

    def __init__(
        self,
        active_calls: Callable[[], int],
        writer_backlog: Callable[[], int],
        callbacks_pending: Callable[[], int],
        notifications_pending: Callable[[], int] = lambda: 0,
    ) -> None:
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


class Metrics:
    def __init__(
        self,
        *,
        lines: Iterable[str] = (),
        outcomes: Iterable[str] = (),
        event_types: Iterable[str] = (),
        repeat_kinds: Iterable[str] = (),
    ) -> None:
        """``lines``, ``outcomes``, ``event_types`` and ``repeat_kinds``: the label values
        whose children exist from the first scrape (others appear when first used)."""
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
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

    def watch(self, collector: LiveCollector) -> None:
        self.registry.register(collector)

"""The benchmark's arithmetic on the router's own histograms."""

from __future__ import annotations

from bench.figures import (
    PathResult,
    clean,
    counters,
    histogram,
    histogram_quantile,
    pairs,
    per_call,
    ratios,
    spread,
)

SCRAPE = """# HELP callrouter_ari_event_lag_seconds lag
# TYPE callrouter_ari_event_lag_seconds histogram
callrouter_ari_event_lag_seconds_bucket{{le="0.001"}} {a}
callrouter_ari_event_lag_seconds_bucket{{le="0.01"}} {b}
callrouter_ari_event_lag_seconds_bucket{{le="0.1"}} {c}
callrouter_ari_event_lag_seconds_bucket{{le="+Inf"}} {c}
callrouter_ari_event_lag_seconds_count {c}
callrouter_ari_event_lag_seconds_sum 1.0
"""


def scrape(a: int, b: int, c: int) -> str:
    return SCRAPE.format(a=a, b=b, c=c)


def test_quantile_of_what_happened_between_two_scrapes():
    name = "callrouter_ari_event_lag_seconds"
    before = histogram(scrape(100, 100, 100), name)
    # 100 new events: 90 under 1 ms, 9 under 10 ms, 1 under 100 ms.
    after = histogram(scrape(190, 199, 200), name)
    assert histogram_quantile(before, after, 0.5) == 1.0
    assert histogram_quantile(before, after, 0.95) == 10.0
    assert histogram_quantile(before, after, 0.999) == 100.0


def test_no_events_no_figure():
    name = "callrouter_ari_event_lag_seconds"
    same = histogram(scrape(5, 5, 5), name)
    assert histogram_quantile(same, same, 0.99) is None


def test_events_per_call_from_two_scrapes():
    text = """# HELP callrouter_ari_events_total events
# TYPE callrouter_ari_events_total counter
callrouter_ari_events_total{{type="StasisStart"}} {a}
callrouter_ari_events_total{{type="PlaybackFinished"}} {b}
callrouter_ari_events_total{{type="malformed"}} 0.0
"""
    before = counters(text.format(a=10, b=4), "callrouter_ari_events_total", "type")
    after = counters(text.format(a=30, b=24), "callrouter_ari_events_total", "type")
    assert before == {"StasisStart": 10.0, "PlaybackFinished": 4.0, "malformed": 0.0}
    assert per_call(before, after, 10) == {"StasisStart": 2.0, "PlaybackFinished": 2.0}


def test_a_counter_with_more_labels_is_summed_over_them():
    text = """# HELP callrouter_calls_total calls
# TYPE callrouter_calls_total counter
callrouter_calls_total{line="a",outcome="busy"} 3.0
callrouter_calls_total{line="b",outcome="busy"} 4.0
callrouter_calls_total{line="a",outcome="answered"} 5.0
"""
    assert counters(text, "callrouter_calls_total", "outcome") == {"busy": 7.0, "answered": 5.0}


def run(path: str, rate: float, connected: int, retrans: int = 0, ast: float = 2.0, rtr: float | None = 6.0):
    return PathResult(
        path=path,
        rate=rate,
        offered=100,
        connected=connected,
        failed=100 - connected,
        retransmissions=retrans,
        answer_mean_ms=3.0,
        answer_p99_ms=8.0,
        bridged_mean_ms=20.0,
        bridged_p99_ms=30.0,
        asterisk_cpu_ms_per_call=ast,
        router_cpu_ms_per_call=rtr if path == "router" else None,
        steal_pct=1.0,
    )


def test_each_router_run_pairs_with_the_app_queue_run_after_it():
    results = [
        run("router", 60, 100, ast=2.0),
        run("app_queue", 60, 100, ast=4.0),
        run("router", 60, 90, ast=3.0),
        run("app_queue", 60, 100, ast=3.0),
        run("app_queue", 70, 100),  # no router run at 70: no pair
    ]
    found = pairs(results)
    assert [(r.asterisk_cpu_ms_per_call, q.asterisk_cpu_ms_per_call) for r, q in found] == [
        (2.0, 4.0),
        (3.0, 3.0),
    ]
    assert ratios(*found[0]) == (1.0, 0.5, 2.0)  # total: (2 + 6) / 4
    assert ratios(*found[1])[0] == 0.9


def test_clean_is_no_failure_no_retransmission_and_a_quick_answer():
    assert clean(run("router", 60, 100))
    assert not clean(run("router", 60, 99))
    assert not clean(run("router", 60, 100, retrans=1))
    slow = run("router", 60, 100)
    slow.answer_p99_ms = 51.0
    assert not clean(slow)


def test_spread_only_for_repeated_steps():
    assert spread([run("router", 60, 100), run("app_queue", 60, 100)]) == ""
    text = spread(
        [
            run("router", 60, 100),
            run("app_queue", 60, 100),
            run("router", 60, 49, retrans=24),
            run("app_queue", 60, 100),
            run("router", 60, 100),
            run("app_queue", 60, 98, retrans=3),
        ]
    )
    router_line = next(line for line in text.splitlines() if "router" in line)
    assert "clean 2/3" in router_line
    assert "connected 100 (49-100)" in router_line
    assert "retrans 0 (0-24)" in router_line
    assert "clean 2/3" in next(line for line in text.splitlines() if "app_queue" in line)
    assert "60 calls/s over 3 pairs: connected x1.00 (0.49-1.02)" in text

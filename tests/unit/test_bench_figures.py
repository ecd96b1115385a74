"""The benchmark's arithmetic on the router's own histograms."""

from __future__ import annotations

from bench.run import counters, histogram, histogram_quantile, per_call

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

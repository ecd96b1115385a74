"""A smoke run of the benchmark (one low rate, a handful of calls, both paths),
so `make bench` cannot rot: both paths appear and every call connected."""

from __future__ import annotations

from bench.figures import table
from bench.run import bench


async def test_bench_smoke_both_paths_connect_every_call():
    results = await bench([2.0], 3.0, 10, name="bench-smoke")
    paths = {r.path: r for r in results}
    assert set(paths) == {"router", "app_queue"}
    for r in results:
        assert r.offered == 6
        assert r.connected == r.offered, f"{r.path}: {r.connected} of {r.offered} connected"
        assert r.failed == 0
        assert r.answer_p99_ms is not None and r.bridged_p99_ms is not None
        assert r.asterisk_cpu_ms_per_call > 0
    assert paths["router"].router_cpu_ms_per_call is not None
    assert paths["router"].router_handling_p99_ms is not None, "from the router's own histogram"
    assert paths["router"].router_event_lag_p99_ms is not None
    printed = table(results)
    assert "router" in printed and "app_queue" in printed and "calls/s: connected x1.00" in printed

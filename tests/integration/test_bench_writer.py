"""The record-writer benchmark, small, so it cannot rot: every record reaches PostgreSQL."""

from __future__ import annotations

from bench import writer


def test_bench_writer_small_run(capsys) -> None:
    assert writer.main(["--records", "3000", "--burst", "6000", "--queue-limit", "1000"]) == 0
    out = capsys.readouterr().out
    rows = {
        line.split()[0]: line.split()
        for line in out.splitlines()
        if line.split()[:1] in (["raw"], ["sustained"], ["burst"])
    }
    assert rows.keys() == {"raw", "sustained", "burst"}
    assert rows["burst"][1] == "6000" and float(rows["burst"][-1]) == 5000  # past the limit: spooled, then in
    assert float(rows["sustained"][-1]) == 0  # fed within its limit: nothing spooled

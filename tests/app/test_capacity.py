"""scripts/capacity.py: the capacity table recomputed from a bench run's JSON lines."""

from __future__ import annotations

import json

import pytest

from scripts import capacity


def run_lines(app_ms: float, db_ms: float) -> list[str]:
    names = ("baseline", "red_packet_storm", "transfers", "chat_groups", "feed")
    return [
        "not json",
        *(json.dumps({"scenario": n, "app_cpu_ms_per_op": app_ms, "db_cpu_ms_per_op": db_ms}) for n in names),
    ]


def test_cores_scale_with_the_measured_cost_per_operation():
    one = capacity.compute(capacity.read_runs(run_lines(1.0, 0.5)))
    two = capacity.compute(capacity.read_runs(run_lines(2.0, 1.0)))
    assert two["db_cores_busy"] == pytest.approx(2 * one["db_cores_busy"], rel=0.01)
    assert two["service_cores_busy"] > one["service_cores_busy"]
    assert one["redis_shards"] >= 3
    # peak rates are the stated load times the peak-second factor
    grab = next(r for r in one["rows"] if r["operation"] == "red packet grabbed")
    assert grab["peak_per_s"] == round(500_000 / 60 * capacity.PEAK_SECOND_FACTOR)
    assert "PostgreSQL cores" in capacity.markdown(one)


def test_a_run_missing_a_scenario_is_refused():
    with pytest.raises(SystemExit):
        capacity.compute(capacity.read_runs(run_lines(1.0, 0.5)[:3]))

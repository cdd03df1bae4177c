"""Job resource requests: above every measured peak, growing with input size, doubled per
retry."""

import csv
from pathlib import Path

import pytest

from homodyne import resources

PEAKS = Path(__file__).resolve().parents[1] / "benchmarks" / "memory_peaks.csv"
STEPS = ("load", "filter", "nlsq", "shard", "nuts", "combine", "plot", "summary")


def _peaks() -> list[dict]:
    with open(PEAKS) as fh:
        return list(csv.DictReader(fh))


def test_recorded_peaks_cover_every_step_of_the_three_cases():
    rows = _peaks()
    assert {"demo", "chx", "laminar_23x500"} <= {r["case"] for r in rows}
    assert set(STEPS) <= {r["step"] for r in rows}
    for case in ("demo", "chx", "laminar_23x500"):
        assert {"load", "filter", "nlsq", "shard", "nuts"} <= {r["step"] for r in rows
                                                               if r["case"] == case}


@pytest.mark.parametrize("row", _peaks(), ids=lambda r: f"{r['case']}-{r['job']}")
def test_memory_request_covers_the_measured_peak_with_margin(row):
    request = resources.mem_mb(row["step"], float(row["input_mb"]) * 1e6)
    assert request >= resources.MARGIN * float(row["max_rss_mb"]), (
        f"{row['step']} asks {request} MB for {row['input_mb']} MB of input; measured "
        f"{row['max_rss_mb']} MB ({row['case']})")


@pytest.mark.parametrize("step", ["load", "filter", "nlsq", "shard", "nuts", "combine", "plot"])
def test_requests_grow_with_input_and_attempt(step):
    small, big = resources.mem_mb(step, 1e6), resources.mem_mb(step, 1e9)
    assert 300 <= small < big
    assert resources.mem_mb(step, 1e9, attempt=2) == 2 * big
    assert resources.runtime_min(step, 1e9, attempt=3) == 4 * resources.runtime_min(step, 1e9)
    assert resources.runtime_min(step, 1e6) >= 5


def test_requests_are_whole_hundreds_of_mb():
    assert resources.mem_mb("nlsq", 184e6) % 100 == 0


def test_shards_per_job():
    assert resources.shards_per_job("auto") == resources.SHARDS_PER_JOB_AUTO
    assert resources.shards_per_job(3) == 3
    assert resources.shards_per_job(0) == 1


def test_a_combine_that_may_fall_back_to_nuts_asks_for_the_shards_nuts_time():
    """Importance sampling of several shards under ``auto`` may run NUTS on every shard in
    the combine job: its request then covers the largest shard's NUTS memory and every
    shard's NUTS time; otherwise it is the combine step's own."""
    shards = [30e6, 30e6, 29e6]
    own_mem, own_min = resources.mem_mb("combine", 2e6), resources.runtime_min("combine", 2e6)
    assert resources.combine_mem_mb(2e6, shards, fallback=False) == own_mem
    assert resources.combine_runtime_min(2e6, shards, fallback=False) == own_min
    assert resources.combine_mem_mb(2e6, shards, fallback=True) == max(
        own_mem, resources.mem_mb("nuts", 30e6))
    assert resources.combine_runtime_min(2e6, shards, fallback=True) == own_min + sum(
        resources.runtime_min("nuts", b) for b in shards)

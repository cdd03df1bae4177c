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

"""Job resource requests grow with input size and double per retry."""

import pytest

from homodyne import resources


@pytest.mark.parametrize("step", ["load", "filter", "nlsq", "shard", "nuts", "combine", "plot"])
def test_requests_grow_with_input_and_attempt(step):
    small, big = resources.mem_mb(step, 1e6), resources.mem_mb(step, 1e9)
    assert resources.BASE_MB <= small < big
    assert resources.mem_mb(step, 1e9, attempt=2) == 2 * big
    assert resources.runtime_min(step, 1e9, attempt=3) == 4 * resources.runtime_min(step, 1e9)
    assert resources.runtime_min(step, 1e6) >= 5


def test_requests_are_whole_hundreds_of_mb():
    assert resources.mem_mb("nlsq", 184e6) % 100 == 0


def test_shards_per_job():
    assert resources.shards_per_job("auto") == resources.SHARDS_PER_JOB_AUTO
    assert resources.shards_per_job(3) == 3
    assert resources.shards_per_job(0) == 1

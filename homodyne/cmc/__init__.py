"""Consensus Monte Carlo (docs/physics.md): shard, sample each shard with NUTS, combine.

Each step is a function from files to files, so the workflow runs them as separate jobs
and ``homodyne run --method cmc`` runs them in one process:

* :func:`make_shards` -- dataset + NLSQ result -> ``shard_XXX.h5`` files (points, priors).
* :func:`sample_shard` -- one shard file -> ``posterior_XXX.nc`` (ArviZ, NetCDF4).
* :func:`combine` -- posterior files -> :class:`ConsensusResult` (Scott et al. 2016).
"""

from homodyne.cmc.combine import ConsensusResult, ShardReport, combine, consensus_draws
from homodyne.cmc.priors import NLSQEstimate, read_nlsq_estimate
from homodyne.cmc.sample import sample_shard
from homodyne.cmc.shard import make_shards, read_shard

__all__ = [
    "ConsensusResult",
    "NLSQEstimate",
    "ShardReport",
    "combine",
    "consensus_draws",
    "make_shards",
    "read_nlsq_estimate",
    "read_shard",
    "sample_shard",
]

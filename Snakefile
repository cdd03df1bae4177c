# homodyne workflow: load -> filter -> nlsq -> twotime (model-free views) and shard
# (checkpoint) -> nuts (one job per shard) -> combine -> plot -> summary, for every dataset.
#
#   snakemake --profile profiles/local                     # the built-in demo
#   snakemake --profile profiles/local --configfile my.yaml
#   snakemake --profile profiles/slurm --configfile my.yaml   (or profiles/pbs)
#
# A failed shard is rerun alone by running the same command again.

from snakemake.utils import min_version

min_version("9.0")


include: "workflow/rules/common.smk"
include: "workflow/rules/load.smk"
include: "workflow/rules/nlsq.smk"
include: "workflow/rules/twotime.smk"
include: "workflow/rules/cmc.smk"
include: "workflow/rules/plot.smk"


rule all:
    input:
        all_targets(),
    default_target: True

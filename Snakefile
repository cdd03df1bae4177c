# homodyne workflow: load -> filter -> nlsq -> twotime (model-free views) and shard
# (checkpoint) -> nuts (one job per shard) -> combine -> plot -> summary -> tables, for every
# dataset of the config.
#
#   snakemake --profile profiles/local                     # the built-in demo
#   snakemake --profile profiles/local --configfile my.yaml
#   snakemake --profile profiles/slurm --configfile my.yaml   (or profiles/pbs)
#
# A failed shard is rerun alone by running the same command again.
#
#   snakemake --profile profiles/local --report results/report.html   (`make report`)

from snakemake.utils import min_version

min_version("9.0")


# The demo's config, unless the command line names datasets (--configfile my.yaml): a config
# of other data is then used as it is, not merged into the demo's (as `homodyne run my.yaml`
# reads it); --config key=value overrides either.
if "datasets" not in config:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/load.smk"
include: "workflow/rules/nlsq.smk"
include: "workflow/rules/twotime.smk"
include: "workflow/rules/cmc.smk"
include: "workflow/rules/plot.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),


# A signal to this process alone stops its jobs too (as Ctrl-C, which reaches them all).
onstart:
    stop_jobs_with_the_head()


# The last lines of every run, finished or not: the verdict of each dataset.
onsuccess:
    print_verdicts(finished=True)


onerror:
    print_verdicts(finished=False)

# Config, datasets and input functions shared by every rule.
import functools
import json
import os
import sys

from snakemake.utils import validate

from homodyne import layout, resources
from homodyne.config import parse_config, read_numbers
from homodyne.data.simulate import existing_truth, truth_path
from homodyne.settings import settings_digest

DEMO_DATA = "resources/demo.h5"
DEMO_TRUTH = str(truth_path(DEMO_DATA))

# The config is the one Snakemake read (the Snakefile's configfile, --configfile, --config),
# with its numbers as `homodyne run` reads them: Snakemake's YAML 1.1 reader leaves 2.0e6 a
# string, homodyne.config.read_numbers reads such strings where the schema expects a number.
# Then homodyne's check, as `homodyne run` does: one line per problem naming the file and the
# key (a typo gets the closest valid key), where Snakemake's validate() would print the
# schema; then the one schema, which also fills in the defaults. A bad config stops here,
# before any job runs. The data are not opened here (a dry run of many large datasets takes
# seconds): their checks run in each dataset's load job and in `homodyne validate`.
config.update(read_numbers(config))
HOMODYNE = parse_config(config, source=", ".join(map(str, workflow.configfiles)) or "--config")
validate(config, "../schemas/config.schema.yaml")
DATASETS = {d.name: d for d in HOMODYNE.datasets}
RESULTS = "results"
OUT = layout.dataset(RESULTS, "{ds}")  # path patterns of every rule's results


def out(name):
    """The result files of dataset ``name``."""
    return layout.dataset(RESULTS, name)


def settings(step):
    """The settings the step's output depends on, as one short digest per config section,
    for a ``params`` entry of its rule; Snakemake's params trigger then reruns the step
    (and what follows) when one changes, and a dry run's reason line names the section."""
    return lambda wc: _settings(wc.ds, step)


@functools.cache
def _settings(name, step):
    """Settings digest of a dataset's step, made once: Snakemake asks for it several times
    per job, and a dry run of 2,000 shards has 2,000 NUTS jobs (benchmarks/README.md)."""
    return settings_digest(DATASETS[name], step, HOMODYNE.plots)


wildcard_constraints:
    ds="|".join(DATASETS),
    k=r"\d+",


def input_size(*names):
    """An input function giving the total size in bytes of a job's named inputs."""

    def size(wildcards, input):
        files = [f for n in names for f in ([input[n]] if isinstance(input[n], str) else input[n])]
        return sum(os.path.getsize(f) for f in files if os.path.exists(f))

    return size


def mem_mb(step, *names):
    return lambda wc, input, attempt: resources.mem_mb(step, input_size(*names)(wc, input), attempt)


def runtime(step, *names):
    return lambda wc, input, attempt: resources.runtime_min(
        step, input_size(*names)(wc, input), attempt
    )


def shard_sizes(input):
    """Sizes in bytes of the shard files in a job's ``shards`` folder."""
    return [f.stat().st_size for f in Path(input.shards).glob("shard_*.h5")]


def combine_fallback(wildcards, input):
    """Whether a combine job may run NUTS on its shards: importance sampling of several
    shards under ``cmc.method: auto`` (one shard's fallback runs in its own NUTS job); the
    method is an attribute of the shard files, read without their data."""
    from homodyne.cmc.shard import shard_method  # JAX: only once the shards exist

    files = sorted(Path(input.shards).glob("shard_*.h5"))
    return (
        DATASETS[wildcards.ds].cmc.method == "auto"
        and len(files) > 1
        and shard_method(files[0]) == "importance"
    )


def combine_mem_mb(wildcards, input, attempt):
    sizes = shard_sizes(input)
    total = input_size("posteriors")(wildcards, input) + sum(sizes)
    return resources.combine_mem_mb(total, sizes, combine_fallback(wildcards, input), attempt)


def combine_runtime(wildcards, input, attempt):
    sizes = shard_sizes(input)
    total = input_size("posteriors")(wildcards, input) + sum(sizes)
    return resources.combine_runtime_min(total, sizes, combine_fallback(wildcards, input), attempt)


def cmc_enabled(name):
    return DATASETS[name].cmc.enable


def results_of(wildcards):
    """NLSQ results, plus the consensus outputs when CMC is enabled for the dataset."""
    files = {"nlsq_json": out(wildcards.ds).nlsq_json, "nlsq_npz": out(wildcards.ds).nlsq_npz}
    if cmc_enabled(wildcards.ds):
        files["cmc_parameters"] = out(wildcards.ds).cmc_parameters
        files["cmc_diagnostics"] = out(wildcards.ds).cmc_diagnostics
        files["cmc_npz"] = out(wildcards.ds).cmc_npz
    return files


def tables_input(wildcards):
    """What the tables step reads: the summary, and the CMC diagnostics when CMC ran."""
    files = {"summary": out(wildcards.ds).summary}
    if cmc_enabled(wildcards.ds):
        files["cmc_diagnostics"] = out(wildcards.ds).cmc_diagnostics
    return files


def truth_of(wildcards):
    """The truth file of simulated input data (marked on the figures), when there is one or
    the demo's rule makes one."""
    data = str(DATASETS[wildcards.ds].file)
    if data == DEMO_DATA:
        return {"truth": DEMO_TRUTH}
    path = existing_truth(data)
    return {"truth": str(path)} if path else {}


def posteriors(wildcards):
    """Posterior files of every shard the shard checkpoint wrote for this dataset."""
    shard_dir = checkpoints.shard.get(ds=wildcards.ds).output.shards
    ks = layout.shard_indices(layout.shard_files(shard_dir))
    return [out(wildcards.ds).posterior(k) for k in ks]


def nuts_group(wildcards):
    """Bundle `cmc.shards_per_job` consecutive shards into one scheduler job; with one shard
    per job, no group: plain jobs, which the Slurm profile can submit as an array
    (docs/schedulers.md), and a DAG without 2,000 one-job groups."""
    per_job = resources.shards_per_job(DATASETS[wildcards.ds].cmc.shards_per_job)
    if per_job == 1:
        return None
    return f"nuts_{wildcards.ds}_{int(wildcards.k) // per_job}"


def all_targets():
    targets = [out(name).summary for name in DATASETS]
    targets += [out(name).plots for name in DATASETS]
    targets += [
        f for name in DATASETS for f in (out(name).one_time_figure, out(name).ageing_figure)
    ]
    targets += [out(name).parameters_table for name in DATASETS]
    targets.append(layout.verdicts_table(RESULTS, DATASETS))
    if len(DATASETS) > 1:
        targets.append(layout.datasets_figure(RESULTS))
    return targets


def stop_jobs_with_the_head():
    """SIGINT or SIGTERM to this process alone (a batch script, a scheduler) stops the
    running jobs as Ctrl-C does and keeps what finished (homodyne.signals.install_head).
    Local runs only: the jobs are this process's children there; on a cluster Snakemake
    cancels its jobs on SIGINT itself."""
    if not workflow.local_exec:
        return
    import signal

    from homodyne.signals import install_head

    graceful = signal.getsignal(signal.SIGTERM)  # Snakemake's: start nothing, record the rest
    if callable(graceful):
        install_head(lambda signum: graceful(signum, None))


def print_verdicts(finished):
    """The run's last lines: every dataset's verdict (homodyne.verdicts), so a fit that
    must not be used is seen where a user looks, after "steps (100%) done" or a failed job.
    A run whose jobs all finished exits 1 when ``workflow.fail_on`` says its verdicts
    should; a run with a failed job exits 1 anyway (Snakemake)."""
    from homodyne import verdicts

    found = verdicts.run_verdicts({name: cmc_enabled(name) for name in DATASETS}, RESULTS, "logs")
    for line in verdicts.lines(found):
        logger.info(line)
    names = verdicts.tripped(found, HOMODYNE.fail_on)
    if finished and names:
        logger.error(verdicts.failure_line(names, HOMODYNE.fail_on))
        sys.exit(1)  # a clean exit: Snakemake has already released its lock


# The report (workflow/rules/report.smk, plot.smk): how a figure of a plots folder is filed
# and named, from the figure table of homodyne.layout.
def figure_subcategory(wildcards):
    """The report's part of the dataset a figure belongs to (NLSQ or Bayesian)."""
    return layout.figure_of(wildcards.figure).part


def figure_labels(wildcards):
    """The report's name for a figure: what it shows (per angle: the angle)."""
    return {"figure": layout.figure_of(wildcards.figure).label}

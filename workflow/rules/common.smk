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
    ks = glob_wildcards(os.path.join(shard_dir, "shard_{k}.h5")).k
    return [out(wildcards.ds).posterior(k) for k in sorted(ks)]


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
    targets.append(layout.verdicts_table(RESULTS))
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


# The report (workflow/rules/report.smk, plot.smk): how a figure is filed and named.
def figure_subcategory(wildcards):
    """A figure of the plots folder belongs to the Bayesian results when its name says so."""
    return "Bayesian (CMC)" if wildcards.figure.startswith("cmc_") else "NLSQ"


FIGURE_LABELS = {
    "c2_overview": "c2 of every angle: data above, fit below the diagonal",
    "c2_cuts": "c2 along lines of constant lag, data and fit",
    "residual_histogram": "normalised residuals against N(0, 1)",
    "cmc_trace": "traces of the chains",
    "cmc_marginals": "posterior of each parameter, NLSQ value marked",
    "cmc_pair": "pairwise posteriors and correlations",
    "cmc_shards": "shard posteriors against the consensus",
}


def figure_labels(wildcards):
    """The report's name for a figure: what it shows (per angle: the angle)."""
    name = wildcards.figure
    if name.startswith("c2_phi_"):
        return {"figure": f"c2 at φ = {name.removeprefix('c2_phi_')}°: data, fit, residual"}
    return {"figure": FIGURE_LABELS.get(name, name)}

# What `snakemake --report` (`make report`) shows: per dataset its figures (NLSQ, Bayesian)
# and tables, the cross-dataset figure under "All datasets". Captions: workflow/report/.


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


rule tables:
    input:
        unpack(tables_input),
    output:
        parameters=report(
            OUT.parameters_table,
            caption="../report/parameters.rst",
            category="{ds}",
            subcategory="Tables",
            labels={"table": "parameters: NLSQ and Bayesian, with units"},
        ),
        diagnostics=report(
            OUT.diagnostics_table,
            caption="../report/diagnostics.rst",
            category="{ds}",
            subcategory="Tables",
            labels={"table": "quality verdict and diagnostics"},
        ),
        provenance=report(
            OUT.provenance_table,
            caption="../report/provenance.rst",
            category="{ds}",
            subcategory="Tables",
            labels={"table": "settings used and provenance"},
        ),
    params:
        files=lambda wc: out(wc.ds),
    log:
        "logs/{ds}/tables.log",
    benchmark:
        "benchmarks/{ds}/tables.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/homodyne.yaml"
    script:
        "../scripts/tables.py"

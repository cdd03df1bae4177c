# What `snakemake --report` (`make report`) shows: per dataset its figures (NLSQ, Bayesian)
# and tables; under "All datasets" the verdict of every dataset of the run (also the front
# page's first table) and the cross-dataset figure. Captions: workflow/report/.


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
    log:
        "logs/{ds}/tables.log",
    benchmark:
        "benchmarks/{ds}/tables.tsv"
    conda:
        "../../envs/homodyne.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        files=lambda wc: out(wc.ds),
    script:
        "../scripts/tables.py"


# The verdict table is named after the run's datasets (homodyne.layout.verdicts_table): a
# report embeds its own run's, never one another config wrote to results/ after it. Its
# params hold the datasets (and whether CMC runs for each), so it reruns when they change.
rule verdicts:
    input:
        [out(name).summary for name in DATASETS],
        [out(name).nlsq_json for name in DATASETS],
        [out(name).cmc_diagnostics for name in DATASETS if cmc_enabled(name)],
    output:
        report(
            layout.verdicts_table(RESULTS, DATASETS),
            caption="../report/verdicts.rst",
            category="All datasets",
            subcategory="Verdicts",
            labels={"table": "verdict of every dataset"},
        ),
    log:
        f"logs/{layout.verdicts_name(DATASETS)}.log",
    benchmark:
        f"benchmarks/{layout.verdicts_name(DATASETS)}.tsv"
    conda:
        "../../envs/homodyne.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cmc=json.dumps({name: cmc_enabled(name) for name in DATASETS}),
        files=[out(name) for name in DATASETS],
    script:
        "../scripts/verdicts.py"

# Figures and the per-dataset summary.


rule plot:
    input:
        unpack(results_of),
        unpack(truth_of),
        one_time=OUT.one_time,
        ageing=OUT.ageing,
    output:
        report(
            directory(OUT.plots),
            patterns=["{figure}.png"],
            caption="../report/figures.rst",
            category="{ds}",
            subcategory=figure_subcategory,
            labels=figure_labels,
        ),
        one_time_figure=report(
            OUT.one_time_figure,
            caption="../report/one_time.rst",
            category="{ds}",
            subcategory="Model-free views",
            labels={"figure": "one-time g2 per angle, data and model"},
        ),
        ageing_figure=report(
            OUT.ageing_figure,
            caption="../report/ageing.rst",
            category="{ds}",
            subcategory="Model-free views",
            labels={"figure": "decay time against sample age, data and model"},
        ),
    log:
        "logs/{ds}/plot.log",
    benchmark:
        "benchmarks/{ds}/plot.tsv"
    conda:
        "../../envs/homodyne.yaml"
    resources:
        mem_mb=mem_mb("plot", "nlsq_npz"),
        runtime=runtime("plot", "nlsq_npz"),
    params:
        settings=settings("plot"),
        files=lambda wc: out(wc.ds),
    script:
        "../scripts/plot.py"


rule plot_datasets:
    input:
        [out(name).nlsq_json for name in DATASETS],
        [out(name).cmc_parameters for name in DATASETS if cmc_enabled(name)],
        [out(name).cmc_diagnostics for name in DATASETS if cmc_enabled(name)],
    output:
        report(
            layout.datasets_figure(RESULTS),
            caption="../report/datasets.rst",
            category="All datasets",
            subcategory="Parameters",
            labels={"figure": "physical parameters across datasets"},
        ),
    log:
        "logs/plot_datasets.log",
    benchmark:
        "benchmarks/plot_datasets.tsv"
    conda:
        "../../envs/homodyne.yaml"
    resources:
        mem_mb=1500,
        runtime=15,
    params:
        datasets=list(DATASETS),
        plots=json.dumps(HOMODYNE.plots, sort_keys=True),
        files=[out(name) for name in DATASETS],
    script:
        "../scripts/plot_datasets.py"


rule summary:
    input:
        unpack(results_of),
    output:
        OUT.summary,
    log:
        "logs/{ds}/summary.log",
    benchmark:
        "benchmarks/{ds}/summary.tsv"
    conda:
        "../../envs/homodyne.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        settings=settings("summary"),
        files=lambda wc: out(wc.ds),
    script:
        "../scripts/summary.py"

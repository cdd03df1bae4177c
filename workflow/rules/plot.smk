# Figures and the per-dataset summary.


rule plot:
    input:
        unpack(results_of),
    output:
        directory(f"{RESULTS}/{{ds}}/plots"),
    params:
        dataset_dir=lambda wc: f"{RESULTS}/{wc.ds}",
    log:
        "logs/{ds}/plot.log",
    benchmark:
        "benchmarks/{ds}/plot.tsv"
    resources:
        mem_mb=mem_mb("plot", "nlsq"),
        runtime=runtime("plot", "nlsq"),
    conda:
        "../../envs/homodyne.yaml"
    script:
        "../scripts/plot.py"


rule plot_datasets:
    input:
        expand(f"{RESULTS}/{{ds}}/nlsq/nlsq_results.json", ds=DATASETS),
    output:
        f"{RESULTS}/plots/datasets_parameters.png",
    params:
        results=lambda wc, output: str(Path(output[0]).parent.parent),
    log:
        "logs/plot_datasets.log",
    benchmark:
        "benchmarks/plot_datasets.tsv"
    resources:
        mem_mb=1500,
        runtime=15,
    conda:
        "../../envs/homodyne.yaml"
    script:
        "../scripts/plot_datasets.py"


rule summary:
    input:
        unpack(results_of),
    output:
        f"{RESULTS}/{{ds}}/analysis_summary.json",
    params:
        dataset_dir=lambda wc: f"{RESULTS}/{wc.ds}",
    log:
        "logs/{ds}/summary.log",
    benchmark:
        "benchmarks/{ds}/summary.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/homodyne.yaml"
    script:
        "../scripts/summary.py"

# Least-squares fit of each dataset.


rule nlsq:
    input:
        filtered=f"{RESULTS}/{{ds}}/data/filtered.h5",
    output:
        json=f"{RESULTS}/{{ds}}/nlsq/nlsq_results.json",
        npz=f"{RESULTS}/{{ds}}/nlsq/nlsq_results.npz",
    params:
        outdir=lambda wc: f"{RESULTS}/{wc.ds}",
    threads: 2
    log:
        "logs/{ds}/nlsq.log",
    benchmark:
        "benchmarks/{ds}/nlsq.tsv"
    resources:
        mem_mb=mem_mb("nlsq", "filtered"),
        runtime=runtime("nlsq", "filtered"),
    conda:
        "../../envs/homodyne.yaml"
    script:
        "../scripts/nlsq.py"

# Least-squares fit of each dataset.


rule nlsq:
    input:
        filtered=OUT.filtered,
    output:
        json=OUT.nlsq_json,
        npz=OUT.nlsq_npz,
    log:
        "logs/{ds}/nlsq.log",
    benchmark:
        "benchmarks/{ds}/nlsq.tsv"
    conda:
        "../../envs/homodyne.yaml"
    threads: 2
    resources:
        mem_mb=mem_mb("nlsq", "filtered"),
        runtime=runtime("nlsq", "filtered"),
    params:
        settings=settings("nlsq"),
        files=lambda wc: out(wc.ds),
    script:
        "../scripts/nlsq.py"

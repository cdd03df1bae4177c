# Least-squares fit of each dataset.


rule nlsq:
    input:
        filtered=OUT.filtered,
    output:
        json=OUT.nlsq_json,
        npz=OUT.nlsq_npz,
    params:
        settings=settings("nlsq"),
        files=lambda wc: out(wc.ds),
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

# Model-free views of the two-time data: one-time g2 and ageing (homodyne.twotime).
#
# One rule after nlsq, not one after filter plus one after nlsq: each view file holds the
# data and the fitted model reduced over the same pairs, so the two can only be compared
# if they are written together. The data part alone would need its own copy of each file.
# The step costs seconds; NLSQ always runs before it. Its figures are drawn by the plot rule,
# after CMC, so that they carry the dataset's verdict like every other figure.


rule twotime:
    input:
        filtered=OUT.filtered,
        nlsq=OUT.nlsq_npz,
        nlsq_json=OUT.nlsq_json,
    output:
        one_time=OUT.one_time,
        ageing=OUT.ageing,
    log:
        "logs/{ds}/twotime.log",
    benchmark:
        "benchmarks/{ds}/twotime.tsv"
    conda:
        "../../envs/homodyne.yaml"
    resources:
        mem_mb=mem_mb("twotime", "filtered"),
        runtime=runtime("twotime", "filtered"),
    params:
        settings=settings("twotime"),
        files=lambda wc: out(wc.ds),
    script:
        "../scripts/twotime.py"

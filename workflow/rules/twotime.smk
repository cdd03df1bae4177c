# Model-free views of the two-time data: one-time g2 and ageing (homodyne.twotime).
#
# One rule after nlsq, not one after filter plus one after nlsq: each view file holds the
# data and the fitted model reduced over the same pairs, so the two can only be compared
# if they are written together. The data part alone would need its own copy of each file.
# The step costs seconds; NLSQ always runs before it.


rule twotime:
    input:
        filtered=OUT.filtered,
        nlsq=OUT.nlsq_npz,
        nlsq_json=OUT.nlsq_json,
    output:
        one_time=OUT.one_time,
        ageing=OUT.ageing,
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

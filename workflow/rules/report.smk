# What `snakemake --report` (`make report`) shows: per dataset its figures (NLSQ, Bayesian)
# and tables, the cross-dataset figure under "All datasets". Captions: workflow/report/.


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

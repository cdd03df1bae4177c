# Built-in demo data, reading the raw file, angle selection.


rule simulate_demo:
    output:
        data=DEMO_DATA,
        truth=DEMO_TRUTH,
    log:
        "logs/resources/simulate_demo.log",
    benchmark:
        "benchmarks/resources/simulate_demo.tsv"
    conda:
        "../../envs/homodyne.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        mode="laminar_flow",
        params={
            "D0": 1.0e4,
            "alpha": -0.5,
            "D_offset": 10.0,
            "gamma_dot_t0": 2.0e-3,
            "beta": 0.3,
            "gamma_dot_t_offset": 0.0,
            "phi0": 2.0,
        },
        phi=[-60.0, -15.0, 10.0, 40.0, 85.0],
        n_frames=61,
        dt=0.1,
        q=0.0054,
        contrast=0.3,
        noise=0.01,
        seed=1,
    script:
        "../scripts/simulate_demo.py"


rule load:
    input:
        raw=lambda wc: str(DATASETS[wc.ds].file),
    output:
        temp(OUT.loaded),
    log:
        "logs/{ds}/load.log",
    benchmark:
        "benchmarks/{ds}/load.tsv"
    conda:
        "../../envs/homodyne.yaml"
    resources:
        mem_mb=mem_mb("load", "raw"),
        runtime=runtime("load", "raw"),
    params:
        settings=settings("load"),
    script:
        "../scripts/load.py"


rule filter:
    input:
        loaded=OUT.loaded,
    output:
        OUT.filtered,
    log:
        "logs/{ds}/filter.log",
    benchmark:
        "benchmarks/{ds}/filter.tsv"
    conda:
        "../../envs/homodyne.yaml"
    resources:
        mem_mb=mem_mb("filter", "loaded"),
        runtime=runtime("filter", "loaded"),
    params:
        settings=settings("filter"),
    script:
        "../scripts/filter.py"

# Built-in demo data, reading the raw file, angle selection.


rule simulate_demo:
    output:
        data=DEMO_DATA,
        truth=DEMO_TRUTH,
    params:
        mode="laminar_flow",
        params={"D0": 1.0e4, "alpha": -0.5, "D_offset": 10.0, "gamma_dot_t0": 2.0e-3,
                "beta": 0.3, "gamma_dot_t_offset": 0.0, "phi0": 2.0},
        phi=[-60.0, -15.0, 10.0, 40.0, 85.0],
        n_frames=61,
        dt=0.1,
        q=0.0054,
        contrast=0.3,
        noise=0.01,
        seed=1,
    log:
        "logs/resources/simulate_demo.log",
    benchmark:
        "benchmarks/resources/simulate_demo.tsv"
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/homodyne.yaml"
    script:
        "../scripts/simulate_demo.py"


rule load:
    input:
        raw=lambda wc: str(DATASETS[wc.ds].file),
    output:
        temp(OUT.loaded),
    params:
        settings=settings("load"),
    log:
        "logs/{ds}/load.log",
    benchmark:
        "benchmarks/{ds}/load.tsv"
    resources:
        mem_mb=mem_mb("load", "raw"),
        runtime=runtime("load", "raw"),
    conda:
        "../../envs/homodyne.yaml"
    script:
        "../scripts/load.py"


rule filter:
    input:
        loaded=OUT.loaded,
    output:
        OUT.filtered,
    params:
        settings=settings("filter"),
    log:
        "logs/{ds}/filter.log",
    benchmark:
        "benchmarks/{ds}/filter.tsv"
    resources:
        mem_mb=mem_mb("filter", "loaded"),
        runtime=runtime("filter", "loaded"),
    conda:
        "../../envs/homodyne.yaml"
    script:
        "../scripts/filter.py"

# Consensus Monte Carlo: shard (K depends on the data), NUTS per shard, combine.


checkpoint shard:
    input:
        filtered=OUT.filtered,
        nlsq=OUT.nlsq_json,
    output:
        shards=directory(OUT.shards),
    params:
        settings=settings("shard"),
    log:
        "logs/{ds}/shard.log",
    benchmark:
        "benchmarks/{ds}/shard.tsv"
    resources:
        mem_mb=mem_mb("shard", "filtered"),
        runtime=runtime("shard", "filtered"),
    conda:
        "../../envs/homodyne.yaml"
    script:
        "../scripts/shard.py"


rule nuts:
    input:
        shard=OUT.shard("{k}"),
    output:
        OUT.posterior("{k}"),
    params:
        settings=settings("nuts"),
        cache=f"{RESULTS}/.jax_cache",
    threads: lambda wc: DATASETS[wc.ds].cmc.chains
    group: nuts_group
    log:
        "logs/{ds}/nuts/shard_{k}.log",
    benchmark:
        "benchmarks/{ds}/nuts/shard_{k}.tsv"
    resources:
        mem_mb=mem_mb("nuts", "shard"),
        runtime=runtime("nuts", "shard"),
    conda:
        "../../envs/homodyne.yaml"
    script:
        "../scripts/nuts.py"


rule combine:
    input:
        posteriors=posteriors,
        shards=OUT.shards,
    output:
        parameters=OUT.cmc_parameters,
        diagnostics=OUT.cmc_diagnostics,
        draws=OUT.cmc_npz,
        inference=OUT.cmc_netcdf,
    params:
        settings=settings("combine"),
        files=lambda wc: out(wc.ds),
    log:
        "logs/{ds}/combine.log",
    benchmark:
        "benchmarks/{ds}/combine.tsv"
    resources:
        mem_mb=mem_mb("combine", "posteriors"),
        runtime=runtime("combine", "posteriors"),
    conda:
        "../../envs/homodyne.yaml"
    script:
        "../scripts/combine.py"

# The Bayesian posterior: shard (K and the method depend on the data), one job per shard
# (NUTS, or importance sampling's likelihood at the run's proposal draws), combine.


checkpoint shard:
    input:
        filtered=OUT.filtered,
        nlsq=OUT.nlsq_json,
    output:
        shards=directory(OUT.shards),
    log:
        "logs/{ds}/shard.log",
    benchmark:
        "benchmarks/{ds}/shard.tsv"
    conda:
        "../../envs/homodyne.yaml"
    resources:
        mem_mb=mem_mb("shard", "filtered"),
        runtime=runtime("shard", "filtered"),
    params:
        settings=settings("shard"),
    script:
        "../scripts/shard.py"


rule nuts:
    input:
        shard=OUT.shard("{k}"),
    output:
        OUT.posterior("{k}"),
    log:
        f"logs/{{ds}}/nuts/{layout.shard_name('{k}')}.log",
    benchmark:
        f"benchmarks/{{ds}}/nuts/{layout.shard_name('{k}')}.tsv"
    group:
        nuts_group
    conda:
        "../../envs/homodyne.yaml"
    threads: lambda wc: DATASETS[wc.ds].cmc.chains
    resources:
        mem_mb=mem_mb("nuts", "shard"),
        runtime=runtime("nuts", "shard"),
    params:
        settings=settings("nuts"),
        cache=f"{RESULTS}/.jax_cache",
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
    log:
        "logs/{ds}/combine.log",
    benchmark:
        "benchmarks/{ds}/combine.tsv"
    conda:
        "../../envs/homodyne.yaml"
    resources:
        mem_mb=combine_mem_mb,
        runtime=combine_runtime,
    params:
        settings=settings("combine"),
        files=lambda wc: out(wc.ds),
    script:
        "../scripts/combine.py"

# Consensus Monte Carlo: shard (K depends on the data), NUTS per shard, combine.


checkpoint shard:
    input:
        filtered=f"{RESULTS}/{{ds}}/data/filtered.h5",
        nlsq=f"{RESULTS}/{{ds}}/nlsq/nlsq_results.json",
    output:
        shards=directory(f"{RESULTS}/{{ds}}/cmc/shards"),
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
        shard=f"{RESULTS}/{{ds}}/cmc/shards/shard_{{k}}.h5",
    output:
        f"{RESULTS}/{{ds}}/cmc/posteriors/posterior_{{k}}.nc",
    params:
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
    output:
        parameters=f"{RESULTS}/{{ds}}/cmc/mcmc_parameters.json",
        diagnostics=f"{RESULTS}/{{ds}}/cmc/mcmc_diagnostics.json",
        draws=f"{RESULTS}/{{ds}}/cmc/mcmc_results.npz",
        inference=f"{RESULTS}/{{ds}}/cmc/mcmc_inference_data.nc",
    params:
        outdir=lambda wc: f"{RESULTS}/{wc.ds}",
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

"""NUTS on one shard file, posterior written as ArviZ NetCDF (docs/physics.md).

:func:`sample_shard` is the body of one workflow shard job: shard file in, posterior file
out.  Every shard job of a run shares a JAX persistent compilation cache (``cache_dir``):
all shards are padded to the same length and pass their points as arguments, so they
compile to the same program and shards 2..K load it instead of compiling it again.

A shard whose data cannot be sampled (non-finite points, no finite log density at the
start) still gets a posterior file, with NaN draws and the reason in its ``error``
attribute: the job succeeds, and :func:`homodyne.cmc.combine` leaves the shard out and
reports why, instead of the whole run failing on one bad shard.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from arviz_base import from_dict  # not `arviz`: its plots import matplotlib (job start-up)
from jax import lax
from numpyro.infer.hmc import hmc
from numpyro.infer.util import potential_energy

from homodyne import __version__
from homodyne.cmc import density, importance
from homodyne.cmc.diagnostics import chain_diagnostics
from homodyne.cmc.model import (
    build_model,
    initial_values,
    inverse_mass_matrix,
    to_physical,
)
from homodyne.cmc.progress import Progress, report_every
from homodyne.cmc.shard import Shard, read_shard
from homodyne.config import CMCConfig
from homodyne.errors import FitError
from homodyne.io import write_atomic
from homodyne.quality import ESS_MIN, R_HAT_WARNING
from homodyne.runtime import require_float64, use_compilation_cache

log = logging.getLogger(__name__)


def chain_layout(chains: int) -> tuple[int, int]:
    """``(devices, chains per device)``: chains spread over as many JAX devices as divide
    them evenly, one after another on each device.

    ``chains <= devices`` is NumPyro's ``parallel``; one device is its ``sequential``.
    Measured on a 2-core VM (a 19 700-point static shard, 4 chains × 1000 iterations, other
    jobs running): 2 devices × 2 chains 54-72 s, 1 device × 4 sequential chains 83 s, 4
    chains vectorised on one device 154 s.  A vectorised step waits for the longest of the
    chains' trajectories, so lockstep wastes most of the work; the batch axis is therefore
    a sequential map, never ``vmap``.
    """
    devices = min(chains, jax.local_device_count())
    n = max(k for k in range(1, devices + 1) if chains % k == 0)
    return n, chains // n


def _sampler(model, cfg: CMCConfig, inverse_mass: np.ndarray, progress: Progress):
    """``run(keys, starts, data) -> (trace, compile seconds)``: NUTS chains of ``model`` from
    per-chain ``starts`` with the data as arguments, each chain telling ``progress`` how far
    it is.

    NumPyro's functional NUTS kernel rather than its ``MCMC`` driver: ``MCMC`` closes over
    the model arguments, so each shard's points would be compiled into the program as
    constants and no two shards would share a compiled program.  Here the points are
    arguments of one ``pmap``-ped program (devices × chains per device), compiled once per
    run and served by the persistent cache to every later shard job (the starts are
    arguments too: they differ by shard).  Every chain uses
    ``inverse_mass`` (:func:`homodyne.cmc.model.inverse_mass_matrix`, from the NLSQ
    covariance) throughout and adapts its step size; only when that is None does it start
    from the identity and adapt the mass matrix too.

    The progress callback (``jax.debug.callback``, no result, every
    :func:`~homodyne.cmc.progress.report_every` iterations) is part of the program of every
    run; it reads only the chain number and the iteration, so the draws do not depend on it
    and the cached program stays the same for every shard.
    """
    every = report_every(cfg.warmup + cfg.samples)

    def tick(index, i):
        """Tell ``progress`` that the chain ``index`` has done ``i + 1`` iterations."""
        lax.cond((i + 1) % every == 0,
                 lambda: jax.debug.callback(progress.update, index, i + 1), lambda: None)

    def potential(*data):
        return lambda params: potential_energy(model, data, {}, params)

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential, algo="NUTS")

    def chain(key, index, start, data):
        state = init_kernel(start, cfg.warmup, dense_mass=cfg.dense_mass,
                            inverse_mass_matrix=inverse_mass,
                            adapt_mass_matrix=inverse_mass is None,
                            target_accept_prob=cfg.target_accept, trajectory_length=None,
                            max_tree_depth=cfg.max_tree_depth, model_args=data, rng_key=key)
        initial_energy = state.potential_energy
        def warm(i, s):
            tick(index, i)
            return sample_kernel(s, model_args=data)

        state = lax.fori_loop(0, cfg.warmup, warm, state)

        def draw(s, i):
            tick(index, cfg.warmup + i)
            s = sample_kernel(s, model_args=data)
            return s, (s.z, s.diverging, s.num_steps, s.adapt_state.step_size,
                       s.accept_prob, s.energy, s.potential_energy)

        return initial_energy, lax.scan(draw, state, jnp.arange(cfg.samples))[1]

    devices, _ = chain_layout(cfg.chains)
    on_devices = jax.pmap(
        lambda keys, index, starts, data: lax.map(lambda kis: chain(*kis, data),
                                                  (keys, index, starts)),
        in_axes=(0, 0, 0, None), devices=jax.local_devices()[:devices])

    def run(keys, starts, data):
        def per_device(x):
            return jnp.asarray(x).reshape(devices, -1, *np.shape(x)[1:])

        keys, starts = per_device(keys), jax.tree.map(per_device, starts)
        index = jnp.arange(cfg.chains).reshape(devices, -1)
        began = time.perf_counter()
        compiled = on_devices.lower(keys, index, starts, data).compile()
        compile_seconds = time.perf_counter() - began
        progress.start()
        out = jax.tree.map(lambda x: np.asarray(x).reshape(cfg.chains, *x.shape[2:]),
                           compiled(keys, index, starts, data))
        jax.effects_barrier()  # the last progress callbacks have run
        return out, compile_seconds

    return run


CONTINUATIONS = 2
"""Chains with R-hat above :data:`homodyne.quality.R_HAT_WARNING` or a bulk or tail ESS
below :data:`homodyne.quality.ESS_MIN` go on from where they stopped, with twice the warmup
and twice the draws of the previous run (thinned to the configured number, so a shard's
posterior keeps its shape), at most this many times and only while R-hat falls or the ESS
grows: the budget is 1 + 2 + 4 = 7 times the configured iterations, spent only by a shard
that needs it and is helped by it.  Slow mixing along a curved valley or an overdispersed
chain still on its way is cured by time; a second mode or a degenerate pair is not, and
then the verdict reports R-hat after the continuations, with the diagnosis of the cause."""


def _run_nuts(shard: Shard, cfg: CMCConfig) -> tuple[np.ndarray, dict, float, int]:
    """Draws ``(chains, samples, n_sampled)`` in physical units, NUTS statistics, the
    seconds spent tracing and compiling (or loading the program from the cache), and the
    number of continuations (:data:`CONTINUATIONS`) it took.

    Raises:
        FitError: the log density is not finite at the start.
    """
    model = build_model(shard, cfg.sample_sigma)
    inverse_mass = inverse_mass_matrix(shard, cfg.sample_sigma, cfg.dense_mass)
    starts = initial_values(shard, cfg.sample_sigma, cfg.chains, shard.seed)
    data = tuple(jnp.asarray(a) for a in shard.padded_arrays())
    compile_seconds, r_hat, ess = 0.0, np.inf, 0.0
    for k in range(CONTINUATIONS + 1):
        run_cfg = replace(cfg, warmup=cfg.warmup * 2**k, samples=cfg.samples * 2**k)
        label = f"shard {shard.index}" + (f" (continuation {k})" if k else "")
        run = _sampler(model, run_cfg, inverse_mass, Progress(label, cfg.chains,
                                                              run_cfg.warmup, run_cfg.samples))
        key = jax.random.PRNGKey(shard.seed)
        keys = jax.random.split(jax.random.fold_in(key, k) if k else key, cfg.chains)
        (initial_energy, trace), seconds = run(keys, starts, data)
        compile_seconds += seconds
        if not np.all(np.isfinite(initial_energy)):
            raise FitError("the log density is not finite at the start of a chain (the NLSQ "
                           "values or an overdispersed start around them)")
        trace = jax.tree.map(lambda x, k=k: x[:, 2**k - 1::2**k], trace)
        draws = to_physical(shard, trace[0]["u"], trace[0].get("w"))
        diag, previous = chain_diagnostics(draws), (r_hat, ess)
        r_hat, ess = diag["r_hat_max"], min(diag["ess_bulk_min"], diag["ess_tail_min"])
        converged = not r_hat > R_HAT_WARNING and not ess < ESS_MIN
        helped = r_hat < previous[0] or ess > previous[1]
        if converged or not helped or k == CONTINUATIONS or shard.no_continuation:
            if not converged and shard.no_continuation:
                log.info("shard %d: R-hat %.3f, smallest ESS %.0f: not continued, the NLSQ "
                         "fit is degenerate (%s); the verdict names the remedy", shard.index,
                         r_hat, ess, shard.no_continuation)
            elif not converged and not helped:
                log.info("shard %d: R-hat %.3f, smallest ESS %.0f: not continued, the last "
                         "continuation did not improve them", shard.index, r_hat, ess)
            break
        log.info("shard %d: R-hat %.3f (limit %g), smallest ESS %.0f (limit %d) after %d "
                 "warmup + %d draws per chain: continuing with %d + %d", shard.index, r_hat,
                 R_HAT_WARNING, ess, ESS_MIN, run_cfg.warmup, run_cfg.samples,
                 2 * run_cfg.warmup, 2 * run_cfg.samples)
        starts = jax.tree.map(lambda x: np.asarray(x[:, -1]), trace[0])
    _, diverging, n_steps, step, accept, energy, pe = trace
    n_steps = n_steps.astype(np.int64)
    stats = {
        "diverging": diverging.astype(bool),
        "n_steps": n_steps,
        "tree_depth": np.ceil(np.log2(n_steps + 1)).astype(np.int64),
        "step_size": step.astype(np.float64),
        "acceptance_rate": accept.astype(np.float64),
        "energy": energy.astype(np.float64),
        "lp": -pe.astype(np.float64),
    }
    return draws, stats, compile_seconds, k


def _unusable(shard: Shard) -> str | None:
    problem = shard.problem
    if not (np.all(np.isfinite(problem.y)) and np.all(np.isfinite(problem.sigma))):
        bad = int(np.sum(~np.isfinite(problem.y)))
        return f"shard data are not finite ({bad} non-finite c2 values or a non-finite sigma)"
    return None


def prior_record(shard: Shard) -> dict:
    """``{name: {lower, upper, prior_sd, nlsq_value}}`` of the sampled parameters: what
    :func:`homodyne.quality.cmc_reasons` compares the posterior with (bounds, the whole
    untempered prior, the NLSQ value)."""
    problem = shard.problem
    return {n: {"lower": float(problem.lower[k]), "upper": float(problem.upper[k]),
                "prior_sd": float(shard.prior_scale_untempered[k]),
                "nlsq_value": float(shard.values[k])}
            for k, n in enumerate(problem.names) if problem.free[k]}


def posterior_tree(names, groups: dict, attrs: dict):
    """An ArviZ DataTree of ``groups`` with ``attrs`` on the root: ``posterior`` (draws
    ``(chain, draw, parameter)``, one variable per parameter of ``names``) when given, and
    the other groups (``sample_stats``, ``importance``) as mappings of arrays."""
    tree = {k: v for k, v in groups.items() if k != "posterior"}
    if "posterior" in groups:
        tree["posterior"] = {n: groups["posterior"][..., k] for k, n in enumerate(names)}
    return from_dict(tree, attrs={"/": attrs})


def write_tree(path: str | Path, tree) -> Path:
    """Write a DataTree as NetCDF4 atomically (temporary name in the folder, then rename)."""
    return write_atomic(path, lambda tmp: tree.to_netcdf(tmp, engine="netcdf4"))


def _importance(shard: Shard, cfg: CMCConfig) -> tuple[dict | None, dict]:
    """Importance sampling of one shard: its log likelihood at the run's proposal draws.

    Returns ``(groups, record)``: the DataTree groups to write (``importance``: the log
    likelihood of every proposal draw; with one shard also ``posterior``, the draws
    resampled by the PSIS weights) and what was found.  ``groups`` is None when one shard's
    weights fail their check under ``cmc.method: auto``: NUTS then samples the shard in this
    job (the record says why).  With several shards the weights are the combine step's
    business: only the sum of every shard's likelihood is the dataset's.
    """
    drawn = shard.proposal
    label = f"shard {shard.index}: importance sampling"
    loglik = density.shard_log_likelihood(shard, drawn["draws"], label=label)
    record = {"proposal": drawn["record"]}
    groups = {"importance": {"log_likelihood": loglik[None]}}
    if shard.n_shards > 1:
        log.info("%s: log likelihood at %d proposal draws (combined with the other shards' "
                 "by the combine step)", label, len(loglik))
        return groups, record
    target = loglik + density.shard_log_prior(shard, drawn["draws"])
    outcome = importance.reweigh(drawn["draws"], drawn["log_density"], target,
                                 shard.global_seed)
    record.update(outcome.record())
    if outcome.accepted or cfg.method == "importance":
        (log.info if outcome.accepted else log.warning)("%s: %s", label, outcome.message)
        return {**groups, "posterior": outcome.draws}, record
    record["fallback"] = f"{outcome.message}; NUTS sampled the posterior instead"
    log.warning("%s not used: %s; NUTS instead (cmc.method: auto)", label, outcome.message)
    return None, record


def sample(shard: Shard, cfg: CMCConfig, shard_file: str | Path = "") -> tuple[dict, dict]:
    """The posterior of one shard as DataTree ``(groups, root attributes)``: NUTS, or
    importance sampling when the shard step chose it (:func:`homodyne.cmc.shard.
    choose_method`), with NUTS when one shard's importance weights fail their check under
    ``cmc.method: auto``.  :func:`sample_shard` writes them; the combine step's NUTS
    fallback keeps them in memory.

    Raises:
        FitError: the shard's proposal is of other sampled quantities than ``cfg`` gives
            (shards made with another ``sample_sigma``).
    """
    names = shard.sampled_names(cfg.sample_sigma)
    began = time.perf_counter()
    error = _unusable(shard)
    compile_seconds, continuations, groups, record = 0.0, 0, None, {}
    if error is None and shard.method == "importance":
        if tuple(shard.proposal["record"]["names"]) != names:
            raise FitError(f"{shard_file}: the proposal draws are of "
                           f"{shard.proposal['record']['names']}, but these settings sample "
                           f"{list(names)}; remake the shards with the same cmc settings")
        groups, record = _importance(shard, cfg)
    if error is None and groups is None:
        try:
            draws, stats, compile_seconds, continuations = _run_nuts(shard, cfg)
            groups = {"posterior": draws, "sample_stats": stats}
        except FitError as exc:
            error = f"NUTS could not start: {exc}"
    if error is not None:
        log.warning("shard %d: %s", shard.index, error)
        groups = {"posterior": np.full((cfg.chains, cfg.samples, len(names)), np.nan),
                  "sample_stats": {"diverging": np.zeros((cfg.chains, cfg.samples), bool)}}
    method = "nuts" if "sample_stats" in groups else "importance"
    seconds = time.perf_counter() - began
    attrs = {
        "index": shard.index, "n_shards": shard.n_shards, "n_points": shard.n_points,
        "seconds": seconds, "compile_seconds": compile_seconds, "seed": shard.seed,
        "continuations": continuations,
        "mode": shard.problem.mode, "method": method, "importance": json.dumps(record),
        "chain_layout": "{} device(s) x {} chain(s)".format(*chain_layout(cfg.chains)),
        "error": error or "",
        "shard_file": str(shard_file), "homodyne_version": __version__,
        "fixed": json.dumps({n: float(v) for n, v, f in
                             zip(shard.problem.names, shard.values, shard.problem.free,
                                 strict=True) if not f}),
        "priors": json.dumps(prior_record(shard)),
    }
    if error is None and method == "nuts":
        diag = chain_diagnostics(groups["posterior"])
        log.info("shard %d: %d points, %.1f s (%.1f s compiling), r_hat_max %.3f, "
                 "ess_bulk_min %.0f, %d divergences", shard.index, shard.n_points, seconds,
                 compile_seconds, diag["r_hat_max"], diag["ess_bulk_min"],
                 int(groups["sample_stats"]["diverging"].sum()))
    elif error is None:
        log.info("shard %d: %d points, importance sampling in %.1f s", shard.index,
                 shard.n_points, seconds)
    return groups, attrs


def sample_shard(shard_file: str | Path, cfg: CMCConfig, out: str | Path, *,
                 cache_dir: str | Path | None = None) -> Path:
    """The posterior of one shard file (:func:`sample`), written to ``out`` (NetCDF4,
    atomic).

    Args:
        shard_file: a file written by :func:`homodyne.cmc.make_shards`.
        cfg: chains, warmup, samples, target accept, tree depth, mass matrix, sigma model.
        out: the posterior file to write.
        cache_dir: JAX persistent compilation cache shared by the run's shard jobs.

    Returns:
        ``out``.  Root attributes: shard ``index``, ``n_shards``, ``n_points``, ``seconds``
        (all of it), ``compile_seconds`` (tracing and compiling, or loading from the cache),
        ``seed``, ``continuations`` (:data:`CONTINUATIONS`), ``chain_layout``, ``error``
        (empty unless sampling was impossible), ``method`` (``nuts`` or ``importance``),
        ``importance`` (JSON: proposal, k̂, weights' ESS, fallback; ``{}`` for planned NUTS)
        and ``fixed`` (JSON mapping of the parameters held at their NLSQ value).

    Raises:
        SetupError: JAX runs in float32: call :func:`homodyne.runtime.configure` first.
        FitError: as :func:`sample`.
    """
    require_float64("homodyne.cmc.sample_shard")
    if cache_dir is not None:
        use_compilation_cache(cache_dir)
    shard = read_shard(shard_file)
    groups, attrs = sample(shard, cfg, shard_file)
    return write_tree(out, posterior_tree(shard.sampled_names(cfg.sample_sigma), groups,
                                          attrs))

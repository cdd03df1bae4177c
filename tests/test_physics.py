"""Physics kernels: reference values, closed forms, strategies, symmetry and gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from homodyne import params as registry
from homodyne.physics import compute_c2, compute_c2_block, compute_c2_points, folded_triangle

LAMINAR = [1.2e4, -0.4, 50.0, 2e-3, 0.3, 1e-4, 3.0]
STATIC = LAMINAR[:3]
HETERODYNE = [2e4, 0.2, 10.0, 5e3, -0.3, 5.0, 5e3, 0.4, 5.0, 0.4, 0.8, 0.05, 0.1, 8.0]
PARAMS = {"static": STATIC, "laminar_flow": LAMINAR, "heterodyne": HETERODYNE}
SETUP = {  # a time grid and q/dt on which each model decays visibly
    "static": dict(t=np.arange(30) * 0.1, q=0.01, dt=0.1),
    "laminar_flow": dict(t=np.arange(30) * 0.1, q=0.01, dt=0.1),
    "heterodyne": dict(t=np.arange(1, 31) * 1e-2, q=0.0054, dt=1e-2),
}
PHI = np.array([-30.0, 0.0, 45.0, 90.0])


def _golden_kwargs(case):
    kw = dict(q=case["q"], dt=case["dt"], contrast=case["contrast"], offset=case["offset"])
    if case.get("L") is not None:
        kw["L"] = case["L"]
    return kw


def test_golden_reference_values(golden_cases):
    """Every entry of tests/data/reference/golden_c2.json, matrix and pooled strategies."""
    assert {c["model"] for c in golden_cases} == {"static", "laminar_flow", "heterodyne"}
    for case in golden_cases:
        rtol = 1e-8 if case["model"] == "heterodyne" else 1e-10
        entries = np.array(case["entries"])
        p, i, j = entries[:, :3].astype(int).T
        kw = _golden_kwargs(case)
        matrix = np.asarray(compute_c2(case["model"], case["params"], case["t"], case["phi"], **kw))
        np.testing.assert_allclose(matrix[p, i, j], entries[:, 3], rtol=rtol, atol=0,
                                   err_msg=case["name"])
        pooled = compute_c2_points(case["model"], case["params"], case["t"], case["phi"],
                                   i, j, p, **kw)
        np.testing.assert_allclose(pooled, entries[:, 3], rtol=rtol, atol=0, err_msg=case["name"])


@pytest.mark.parametrize("mode", ["static", "laminar_flow", "heterodyne"])
def test_matrix_and_pooled_agree(mode):
    s = SETUP[mode]
    contrast = np.array([0.3, 0.35, 0.4, 0.45])
    offset = np.array([1.0, 1.01, 0.99, 1.02])
    matrix = np.asarray(compute_c2(mode, PARAMS[mode], s["t"], PHI, q=s["q"], dt=s["dt"],
                                   contrast=contrast, offset=offset))
    rng = np.random.default_rng(0)
    n = len(s["t"])
    i, j, p = rng.integers(0, n, 500), rng.integers(0, n, 500), rng.integers(0, len(PHI), 500)
    pooled = np.asarray(compute_c2_points(mode, PARAMS[mode], s["t"], PHI, i, j, p, q=s["q"],
                                          dt=s["dt"], contrast=contrast, offset=offset))
    np.testing.assert_allclose(pooled, matrix[p, i, j], rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", ["static", "laminar_flow", "heterodyne"])
def test_symmetric_finite_and_decaying(mode):
    s = SETUP[mode]
    c2 = np.asarray(compute_c2(mode, PARAMS[mode], s["t"], PHI, q=s["q"], dt=s["dt"]))
    assert c2.shape == (len(PHI), len(s["t"]), len(s["t"]))
    assert c2.dtype == np.float64
    assert np.all(np.isfinite(c2))
    # Symmetric up to the last bit of vectorised arithmetic.
    np.testing.assert_allclose(c2, np.swapaxes(c2, 1, 2), rtol=0, atol=5e-16)
    # The diagonal is the largest value of its row: correlation is lost with lag.
    assert np.all(c2[:, 5, 5][:, None] >= c2[:, 5, 6:])


def test_per_angle_contrast_and_offset_apply_per_angle():
    s = SETUP["laminar_flow"]
    base = np.asarray(compute_c2("laminar_flow", LAMINAR, s["t"], PHI, q=s["q"], dt=s["dt"],
                                 contrast=1.0, offset=0.0))
    contrast = np.array([0.1, 0.2, 0.3, 0.4])
    offset = np.array([1.0, 1.1, 1.2, 1.3])
    scaled = np.asarray(compute_c2("laminar_flow", LAMINAR, s["t"], PHI, q=s["q"], dt=s["dt"],
                                   contrast=contrast, offset=offset))
    np.testing.assert_allclose(scaled, offset[:, None, None] + contrast[:, None, None] * base,
                               rtol=1e-14)


def test_constant_diffusion_closed_form():
    """alpha = 0, D_offset = 0: g2 = offset + contrast exp(-q² dt D |i-j|)."""
    t = np.arange(40) * 0.05
    q, dt, D, contrast, offset = 0.02, 0.05, 3.0e3, 0.3, 1.02
    c2 = np.asarray(compute_c2("static", [D, 0.0, 0.0], t, [0.0], q=q, dt=dt,
                               contrast=contrast, offset=offset))[0]
    lag = np.abs(np.subtract.outer(np.arange(40), np.arange(40)))
    smoothed = np.sqrt((D * lag) ** 2 + 1e-12)  # the documented smoothing of |c_i - c_j|
    np.testing.assert_allclose(c2, offset + contrast * np.exp(-q**2 * dt * smoothed), rtol=1e-13)
    # Off the diagonal the smoothing is invisible; on it, it costs contrast·q²·dt·1e-6.
    exact = offset + contrast * np.exp(-q**2 * dt * D * lag)
    off = lag > 0
    np.testing.assert_allclose(c2[off], exact[off], rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.diag(c2), offset + contrast * np.exp(-q**2 * dt * 1e-6),
                               rtol=1e-15)


def test_static_equals_laminar_perpendicular_to_flow():
    s = SETUP["laminar_flow"]
    phi0 = LAMINAR[6]
    perpendicular = [phi0 + 90.0, phi0 - 90.0]
    lam = compute_c2("laminar_flow", LAMINAR, s["t"], perpendicular, q=s["q"], dt=s["dt"])
    sta = compute_c2("static", STATIC, s["t"], perpendicular, q=s["q"], dt=s["dt"])
    np.testing.assert_allclose(lam, sta, rtol=1e-14)
    along = compute_c2("laminar_flow", LAMINAR, s["t"], [phi0], q=s["q"], dt=s["dt"])
    assert np.max(np.abs(np.asarray(along) - np.asarray(sta)[:1])) > 1e-3  # shear matters


def _reference_heterodyne(p, t, phi, q, dt, contrast, offset):
    """The heterodyne 2.0 formula written out in numpy, with its ``cos(phi + phi0)``."""
    t = np.asarray(t)

    def tp(a):
        return np.where(t > 0, np.maximum(t, 1e-10) ** a, 0.0)

    def integral(f):
        return dt * np.concatenate([[0.0], np.cumsum((f[:-1] + f[1:]) / 2)])

    cr = integral(np.maximum(p[0] * tp(p[1]) + p[2], 0.0))
    cs = integral(np.maximum(p[3] * tp(p[4]) + p[5], 0.0))
    cv = integral(p[6] * tp(p[7]) + p[8])
    fs = np.clip(p[9] * np.exp(np.clip(p[10] * (t - p[11]), -100, 100)) + p[12], 0, 1)
    fr = 1 - fs

    def pair(c):
        return np.sqrt(np.subtract.outer(c, c) ** 2 + 1e-12)

    hr = np.exp(np.clip(-0.5 * q**2 * pair(cr), -700, 0))
    hs = np.exp(np.clip(-0.5 * q**2 * pair(cs), -700, 0))
    v = np.subtract.outer(cv, cv)
    out = []
    for angle in phi:
        ref = np.outer(fr, fr) ** 2 * hr**2
        sam = np.outer(fs, fs) ** 2 * hs**2
        cross = 2 * np.outer(fr * fs, fr * fs) * hr * hs * np.cos(
            q * np.cos(np.radians(angle + p[13])) * v)
        norm = np.maximum(np.outer(fs**2 + fr**2, fs**2 + fr**2), 1e-10)
        out.append(offset + contrast * (ref + sam + cross) / norm)
    return np.array(out)


def test_heterodyne_phi0_is_minus_the_reference_convention():
    s = SETUP["heterodyne"]
    ours = np.asarray(compute_c2("heterodyne", HETERODYNE, s["t"], PHI, q=s["q"], dt=s["dt"],
                                 contrast=0.4, offset=1.0))
    theirs_params = list(HETERODYNE)
    theirs_params[13] = -HETERODYNE[13]
    theirs = _reference_heterodyne(theirs_params, s["t"], PHI, s["q"], s["dt"], 0.4, 1.0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    same_sign = _reference_heterodyne(HETERODYNE, s["t"], PHI, s["q"], s["dt"], 0.4, 1.0)
    assert np.max(np.abs(ours - same_sign)) > 1e-4  # the convention is observable


def _scaled_c2(mode, base, t, q, dt, phi):
    """c2 as a function of relative parameter changes, so every parameter is O(1)."""
    base = jnp.asarray(base)

    def f(x):
        return compute_c2(mode, base * (1.0 + x), t, phi, q=q, dt=dt, contrast=0.4, offset=1.0)

    return f


@pytest.mark.parametrize("mode", ["static", "laminar_flow", "heterodyne"])
def test_gradients_match_finite_differences(mode):
    s = SETUP[mode]
    t = s["t"][:12]
    f = _scaled_c2(mode, PARAMS[mode], t, s["q"], s["dt"], PHI)
    x0 = jnp.full(len(PARAMS[mode]), 0.01)
    check_grads(f, (x0,), order=1, modes=("fwd", "rev"), eps=1e-6, atol=1e-6, rtol=1e-6)


EDGE_CASES = {
    "t=0 and alpha<0": ("laminar_flow", [1e4, -1.5, 10.0, 1e-2, -0.5, 0.0, 0.0], [0.0]),
    "shear rate at floor": ("laminar_flow", [1e4, 0.5, 10.0, 1e-6, 0.0, -0.1, 0.0], [0.0]),
    "phi - phi0 = 90": ("laminar_flow", [1e4, 0.5, 10.0, 1e-2, 0.0, 0.0, 2.0], [92.0]),
    "heterodyne t=0, alpha<0": ("heterodyne", [1e4, -1.5, 0, 1e4, -0.5, 0, 1e3, -0.5, 0, 0.5,
                                               0, 0, 0, 0], [0.0, 90.0]),
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_gradients_finite_at_edges(case):
    mode, p, phi = EDGE_CASES[case]
    t = np.arange(20) * 0.01  # starts at t = 0

    def loss(theta):
        return jnp.sum(compute_c2(mode, theta, t, phi, q=0.01, dt=0.01))

    grad = np.asarray(jax.grad(loss)(jnp.asarray(p, dtype=jnp.float64)))
    assert np.all(np.isfinite(grad)), grad
    assert np.any(grad != 0)


def test_pooled_gradient_matches_matrix_gradient():
    s = SETUP["laminar_flow"]
    n = len(s["t"])
    i, j = np.triu_indices(n, k=1)
    p = np.zeros_like(i)

    def via_matrix(theta):
        return jnp.sum(compute_c2("laminar_flow", theta, s["t"], [10.0], q=s["q"],
                                  dt=s["dt"])[0][i, j])

    def via_points(theta):
        return jnp.sum(compute_c2_points("laminar_flow", theta, s["t"], [10.0], i, j, p,
                                         q=s["q"], dt=s["dt"]))

    theta = jnp.asarray(LAMINAR)
    np.testing.assert_allclose(jax.grad(via_points)(theta), jax.grad(via_matrix)(theta),
                               rtol=1e-10)


def test_jit_traceable_inside_user_code():
    s = SETUP["static"]

    @jax.jit
    def total(theta):
        return jnp.sum(compute_c2("static", theta, s["t"], [0.0], q=s["q"], dt=s["dt"]))

    expected = np.sum(np.asarray(compute_c2("static", STATIC, s["t"], [0.0], q=s["q"],
                                            dt=s["dt"])))
    np.testing.assert_allclose(total(jnp.asarray(STATIC)), expected, rtol=1e-14)


def test_wrong_parameter_count_is_a_clear_error():
    with pytest.raises(ValueError, match=r"'laminar_flow' takes 7 parameters"):
        compute_c2("laminar_flow", STATIC, np.arange(5.0), [0.0], q=0.01, dt=0.1)


@pytest.mark.parametrize("mode", ["static", "heterodyne"])
def test_D_is_twice_the_stokes_einstein_diffusion_coefficient(mode):
    """docs/physics.md, "D and the textbook diffusion coefficient": for stationary Brownian
    motion (alpha = 0, no offset, one component), g1 = exp(-q^2 D tau / 2), which is the
    textbook g1 = exp(-q^2 D_SE tau) with D_SE = D / 2."""
    D, q, dt = 6.0e4, 0.004, 0.05
    t = np.arange(1, 41) * dt  # from dt: the heterodyne power term is 0 at t = 0
    if mode == "static":
        p = [D, 0.0, 0.0]
    else:  # the sample component alone: fs = f0 = 1 at all times, J_s = D0_sample
        p = [1e3, 0.0, 0.0, D, 0.0, 0.0, 1e3, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    g1_squared = np.asarray(compute_c2(mode, p, t, [0.0], q=q, dt=dt, contrast=1.0,
                                       offset=0.0))[0]
    d_se = D / 2
    tau = np.abs(t[:, None] - t[None, :])
    textbook_g1 = np.exp(-q**2 * d_se * tau)
    i, j = np.triu_indices(t.size, 1)
    np.testing.assert_allclose(g1_squared[i, j], textbook_g1[i, j] ** 2, rtol=1e-9)
    assert textbook_g1[0, -1] < 0.5  # the test spans a visible decay


def test_alias_mode_accepted():
    s = SETUP["static"]
    np.testing.assert_array_equal(
        compute_c2("static_isotropic", STATIC, s["t"], [0.0], q=s["q"], dt=s["dt"]),
        compute_c2("static", STATIC, s["t"], [0.0], q=s["q"], dt=s["dt"]),
    )
    assert registry.canonical_mode("static_anisotropic") == "static"


@pytest.mark.parametrize("n_frames", [2, 3, 8, 9])
def test_folded_triangle_holds_every_upper_pair_once(n_frames):
    ia, ja, mask = folded_triangle(n_frames)
    assert ia.shape == ja.shape == mask.shape == (n_frames // 2, n_frames)
    pairs = list(zip(ia[mask].tolist(), ja[mask].tolist(), strict=True))
    assert sorted(pairs) == sorted(zip(*np.triu_indices(n_frames, k=1), strict=True))


@pytest.mark.parametrize("mode", ["static", "laminar_flow", "heterodyne"])
def test_dense_block_and_pooled_log_likelihood_and_gradient_agree(mode):
    """The Gaussian log likelihood over every upper pair of every angle, evaluated as one
    dense block per angle and as pooled points: values and gradients (in the physical and
    the scaling parameters) agree to 1e-12."""
    s = SETUP[mode]
    n = len(s["t"])
    ia, ja, mask = folded_triangle(n)
    rng = np.random.default_rng(1)
    contrast = np.array([0.3, 0.35, 0.4, 0.45])
    offset = np.array([1.0, 1.01, 0.99, 1.02])
    y = np.asarray(compute_c2(mode, PARAMS[mode], s["t"], PHI, q=s["q"], dt=s["dt"],
                              contrast=contrast, offset=offset))
    y = y + rng.normal(0.0, 0.01, y.shape)
    sigma = np.array([0.01, 0.012, 0.009, 0.011])
    i_pair, j_pair = ia[mask], ja[mask]
    p = np.repeat(np.arange(len(PHI)), len(i_pair))
    i, j = np.tile(i_pair, len(PHI)), np.tile(j_pair, len(PHI))

    def dense(theta, c, o):
        model = compute_c2_block(mode, theta, s["t"], PHI, ia, ja, q=s["q"], dt=s["dt"],
                                 contrast=c, offset=o)
        r = (y[:, ia, ja] - model) / sigma[:, None, None]
        return -0.5 * jnp.sum(jnp.where(mask[None], r * r, 0.0))

    def pooled(theta, c, o):
        model = compute_c2_points(mode, theta, s["t"], PHI, i, j, p, q=s["q"], dt=s["dt"],
                                  contrast=c, offset=o)
        r = (y[p, i, j] - model) / sigma[p]
        return -0.5 * jnp.sum(r * r)

    args = (jnp.asarray(PARAMS[mode]), jnp.asarray(contrast), jnp.asarray(offset))
    np.testing.assert_allclose(dense(*args), pooled(*args), rtol=1e-12)
    for g_dense, g_pooled in zip(jax.grad(dense, argnums=(0, 1, 2))(*args),
                                 jax.grad(pooled, argnums=(0, 1, 2))(*args), strict=True):
        np.testing.assert_allclose(g_dense, g_pooled, rtol=1e-12, atol=1e-12 * float(
            np.max(np.abs(g_pooled))))


@pytest.mark.parametrize("mode", ["laminar_flow", "heterodyne"])
def test_kernels_read_parameters_by_name_not_position(mode, monkeypatch):
    """The registry's order only lays out the vector: with the order reversed and the
    vector reversed with it, every strategy gives the same c2 (a kernel indexing positions
    would read, say, D0 where beta is)."""
    s = SETUP[mode]
    ia, ja, _ = folded_triangle(len(s["t"]))
    kw = dict(q=s["q"], dt=s["dt"])
    before = (compute_c2(mode, PARAMS[mode], s["t"], PHI, **kw),
              compute_c2_block(mode, PARAMS[mode], s["t"], PHI, ia, ja, **kw),
              compute_c2_points(mode, PARAMS[mode], s["t"], PHI, [0, 3], [5, 20], [1, 3], **kw))
    reordered = dict(registry.MODES)
    reordered[mode] = registry.MODES[mode][::-1]
    monkeypatch.setattr(registry, "MODES", reordered)
    vector = PARAMS[mode][::-1]
    with jax.disable_jit():  # trace again under the new order (no cached program)
        after = (compute_c2(mode, vector, s["t"], PHI, **kw),
                 compute_c2_block(mode, vector, s["t"], PHI, ia, ja, **kw),
                 compute_c2_points(mode, vector, s["t"], PHI, [0, 3], [5, 20], [1, 3], **kw))
    for old, new in zip(before, after, strict=True):
        np.testing.assert_allclose(np.asarray(new), np.asarray(old), rtol=1e-13)


def test_named_parameters_follow_the_registry():
    p = registry.named("static", [1e4, -0.5, 3.0])
    assert p == {"D0": 1e4, "alpha": -0.5, "D_offset": 3.0}
    with pytest.raises(ValueError, match="takes 3 parameters"):
        registry.named("static", [1e4, -0.5])


def _where_floor(x, lowest):
    return jnp.where(x > lowest, x, lowest)


def _where_clamp(x, lo, hi):
    return jnp.where(x < lo, lo, jnp.where(x > hi, hi, x))


def _where_sinc(x):
    small = jnp.abs(x) < 1e-4
    safe = jnp.where(small, 1.0, x)
    x2 = x * x
    return jnp.where(small, 1.0 - x2 / 6.0 + x2 * x2 / 120.0, jnp.sin(safe) / safe)


@pytest.mark.parametrize("name", ["floor", "clamp", "sinc"])
def test_primitives_are_bit_identical_to_their_select_forms(name):
    """The floors, the clamp and sinc's small-argument branch are written without a select
    of computed values (which the CPU compiler turns into a branch per element, 3-4x slower
    forward passes); values and gradients must equal the select forms they replace bit for
    bit, on both sides of every threshold and at it."""
    from homodyne.physics import primitives as P

    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-3e-4, 3e-4, 4000), rng.uniform(-50, 50, 4000),
                        rng.uniform(-800, 10, 2000), [0.0, 1e-4, -1e-4, 1e-10, -700.0, 1.0]])
    x = jnp.asarray(x)
    new, old = {
        "floor": (lambda v: P.floor(v, 1e-10), lambda v: _where_floor(v, 1e-10)),
        "clamp": (lambda v: P.clamp(v, -700.0, 0.0), lambda v: _where_clamp(v, -700.0, 0.0)),
        "sinc": (P.sinc_unnormalised, _where_sinc)}[name]
    assert np.array_equal(np.asarray(new(x)), np.asarray(old(x)))
    at = x[np.asarray(x) != {"floor": 1e-10, "clamp": 0.0, "sinc": np.inf}[name]]
    at = at[np.asarray(at) != -700.0] if name == "clamp" else at  # ties: either gradient
    grad_new = jax.vmap(jax.grad(new))(at)
    grad_old = jax.vmap(jax.grad(old))(at)
    assert np.array_equal(np.asarray(grad_new), np.asarray(grad_old))

"""Record reference outputs of ngc-learn 3.2.3 components into ngclearn_component_vectors.npz.

Provenance only: the test suite does NOT run this script, and ngc-learn / JAX are not
dependencies of ngc-optim. To re-run it, use a scratch virtual environment outside the
repository (ngc-learn 3.2.3 needs Python >= 3.12):

    python3.12 -m venv /work/ngclearn-venv
    /work/ngclearn-venv/bin/pip install ngclearn==3.2.3      # pulls jax, ngcsimlib 3.x
    JAX_PLATFORMS=cpu /work/ngclearn-venv/bin/python tests/data/record_ngclearn_components.py

It writes tests/data/ngclearn_component_vectors.npz next to itself (float32, JAX defaults,
x64 disabled). Every input is drawn from numpy.random.default_rng with a fixed seed and
stored in the file, so tests never need to regenerate them. tests/data/README.md describes
the layout of the keys.

Components are driven the way ngc-learn's own tests drive them: build them in a fresh
ngcsimlib Context, wrap the methods in MethodProcess objects, `.set(...)` the input
compartments, then `.run(...)` the compiled process and `.get()` the compartments.
"""

import json
import os
import sys
import zlib
from importlib.metadata import version
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import jax.numpy as jnp
import numpy as np
from ngclearn import Context, MethodProcess
from ngclearn.components import (
    BernoulliErrorCell,
    DenseSynapse,
    GaussianErrorCell,
    HebbianSynapse,
    LaplacianErrorCell,
    RateCell,
)
from ngclearn.utils.distribution_generator import DistributionGenerator

OUT = Path(__file__).resolve().parent / "ngclearn_component_vectors.npz"
F32 = np.float32

arrays = {}
cases = {}
_ctx_counter = [0]


def fresh_context(tag):
    """ngcsimlib context names are global: Context(name) with an existing name returns it."""
    _ctx_counter[0] += 1
    return Context(f"rec{_ctx_counter[0]}_{tag.replace('/', '_')}")


def rng_for(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


def put(key, value):
    value = np.asarray(value)
    if value.dtype == np.float64:
        raise AssertionError(f"{key}: unexpected float64 from ngc-learn")
    if key in arrays:
        raise AssertionError(f"duplicate key {key}")
    arrays[key] = value


def get(comp):
    return np.asarray(comp.get())


def to_json(obj):
    """kwargs as JSON: tuples become lists; arrays are referenced by npz key."""
    if isinstance(obj, (tuple, list)):
        return [to_json(o) for o in obj]
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items()}
    return obj


# ------------------------------------------------------------------------------------------
# 1. HebbianSynapse: advance_state, calc_update, evolve
# ------------------------------------------------------------------------------------------
H_SHAPE, H_BATCH, H_STEPS, H_ETA, H_DT = (6, 4), 3, 5, 0.05, 1.0

# name -> (kwargs passed to HebbianSynapse besides name/shape/batch_size/weight_init/bias_init,
#          has_bias, W0 range, notes)
HEBBIAN_CASES = {
    # optimizers, default prior ("constant", 0.), no bound, sign 1
    "sgd": {"kw": {"eta": H_ETA, "optim_type": "sgd", "w_bound": 0., "sign_value": 1.}},
    "nag": {"kw": {"eta": H_ETA, "optim_type": "nag", "w_bound": 0., "sign_value": 1.}},
    "adam": {"kw": {"eta": H_ETA, "optim_type": "adam", "w_bound": 0., "sign_value": 1.}},
    # descent form, as the predictive-coding models use it
    "sgd_sign_neg": {"kw": {"eta": H_ETA, "optim_type": "sgd", "w_bound": 0., "sign_value": -1.}},
    "nag_sign_neg": {"kw": {"eta": H_ETA, "optim_type": "nag", "w_bound": 0., "sign_value": -1.}},
    "adam_sign_neg": {"kw": {"eta": H_ETA, "optim_type": "adam", "w_bound": 0., "sign_value": -1.}},
    # every constructor default except eta (note: default w_bound is 1.0, optim_type "sgd")
    "defaults": {"kw": {"eta": H_ETA}, "w0": (-0.9, 0.9),
                     "notes": "only eta given: w_bound=1.0 (soft bound + clip to [-1, 1]), sgd, sign 1"},
    # priors (every accepted spelling); sign -1 so that the prior actually decays W
    "prior_l1": {"kw": {"eta": H_ETA, "w_bound": 0., "sign_value": -1., "prior": ("l1", 0.1)}},
    "prior_lasso": {"kw": {"eta": H_ETA, "w_bound": 0., "sign_value": -1., "prior": ("lasso", 0.1)}},
    "prior_laplacian": {"kw": {"eta": H_ETA, "w_bound": 0., "sign_value": -1., "prior": ("laplacian", 0.1)},
                            "notes": "'laplacian' is renamed to 'lasso' in __init__"},
    "prior_l2": {"kw": {"eta": H_ETA, "w_bound": 0., "sign_value": -1., "prior": ("l2", 0.1)}},
    "prior_ridge": {"kw": {"eta": H_ETA, "w_bound": 0., "sign_value": -1., "prior": ("ridge", 0.1)}},
    "prior_gaussian": {"kw": {"eta": H_ETA, "w_bound": 0., "sign_value": -1., "prior": ("gaussian", 0.1)},
                           "notes": "'gaussian' is renamed to 'ridge' in __init__"},
    "prior_l1l2": {"kw": {"eta": H_ETA, "w_bound": 0., "sign_value": -1., "prior": ("l1l2", (0.1, 0.3))}},
    "prior_elastic_net": {"kw": {"eta": H_ETA, "w_bound": 0., "sign_value": -1.,
                                      "prior": ("elastic_net", (0.1, 0.3))}},
    "prior_l2_sign_pos": {"kw": {"eta": H_ETA, "w_bound": 0., "sign_value": 1., "prior": ("l2", 0.1)},
                              "notes": "sign 1: the prior term is flipped with the rest, so W grows"},
    "prior_l1l2_adam": {"kw": {"eta": H_ETA, "optim_type": "adam", "w_bound": 0., "sign_value": -1.,
                                    "prior": ("elastic_net", (0.1, 0.3))}},
    "prior_Gaussian_capitalised": {"kw": {"eta": H_ETA, "w_bound": 0., "sign_value": -1., "prior": ("Gaussian", 0.1)},
                                       "notes": "rename is case-insensitive: acts as ridge"},
    "prior_L2_uppercase": {"kw": {"eta": H_ETA, "w_bound": 0., "sign_value": -1., "prior": ("L2", 0.1)},
                               "notes": "_calc_update compares case-sensitively: 'L2' applies NO prior"},
    "prior_none": {"kw": {"eta": H_ETA, "w_bound": 0., "sign_value": -1., "prior": (None, 0.1)},
                       "notes": "prior type None becomes 'constant': no prior term"},
    # soft bound + clipping
    "wbound": {"kw": {"eta": H_ETA, "w_bound": 0.5, "is_nonnegative": False, "sign_value": -1.}, "w0": (-0.6, 0.6),
                   "notes": "W0 partly outside [-0.5, 0.5]: soft-bound factor negative there, then clipped"},
    "wbound_nonneg": {"kw": {"eta": H_ETA, "w_bound": 0.5, "is_nonnegative": True, "sign_value": -1.}, "w0": (-0.6, 0.6),
                          "notes": "clipped to [0, w_bound]"},
    "wbound_nonneg_adam_l2": {"kw": {"eta": H_ETA, "optim_type": "adam", "w_bound": 0.5, "is_nonnegative": True,
                                          "sign_value": -1., "prior": ("l2", 0.1)}, "w0": (-0.6, 0.6)},
    "nonneg_no_bound": {"kw": {"eta": H_ETA, "w_bound": 0., "is_nonnegative": True, "sign_value": -1.},
                            "notes": "is_nonnegative has no effect when w_bound == 0"},
    # pre/post weighting
    "pre_post_wght": {"kw": {"eta": H_ETA, "w_bound": 0., "sign_value": -1., "pre_wght": 0.5, "post_wght": 2.0}},
    "pre_post_wght_nag_l1": {"kw": {"eta": H_ETA, "optim_type": "nag", "w_bound": 0., "sign_value": -1.,
                                         "pre_wght": 1.5, "post_wght": 0.25, "prior": ("l1", 0.05)}},
    # no biases (bias_init=None): biases compartment is the python float 0.0, opt covers W only
    "nobias_sgd": {"kw": {"eta": H_ETA, "optim_type": "sgd", "w_bound": 0., "sign_value": -1.}, "bias": False},
    "nobias_nag": {"kw": {"eta": H_ETA, "optim_type": "nag", "w_bound": 0., "sign_value": -1.}, "bias": False},
    "nobias_adam": {"kw": {"eta": H_ETA, "optim_type": "adam", "w_bound": 0., "sign_value": -1.}, "bias": False},
    # conduction factor in advance_state (and the deprecated alias resist_scale)
    "g_conduct": {"kw": {"eta": H_ETA, "w_bound": 0., "sign_value": -1., "g_conduct_factor": 0.7}},
    "resist_scale_alias": {"kw": {"eta": H_ETA, "w_bound": 0., "sign_value": -1., "resist_scale": 1.3},
                               "notes": "deprecated alias, rebound to g_conduct_factor"},
    # multiplicative mask (DenseSynapse kwarg, passed through **kwargs)
    "mask": {"kw": {"eta": H_ETA, "w_bound": 0., "sign_value": -1.}, "mask": True,
                 "notes": "mask (6x4, 0/1) multiplies W in advance_state and after every evolve; "
                       "W0 itself is stored unmasked"},
}


def hebbian_case(name, spec):
    prefix = f"hebbian/{name}"
    rng = rng_for(prefix)
    has_bias = spec.get("bias", True)
    lo, hi = spec.get("w0", (-1.0, 1.0))
    W0 = rng.uniform(lo, hi, size=H_SHAPE).astype(F32)
    b0 = rng.uniform(-0.5, 0.5, size=(1, H_SHAPE[1])).astype(F32)
    pre = rng.standard_normal((H_STEPS, H_BATCH, H_SHAPE[0])).astype(F32)
    post = rng.standard_normal((H_STEPS, H_BATCH, H_SHAPE[1])).astype(F32)
    x = rng.standard_normal((H_STEPS, H_BATCH, H_SHAPE[0])).astype(F32)
    kwargs = dict(spec["kw"])
    extra = {}
    if spec.get("mask"):
        mask = (rng.uniform(size=H_SHAPE) < 0.7).astype(F32)
        extra["mask"] = jnp.asarray(mask)
        put(f"{prefix}/mask", mask)

    with fresh_context(prefix):
        syn = HebbianSynapse(
            name="syn", shape=H_SHAPE, batch_size=H_BATCH,
            weight_init=DistributionGenerator.uniform(-1.0, 1.0),
            bias_init=DistributionGenerator.constant(0.0) if has_bias else None,
            key=jax.random.PRNGKey(0), **kwargs, **extra,
        )
        advance = MethodProcess("advance") >> syn.advance_state
        calc = MethodProcess("calc") >> syn.calc_update
        evolve = MethodProcess("evolve") >> syn.evolve
        reset = MethodProcess("reset") >> syn.reset

    reset.run()
    syn.weights.set(jnp.asarray(W0))
    if has_bias:
        syn.biases.set(jnp.asarray(b0))
    put(f"{prefix}/W0", W0)
    if has_bias:
        put(f"{prefix}/b0", b0)
    else:
        # bias_init=None: biases is the float 0.0, stored by the Compartment as a 0-d float32 array
        assert np.asarray(syn.biases.get()).shape == () and float(syn.biases.get()) == 0.0

    clipped = 0
    for t in range(H_STEPS):
        syn.inputs.set(jnp.asarray(x[t]))
        syn.pre.set(jnp.asarray(pre[t]))
        syn.post.set(jnp.asarray(post[t]))
        put(f"{prefix}/x/{t}", x[t])
        put(f"{prefix}/pre/{t}", pre[t])
        put(f"{prefix}/post/{t}", post[t])
        advance.run(t=float(t), dt=H_DT)
        put(f"{prefix}/out/{t}", get(syn.outputs))
        calc.run(t=float(t), dt=H_DT)
        put(f"{prefix}/calc_dW/{t}", get(syn.dWeights))
        put(f"{prefix}/calc_db/{t}", get(syn.dBiases))
        evolve.run(t=float(t), dt=H_DT)
        put(f"{prefix}/W/{t}", get(syn.weights))
        if has_bias:
            put(f"{prefix}/b/{t}", get(syn.biases))
        else:  # evolve leaves the scalar 0.0 bias untouched
            assert get(syn.biases).shape == () and float(get(syn.biases)) == 0.0
        put(f"{prefix}/dW/{t}", get(syn.dWeights))
        put(f"{prefix}/db/{t}", get(syn.dBiases))
        np.testing.assert_array_equal(arrays[f"{prefix}/dW/{t}"], arrays[f"{prefix}/calc_dW/{t}"])
        w_bound = kwargs.get("w_bound", 1.0)
        if w_bound > 0:  # how often the clip is exercised: entries sitting exactly on a clip boundary
            Wt = get(syn.weights)
            lower = 0.0 if kwargs.get("is_nonnegative", False) else -w_bound
            clipped += int(np.sum(Wt == F32(w_bound)) + np.sum(Wt == F32(lower)))

    opt = syn.opt_params.get()
    optim_type = kwargs.get("optim_type", "sgd")
    pnames = ["W", "b"] if has_bias else ["W"]
    if optim_type == "sgd":
        put(f"{prefix}/state/time_step", np.asarray(opt))
    elif optim_type == "nag":
        phi, ts = opt
        for p, v in zip(pnames, phi):
            put(f"{prefix}/state/phi_{p}", np.asarray(v))
        put(f"{prefix}/state/time_step", np.asarray(ts))
    else:
        g1, g2, ts = opt
        for p, v in zip(pnames, g1):
            put(f"{prefix}/state/g1_{p}", np.asarray(v))
        for p, v in zip(pnames, g2):
            put(f"{prefix}/state/g2_{p}", np.asarray(v))
        put(f"{prefix}/state/time_step", np.asarray(ts))

    meta_kwargs = dict(shape=list(H_SHAPE), batch_size=H_BATCH, **kwargs)
    meta_kwargs["weight_init"] = "overwritten: weights.set(W0)"
    meta_kwargs["bias_init"] = "DistributionGenerator.constant(0.0), then biases.set(b0)" if has_bias else None
    if spec.get("mask"):
        meta_kwargs["mask"] = f"array at {prefix}/mask"
    cases[prefix] = {
        "component": "HebbianSynapse",
        "kwargs": to_json(meta_kwargs),
        "steps": H_STEPS,
        "dt": H_DT,
        "has_bias": has_bias,
        "per_step": "inputs<-x/t, pre<-pre/t, post<-post/t; advance_state -> out/t; calc_update -> "
                    "calc_dW/t, calc_db/t; evolve(dt) -> W/t, b/t, dW/t, db/t",
        "notes": spec.get("notes", ""),
        "entries_on_clip_boundary_summed_over_steps": clipped if kwargs.get("w_bound", 1.0) > 0 else None,
    }


# ------------------------------------------------------------------------------------------
# 2. DenseSynapse.advance_state
# ------------------------------------------------------------------------------------------
D_SHAPE, D_BATCH, D_STEPS = (5, 3), 4, 3
DENSE_CASES = {
    "bias_g": {"kw": {"g_conduct_factor": 0.7}, "bias": True},
    "bias_resist_scale_alias": {"kw": {"resist_scale": 2.5}, "bias": True,
                                    "notes": "deprecated alias of g_conduct_factor"},
    "nobias_g": {"kw": {"g_conduct_factor": 1.5}, "bias": False},
    "gate_mask": {"kw": {"g_conduct_factor": 0.7}, "bias": True, "gate": True, "mask": True,
                      "notes": "gate (batch x out) set every step; mask (in x out) multiplies W"},
}


def dense_case(name, spec):
    prefix = f"dense/{name}"
    rng = rng_for(prefix)
    W0 = rng.uniform(-1, 1, size=D_SHAPE).astype(F32)
    b0 = rng.uniform(-0.5, 0.5, size=(1, D_SHAPE[1])).astype(F32)
    x = rng.standard_normal((D_STEPS, D_BATCH, D_SHAPE[0])).astype(F32)
    gates = rng.uniform(0.0, 2.0, size=(D_STEPS, D_BATCH, D_SHAPE[1])).astype(F32)
    extra = {}
    if spec.get("mask"):
        mask = (rng.uniform(size=D_SHAPE) < 0.6).astype(F32)
        extra["mask"] = jnp.asarray(mask)
        put(f"{prefix}/mask", mask)
    with fresh_context(prefix):
        syn = DenseSynapse(
            name="syn", shape=D_SHAPE, batch_size=D_BATCH,
            weight_init=DistributionGenerator.uniform(-1.0, 1.0),
            bias_init=DistributionGenerator.constant(0.0) if spec["bias"] else None,
            key=jax.random.PRNGKey(0), **spec["kw"], **extra,
        )
        advance = MethodProcess("advance") >> syn.advance_state
        reset = MethodProcess("reset") >> syn.reset
    reset.run()
    syn.weights.set(jnp.asarray(W0))
    put(f"{prefix}/W0", W0)
    if spec["bias"]:
        syn.biases.set(jnp.asarray(b0))
        put(f"{prefix}/b0", b0)
    for t in range(D_STEPS):
        syn.inputs.set(jnp.asarray(x[t]))
        put(f"{prefix}/x/{t}", x[t])
        if spec.get("gate"):
            syn.gate.set(jnp.asarray(gates[t]))
            put(f"{prefix}/gate/{t}", gates[t])
        advance.run(t=float(t), dt=1.0)
        put(f"{prefix}/out/{t}", get(syn.outputs))
    meta_kwargs = dict(shape=list(D_SHAPE), batch_size=D_BATCH, **spec["kw"])
    meta_kwargs["weight_init"] = "overwritten: weights.set(W0)"
    meta_kwargs["bias_init"] = "DistributionGenerator.constant(0.0), then biases.set(b0)" if spec["bias"] else None
    if spec.get("mask"):
        meta_kwargs["mask"] = f"array at {prefix}/mask"
    cases[prefix] = {
        "component": "DenseSynapse", "kwargs": to_json(meta_kwargs), "steps": D_STEPS, "dt": 1.0,
        "has_bias": spec["bias"],
        "per_step": "inputs<-x/t (gate<-gate/t if stored); advance_state -> out/t",
        "notes": spec.get("notes", ""),
    }


# ------------------------------------------------------------------------------------------
# 3. RateCell.advance_state
# ------------------------------------------------------------------------------------------
R_UNITS, R_BATCH, R_STEPS = 5, 2, 10
RATE_CASES = {}
for fx in ["identity", "sigmoid", "tanh", "relu", "lrelu", "softplus"]:
    RATE_CASES[f"euler_{fx}"] = {"kw": {"tau_m": 10., "act_fx": fx, "integration_type": "euler"}}
for fx in ["identity", "tanh", "softplus"]:
    RATE_CASES[f"midpoint_{fx}"] = {"kw": {"tau_m": 10., "act_fx": fx, "integration_type": "midpoint"}}
RATE_CASES.update({
    "rk2_alias_tanh": {"kw": {"tau_m": 10., "act_fx": "tanh", "integration_type": "rk2"},
                           "notes": "'rk2' is the same code as 'midpoint'"},
    "gaussian_prior_euler": {"kw": {"tau_m": 10., "act_fx": "tanh", "prior": ("gaussian", 0.3)}},
    "gaussian_prior_midpoint": {"kw": {"tau_m": 10., "act_fx": "tanh", "prior": ("gaussian", 0.3),
                                            "integration_type": "midpoint"}},
    "laplacian_prior_euler": {"kw": {"tau_m": 10., "act_fx": "relu", "prior": ("laplacian", 0.3)}},
    "laplacian_prior_midpoint": {"kw": {"tau_m": 10., "act_fx": "identity", "prior": ("laplacian", 0.3),
                                             "integration_type": "midpoint"}},
    "cauchy_prior_euler": {"kw": {"tau_m": 10., "act_fx": "identity", "prior": ("cauchy", 0.3)}},
    "exp_prior_euler": {"kw": {"tau_m": 10., "act_fx": "identity", "prior": ("exp", 0.3)}},
    "resist_output_scale": {"kw": {"tau_m": 10., "act_fx": "sigmoid", "resist_scale": 0.5, "output_scale": 2.0,
                                        "prior": ("gaussian", 0.1)}},
    "dt_quarter_tau5": {"kw": {"tau_m": 5., "act_fx": "lrelu", "prior": ("gaussian", 0.2)}, "dt": 0.25},
    "soft_threshold": {"kw": {"tau_m": 10., "act_fx": "identity", "threshold": ("soft_threshold", 0.05)}},
    "stateless_tau0_identity": {"kw": {"tau_m": 0., "act_fx": "identity"},
                                    "notes": "tau_m=0. (a float) -> stateless: z = j + j_td"},
    "stateless_tau0_tanh": {"kw": {"tau_m": 0., "act_fx": "tanh", "output_scale": 1.5, "resist_scale": 3.0},
                                "notes": "resist_scale and dfx are NOT applied in stateless mode"},
    "stateless_flag": {"kw": {"tau_m": 10., "act_fx": "sigmoid", "is_stateful": False},
                           "notes": "is_stateful=False forces the stateless path whatever tau_m is"},
    "rk4_is_euler": {"kw": {"tau_m": 10., "act_fx": "tanh", "integration_type": "rk4", "prior": ("gaussian", 0.3)},
                         "notes": "get_integrator_code('rk4') = 4, RateCell only maps 0/1/2 -> falls back to Euler"},
    "heun_is_rk4": {"kw": {"tau_m": 10., "act_fx": "tanh", "integration_type": "heun", "prior": ("gaussian", 0.3)},
                        "notes": "get_integrator_code('heun') = 2, which RateCell maps to step_rk4"},
})


def rate_case(name, spec):
    prefix = f"rate/{name}"
    rng = rng_for(prefix)
    dt = spec.get("dt", 1.0)
    j = rng.standard_normal((R_STEPS, R_BATCH, R_UNITS)).astype(F32)
    j_td = rng.standard_normal((R_STEPS, R_BATCH, R_UNITS)).astype(F32)
    kwargs = dict(spec["kw"])
    with fresh_context(prefix):
        cell = RateCell(name="cell", n_units=R_UNITS, batch_size=R_BATCH, key=jax.random.PRNGKey(0), **kwargs)
        advance = MethodProcess("advance") >> cell.advance_state
        reset = MethodProcess("reset") >> cell.reset
    reset.run()
    for t in range(R_STEPS):
        cell.j.set(jnp.asarray(j[t]))
        cell.j_td.set(jnp.asarray(j_td[t]))
        put(f"{prefix}/j_in/{t}", j[t])
        put(f"{prefix}/j_td_in/{t}", j_td[t])
        advance.run(t=float(t) * dt, dt=dt)
        put(f"{prefix}/z/{t}", get(cell.z))
        put(f"{prefix}/zF/{t}", get(cell.zF))
        put(f"{prefix}/j/{t}", get(cell.j))
    meta_kwargs = dict(n_units=R_UNITS, batch_size=R_BATCH, **kwargs)
    cases[prefix] = {
        "component": "RateCell", "kwargs": to_json(meta_kwargs), "steps": R_STEPS, "dt": dt,
        "is_stateful": bool(cell.is_stateful), "intgFlag": int(cell.intgFlag), "priorType": int(cell.priorType),
        "per_step": "after reset (z = 0): j<-j_in/t, j_td<-j_td_in/t; advance_state(dt) -> z/t, zF/t and "
                    "j/t (the j compartment after the step: modulated j in stateful mode)",
        "notes": spec.get("notes", ""),
    }


# ------------------------------------------------------------------------------------------
# 4. Error cells
# ------------------------------------------------------------------------------------------
E_UNITS, E_BATCH, E_STEPS = 5, 3, 3
ERROR_CASES = {
    "gaussian/sigma1": {"cls": GaussianErrorCell, "kw": {}, "ins": ("mu", "target")},
    "gaussian/sigma0.5": {"cls": GaussianErrorCell, "kw": {"sigma": 0.5}, "ins": ("mu", "target")},
    "gaussian/sigma_int2": {"cls": GaussianErrorCell, "kw": {"sigma": 2}, "ins": ("mu", "target"),
                                "notes": "integer sigma"},
    "gaussian/sigma_vector": {"cls": GaussianErrorCell, "kw": {"sigma": "array at gaussian/sigma_vector/sigma"},
                                  "ins": ("mu", "target"), "sigma_vec": True,
                                  "notes": "sigma is a (1, n_units) array: Sigma has that shape and L is a vector"},
    "gaussian/modulator_mask": {"cls": GaussianErrorCell, "kw": {"sigma": 0.8}, "ins": ("mu", "target"),
                                    "modmask": True,
                                    "notes": "modulator set every step, mask set at step 0 only (it is reset "
                                          "to ones by advance_state)"},
    "laplacian/scale1": {"cls": LaplacianErrorCell, "kw": {}, "ins": ("shift", "target")},
    "laplacian/scale0.5": {"cls": LaplacianErrorCell, "kw": {"scale": 0.5}, "ins": ("shift", "target"),
                               "ties": True, "notes": "some target == shift entries (sign 0)"},
    "laplacian/modulator_mask": {"cls": LaplacianErrorCell, "kw": {"scale": 1.5}, "ins": ("shift", "target"),
                                     "modmask": True},
    "bernoulli/probs": {"cls": BernoulliErrorCell, "kw": {}, "ins": ("p", "target"), "bern": True,
                            "notes": "p in (0, 1) incl. entries outside [eps, 1-eps] to hit the clip"},
    "bernoulli/logits": {"cls": BernoulliErrorCell, "kw": {"input_logits": True}, "ins": ("p", "target"),
                             "bern": True, "notes": "p holds logits"},
    "bernoulli/probs_modulator_mask": {"cls": BernoulliErrorCell, "kw": {}, "ins": ("p", "target"), "bern": True,
                                           "modmask": True},
}
ERROR_OUTPUTS = {
    GaussianErrorCell: ["dmu", "dtarget", "dSigma", "L", "mask"],
    LaplacianErrorCell: ["dshift", "dtarget", "dScale", "L", "mask"],
    BernoulliErrorCell: ["dp", "dtarget", "L", "mask"],
}


def error_case(name, spec):
    prefix = name
    rng = rng_for(prefix)
    kwargs = dict(spec["kw"])
    ctor_kwargs = dict(kwargs)
    if spec.get("sigma_vec"):
        sigma = rng.uniform(0.5, 2.0, size=(1, E_UNITS)).astype(F32)
        put(f"{prefix}/sigma", sigma)
        ctor_kwargs["sigma"] = jnp.asarray(sigma)
    a_name, _t_name = spec["ins"]
    with fresh_context(prefix):
        cell = spec["cls"](name="cell", n_units=E_UNITS, batch_size=E_BATCH, key=jax.random.PRNGKey(0),
                           **ctor_kwargs)
        advance = MethodProcess("advance") >> cell.advance_state
        reset = MethodProcess("reset") >> cell.reset
    reset.run()
    for t in range(E_STEPS):
        if spec.get("bern"):
            if kwargs.get("input_logits"):
                a = rng.standard_normal((E_BATCH, E_UNITS)).astype(F32) * 3
            else:
                a = rng.uniform(0.0, 1.0, size=(E_BATCH, E_UNITS)).astype(F32)
                a[0, 0], a[0, 1] = 0.0, 1.0  # hit the clip to [eps, 1 - eps]
                a[1, 2] = 0.99995
            tgt = (rng.uniform(size=(E_BATCH, E_UNITS)) < 0.5).astype(F32)
            tgt[2, 3] = 0.3  # a non-binary target
        else:
            a = rng.standard_normal((E_BATCH, E_UNITS)).astype(F32)
            tgt = rng.standard_normal((E_BATCH, E_UNITS)).astype(F32)
            if spec.get("ties"):
                tgt[0, :2] = a[0, :2]
        getattr(cell, a_name).set(jnp.asarray(a))
        cell.target.set(jnp.asarray(tgt))
        put(f"{prefix}/{a_name}/{t}", a)
        put(f"{prefix}/target/{t}", tgt)
        if spec.get("modmask"):
            mod = rng.uniform(0.0, 2.0, size=(E_BATCH, E_UNITS)).astype(F32)
            cell.modulator.set(jnp.asarray(mod))
            put(f"{prefix}/modulator/{t}", mod)
            if t == 0:
                m = (rng.uniform(size=(E_BATCH, E_UNITS)) < 0.6).astype(F32)
                cell.mask.set(jnp.asarray(m))
                put(f"{prefix}/mask_in/{t}", m)
        advance.run(t=float(t), dt=1.0)
        for out in ERROR_OUTPUTS[spec["cls"]]:
            put(f"{prefix}/{out}/{t}", get(getattr(cell, out)))
    cases[prefix] = {
        "component": spec["cls"].__name__,
        "kwargs": to_json(dict(n_units=E_UNITS, batch_size=E_BATCH, **kwargs)),
        "steps": E_STEPS, "dt": 1.0,
        "per_step": f"after reset: {a_name}<-{a_name}/t, target<-target/t (modulator<-modulator/t, "
                    f"mask<-mask_in/t when stored); advance_state(dt) -> "
                    + ", ".join(f"{o}/t" for o in ERROR_OUTPUTS[spec["cls"]]) + " (mask/t = mask after the step)",
        "notes": spec.get("notes", ""),
    }


def versions():
    """The versions the vectors were recorded with (stored in meta_json)."""
    return {
        "ngclearn": version("ngclearn"), "ngcsimlib": version("ngcsimlib"), "jax": jax.__version__,
        "jaxlib": version("jaxlib"), "numpy": np.__version__, "python": sys.version.split()[0],
        "jax_backend": jax.default_backend(), "jax_enable_x64": bool(jax.config.jax_enable_x64),
    }


def main():
    assert not jax.config.jax_enable_x64
    for name, spec in HEBBIAN_CASES.items():
        hebbian_case(name, spec)
    for name, spec in DENSE_CASES.items():
        dense_case(name, spec)
    for name, spec in RATE_CASES.items():
        rate_case(name, spec)
    for name, spec in ERROR_CASES.items():
        error_case(name, spec)
    meta = {"versions": versions(), "cases": cases}
    for k, v in arrays.items():
        assert v.dtype in (np.float32, np.dtype("int32")), (k, v.dtype)
    np.savez_compressed(OUT, meta_json=np.asarray(json.dumps(meta, indent=1, sort_keys=True)), **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(arrays)} arrays, {len(cases)} cases)")


if __name__ == "__main__":
    main()

"""Record ngc-learn 3.2.3 running small versions of the circuits of ngc-museum's five exhibits into
ngclearn_circuit_vectors.npz.

Provenance only: the test suite does NOT run this script, and ngc-learn / JAX are not
dependencies of ngc-optim. To re-run it (see record_ngclearn_components.py for the venv):

    JAX_PLATFORMS=cpu /work/ngclearn-venv/bin/python tests/data/record_ngclearn_circuits.py

Each exhibit's circuit is built by a function below with the exhibit's ngc-learn 3.x constructor
calls, wiring (``>>``), processes (``MethodProcess``/``JointProcess``) and training step, at small sizes.
tests/test_museum_circuits.py builds the same circuits from ngc-optim's components with the same lines
(only the imports and ``jnp`` -> ``np`` differ) and compares. Inputs come from
numpy.random.default_rng(crc32(exhibit name)); every weight and bias that ngc-learn draws from a JAX key
is set from a stored array after construction (and a WTASCell's jittered thresholds after its reset).
The spike encoders draw from JAX keys, which ngc-optim does not reproduce, so their inputs are clamped
at values that make the spikes certain: 0/1 images into BernoulliCell (p = 0 or 1) and 0/20 into
PoissonCell (p = 20 * dt/1000 * 63.75 > 1), i.e. the spikes are the image's on-pixels at every step.
DC-SNN's excitatory LIFCell has ``one_spike=True`` (a JAX draw among the cells that cross threshold in
one step); the recording asserts that at most one cell crossed at any step, so no draw mattered.
"""

import json
import os
import sys
import zlib
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import numpy as np
from jax import numpy as jnp
from jax import random
from ngclearn import Context, JointProcess, MethodProcess
from ngclearn.components import GaussianErrorCell as ErrorCell
from ngclearn.components import HebbianPatchedSynapse, HebbianSynapse, RateCell, StaticSynapse
from ngclearn.components.input_encoders.bernoulliCell import BernoulliCell
from ngclearn.components.input_encoders.ganglionCell import RetinalGanglionCell
from ngclearn.components.input_encoders.poissonCell import PoissonCell
from ngclearn.components.neurons.graded.gaussianErrorCell import GaussianErrorCell
from ngclearn.components.neurons.spiking.LIFCell import LIFCell
from ngclearn.components.neurons.spiking.WTASCell import WTASCell
from ngclearn.components.other.expKernel import ExpKernel
from ngclearn.components.other.varTrace import VarTrace
from ngclearn.components.synapses.denseSynapse import DenseSynapse
from ngclearn.components.synapses.hebbian.eventSTDPSynapse import EventSTDPSynapse
from ngclearn.components.synapses.hebbian.traceSTDPSynapse import TraceSTDPSynapse
from ngclearn.utils.distribution_generator import DistributionGenerator
from ngclearn.utils.distribution_generator import DistributionGenerator as dist
from ngclearn.utils.model_utils import normalize_matrix
from ngcsimlib.global_state import stateManager
from ngcsimlib.operations import Summation

OUT = Path(__file__).resolve().parent / "ngclearn_circuit_vectors.npz"

arrays = {}
exhibits = {}
_contexts = [0]


# ---------------------------------------------------------------------------------------------------
# The circuits, as the exhibits write them (small sizes; a Context name of its own per build)
# ---------------------------------------------------------------------------------------------------

def pc_discrim(name, in_dim, hid1_dim, hid2_dim, out_dim, tau_m, act_fx, eta, subkeys):
    """exhibits/pc_discrim (PCN): generative z0 -W1-> e1, z1 -W2-> e2, z2 -W3-> e3, feedback E2, E3,
    projection q0 -Q1-> q1 -Q2-> q2 -Q3-> q3 -> eq3."""
    optim_type = "adam"
    wlb = -0.3
    wub = 0.3
    with Context(name) as circuit:
        z0 = RateCell("z0", n_units=in_dim, tau_m=0., act_fx="identity")
        z1 = RateCell("z1", n_units=hid1_dim, tau_m=tau_m, act_fx=act_fx, prior=("gaussian", 0.),
                      integration_type="euler")
        e1 = ErrorCell("e1", n_units=hid1_dim)
        z2 = RateCell("z2", n_units=hid2_dim, tau_m=tau_m, act_fx=act_fx, prior=("gaussian", 0.),
                      integration_type="euler")
        e2 = ErrorCell("e2", n_units=hid2_dim)
        z3 = RateCell("z3", n_units=out_dim, tau_m=0., act_fx="identity")
        e3 = ErrorCell("e3", n_units=out_dim)
        W1 = HebbianSynapse("W1", shape=(in_dim, hid1_dim), eta=eta, weight_init=dist.uniform(amin=wlb, amax=wub),
                            bias_init=dist.constant(value=0.), w_bound=0., optim_type=optim_type, sign_value=-1.,
                            key=subkeys[4])
        W2 = HebbianSynapse("W2", shape=(hid1_dim, hid2_dim), eta=eta, weight_init=dist.uniform(amin=wlb, amax=wub),
                            bias_init=dist.constant(value=0.), w_bound=0., optim_type=optim_type, sign_value=-1.,
                            key=subkeys[5])
        W3 = HebbianSynapse("W3", shape=(hid2_dim, out_dim), eta=eta, weight_init=dist.uniform(amin=wlb, amax=wub),
                            bias_init=dist.constant(value=0.), w_bound=0., optim_type=optim_type, sign_value=-1.,
                            key=subkeys[6])
        E2 = StaticSynapse("E2", shape=(hid2_dim, hid1_dim), weight_init=dist.uniform(amin=wlb, amax=wub),
                           key=subkeys[4])
        E3 = StaticSynapse("E3", shape=(out_dim, hid2_dim), weight_init=dist.uniform(amin=wlb, amax=wub),
                           key=subkeys[5])
        z0.zF >> W1.inputs
        W1.outputs >> e1.mu
        z1.z >> e1.target
        z1.zF >> W2.inputs
        W2.outputs >> e2.mu
        z2.z >> e2.target
        z2.zF >> W3.inputs
        W3.outputs >> e3.mu
        z3.z >> e3.target
        e2.dmu >> E2.inputs
        E2.outputs >> z1.j
        e1.dtarget >> z1.j_td
        e3.dmu >> E3.inputs
        E3.outputs >> z2.j
        e2.dtarget >> z2.j_td
        z0.zF >> W1.pre
        e1.dmu >> W1.post
        z1.zF >> W2.pre
        e2.dmu >> W2.post
        z2.zF >> W3.pre
        e3.dmu >> W3.post
        q0 = RateCell("q0", n_units=in_dim, tau_m=0., act_fx="identity")
        q1 = RateCell("q1", n_units=hid1_dim, tau_m=0., act_fx=act_fx)
        q2 = RateCell("q2", n_units=hid2_dim, tau_m=0., act_fx=act_fx)
        q3 = RateCell("q3", n_units=out_dim, tau_m=0., act_fx="identity")
        eq3 = ErrorCell("eq3", n_units=out_dim)
        Q1 = StaticSynapse("Q1", shape=(in_dim, hid1_dim), bias_init=dist.constant(value=0.), key=subkeys[0])
        Q2 = StaticSynapse("Q2", shape=(hid1_dim, hid2_dim), bias_init=dist.constant(value=0.), key=subkeys[0])
        Q3 = StaticSynapse("Q3", shape=(hid2_dim, out_dim), bias_init=dist.constant(value=0.), key=subkeys[0])
        q0.zF >> Q1.inputs
        Q1.outputs >> q1.j
        q1.zF >> Q2.inputs
        Q2.outputs >> q2.j
        q2.zF >> Q3.inputs
        Q3.outputs >> q3.j
        q3.z >> eq3.mu
        advance_process = (MethodProcess(name="advance_process") >> E2.advance_state >> E3.advance_state
                   >> z0.advance_state >> z1.advance_state >> z2.advance_state >> z3.advance_state
                   >> W1.advance_state >> W2.advance_state >> W3.advance_state
                   >> e1.advance_state >> e2.advance_state >> e3.advance_state)
        reset_process = (MethodProcess(name="reset_process") >> q0.reset >> q1.reset >> q2.reset >> q3.reset >> eq3.reset
                 >> z0.reset >> z1.reset >> z2.reset >> z3.reset >> e1.reset >> e2.reset >> e3.reset)
        evolve_process = MethodProcess(name="evolve_process") >> W1.evolve >> W2.evolve >> W3.evolve
        project_process = (MethodProcess(name="project_process") >> q0.advance_state >> Q1.advance_state
                   >> q1.advance_state >> Q2.advance_state >> q2.advance_state >> Q3.advance_state
                   >> q3.advance_state >> eq3.advance_state)
    return SimpleNamespace(**locals())


def pc_discrim_process(c, obs, lab, T, record):
    """The exhibit's process(obs, lab): project (P-step), T settling steps (E-step), evolve (M-step)."""
    eps = 0.001
    _lab = jnp.clip(lab, eps, 1. - eps)
    c.reset_process.run()
    c.Q1.weights.set(c.W1.weights.get())
    c.Q1.biases.set(c.W1.biases.get())
    c.Q2.weights.set(c.W2.weights.get())
    c.Q2.biases.set(c.W2.biases.get())
    c.Q3.weights.set(c.W3.weights.get())
    c.Q3.biases.set(c.W3.biases.get())
    c.E2.weights.set(jnp.transpose(c.W2.weights.get()))
    c.E3.weights.set(jnp.transpose(c.W3.weights.get()))
    c.z0.j.set(obs)
    c.q0.j.set(obs)
    c.eq3.target.set(_lab)
    c.project_process.run(t=0., dt=1.)
    c.z1.z.set(c.q1.z.get())
    c.z2.z.set(c.q2.z.get())
    c.e3.dmu.set(c.eq3.dmu.get())
    c.e3.dtarget.set(c.eq3.dtarget.get())
    record("y_mu_inf", c.q3.z.get())
    for ts in range(T):
        c.z0.j.set(obs)
        c.q0.j.set(obs)
        c.z3.j.set(_lab)
        c.advance_process.run(t=ts, dt=1.)
        record(f"z1/{ts}", c.z1.z.get())
        record(f"z2/{ts}", c.z2.z.get())
        record(f"e3_dmu/{ts}", c.e3.dmu.get())
    record("y_mu", c.e3.mu.get())
    record("EFE", c.e3.L.get() + c.e2.L.get() + c.e1.L.get())
    c.evolve_process.run(t=T, dt=1.)


def diehl_cook_snn(name, in_dim, hid_dim, dt, subkeys):
    """exhibits/diehl_cook_snn (DC_SNN): Poisson input -W1 (trace STDP)-> excitatory LIF z1e, inhibitory
    LIF z1i through W1ei (eye) and back through W1ie (hollow), input and output traces."""
    tau_m_e = 100.500896468
    tau_m_i = 100.500896468
    tau_tr = 20.
    Aplus = 1e-2
    Aminus = 1e-4
    with Context(name) as circuit:
        z0 = PoissonCell("z0", n_units=in_dim, target_freq=63.75, key=subkeys[0])
        W1 = TraceSTDPSynapse(
            "W1", shape=(in_dim, hid_dim), A_plus=Aplus, A_minus=Aminus, eta=1., pretrace_target=0.,
            weight_init=DistributionGenerator.uniform(0.0, 0.3), key=subkeys[1]
        )
        z1e = LIFCell(
            "z1e", n_units=hid_dim, tau_m=tau_m_e, resist_m=tau_m_e / dt, thr=-52., v_rest=-65.,
            v_reset=-60., tau_theta=1e7, theta_plus=0.05, refract_time=5., one_spike=True, key=subkeys[2]
        )
        z1i = LIFCell(
            "z1i", n_units=hid_dim, tau_m=tau_m_i, resist_m=tau_m_i / dt, thr=-40., v_rest=-60.,
            v_reset=-45., tau_theta=0., refract_time=5., one_spike=False, key=subkeys[3]
        )
        W1ie = StaticSynapse(
            "W1ie", shape=(hid_dim, hid_dim), weight_init=DistributionGenerator.constant(-120., hollow=True),
            key=subkeys[4])
        W1ei = StaticSynapse(
            "W1ei", shape=(hid_dim, hid_dim), weight_init=DistributionGenerator.constant(22.5, eye=True),
            key=subkeys[5]
        )
        tr0 = VarTrace("tr0", n_units=in_dim, tau_tr=tau_tr, decay_type="exp", a_delta=0., key=subkeys[6])
        tr1 = VarTrace("tr1", n_units=hid_dim, tau_tr=tau_tr, decay_type="exp", a_delta=0., key=subkeys[7])
        z0.outputs >> W1.inputs
        z1i.s >> W1ie.inputs
        Summation(W1.outputs, W1ie.outputs) >> z1e.j
        z1e.s >> W1ei.inputs
        W1ei.outputs >> z1i.j
        z0.outputs >> tr0.inputs
        z1e.s >> tr1.inputs
        tr0.trace >> W1.preTrace
        z0.outputs >> W1.preSpike
        tr1.trace >> W1.postTrace
        z1e.s >> W1.postSpike
        advance_process = (MethodProcess(name="advance_process") >> W1.advance_state >> W1ie.advance_state
                        >> W1ei.advance_state >> z0.advance_state >> z1e.advance_state >> z1i.advance_state
                        >> tr0.advance_state >> tr1.advance_state)
        reset_process = (MethodProcess(name="reset_process") >> z0.reset >> z1e.reset >> z1i.reset >> tr0.reset
                      >> tr1.reset >> W1.reset >> W1ie.reset >> W1ei.reset)
        evolve_process = MethodProcess(name="evolve_process") >> W1.evolve
        forward_process = JointProcess(name="forward_process") >> advance_process >> evolve_process
        advance_process.watch(z1e.s, z1e.v)
    return SimpleNamespace(**locals())


def diehl_cook_process(c, obs, T, dt, wNorm):
    """The exhibit's process(obs): reset, clamp, one scan of advance + evolve over T steps, normalise W1."""
    inputs = jnp.array(c.forward_process.pack_rows(T, t=lambda x: x, dt=dt))
    c.reset_process.run()
    c.z0.inputs.set(obs)
    stateManager.state, outputs = c.forward_process.scan(inputs)
    c.W1.weights.set(normalize_matrix(c.W1.weights.get(), wNorm, order=1, axis=0))
    return outputs


def evstdp_patches(name, in_dim, hid_dim, dt, subkeys):
    """exhibits/evstdp_patches (SNN): Bernoulli input -> ExpKernel -W1 (event STDP)-> WTASCell."""
    eta_w = 0.0055
    thrBase = 0.2
    thr_gain = 0.002
    tau_m = 100.
    with Context(name) as circuit:
        z0 = BernoulliCell("z0", n_units=in_dim, key=subkeys[0])
        k0 = ExpKernel("k0", n_units=in_dim, tau_w=0.5, nu=4., dt=dt, key=subkeys[1])
        W1 = EventSTDPSynapse(
            "W1", shape=(in_dim, hid_dim), eta=eta_w, lmbda=0.01, w_bound=1., presyn_win_len=3.,
            weight_init=DistributionGenerator.uniform(0.025, 0.8), resist_scale=1., key=subkeys[2]
        )
        z1 = WTASCell(
            "z1", n_units=hid_dim, tau_m=tau_m, resist_m=1., thr_base=thrBase, thr_gain=thr_gain,
            refract_time=5., thr_jitter=0.055, key=subkeys[3]
        )
        z0.outputs >> k0.inputs
        k0.epsp >> W1.inputs
        W1.outputs >> z1.j
        z0.tols >> W1.pre_tols
        z1.s >> W1.postSpike
        advance_process = (MethodProcess(name="advance_process") >> W1.advance_state >> z0.advance_state
                        >> k0.advance_state >> z1.advance_state)
        reset_process = MethodProcess(name="reset_process") >> z0.reset >> k0.reset >> z1.reset >> W1.reset
        evolve_process = MethodProcess(name="evolve_process") >> W1.evolve
        forward_process = JointProcess(name="forward_process") >> advance_process >> evolve_process
        advance_process.watch(z1.s, z1.v)
    return SimpleNamespace(**locals())


def evstdp_process(c, obs, T, dt):
    """The exhibit's process(obs): reset, clamp, one scan of advance + evolve over T steps."""
    inputs = jnp.array(c.forward_process.pack_rows(T, t=lambda x: x, dt=dt))
    c.reset_process.run()
    c.z0.inputs.set(obs)
    stateManager.state, outputs = c.forward_process.scan(inputs)
    return outputs


def olshausen_sc(name, in_dim, hid_dim, batch_size, model_type, subkeys):
    """exhibits/olshausen_sc (SparseCoding): z1 -W1-> e0.mu, e0.dmu -E1-> z1.j; Cauchy prior (sc_cauchy) or
    soft threshold (ista)."""
    eta_w = 1e-2
    tau_m = 20.
    act_fx = "identity"
    threshold_type = "none"
    prior_type = "gaussian"
    if model_type == "sc_cauchy":
        prior_type = "cauchy"
        lmbda = 0.14
    else:
        threshold_type = "soft_threshold"
        lmbda = 5e-3
    with Context(name) as circuit:
        z1 = RateCell(
            "z1", n_units=hid_dim, tau_m=tau_m, act_fx=act_fx, prior=(prior_type, lmbda),
            threshold=(threshold_type, lmbda), integration_type="euler", key=subkeys[0]
        )
        e0 = GaussianErrorCell("e0", n_units=in_dim)
        W1 = HebbianSynapse(
            "W1", shape=(hid_dim, in_dim), eta=eta_w, weight_init=DistributionGenerator.fan_in_gaussian(),
            bias_init=None, w_bound=0., optim_type="sgd", sign_value=-1., key=subkeys[1]
        )
        E1 = DenseSynapse(
            "E1", shape=(in_dim, hid_dim), weight_init=DistributionGenerator.uniform(-0.2, 0.2),
            resist_scale=1., key=subkeys[2]
        )
        e0.batch_size = batch_size
        z1.batch_size = batch_size
        W1.batch_size = batch_size
        E1.batch_size = batch_size
        z1.zF >> W1.inputs
        W1.outputs >> e0.mu
        e0.dmu >> E1.inputs
        E1.outputs >> z1.j
        z1.zF >> W1.pre
        e0.dmu >> W1.post
        advance_process = (MethodProcess(name="advance_process") >> W1.advance_state >> E1.advance_state
                   >> z1.advance_state >> e0.advance_state)
        reset_process = MethodProcess(name="reset_process") >> W1.reset >> E1.reset >> z1.reset >> e0.reset
        evolve_process = MethodProcess(name="evolve_process") >> W1.evolve
    return SimpleNamespace(**locals())


def olshausen_process(c, obs, T, dt):
    """The exhibit's process(obs): tie E1 to W1's transpose, reset, clamp, scan T settling steps, evolve,
    normalise W1's rows."""
    c.e0.batch_size = obs.shape[0]
    c.z1.batch_size = obs.shape[0]
    c.W1.batch_size = obs.shape[0]
    c.E1.weights.set(jnp.transpose(c.W1.weights.get()))
    c.reset_process.run()
    c.e0.target.set(obs)
    inputs = jnp.array(c.advance_process.pack_rows(T, t=lambda x: x, dt=dt))
    stateManager.state, _ = c.advance_process.scan(inputs)
    c.evolve_process.run(t=(T + 1) * dt, dt=dt)
    c.W1.weights.set(normalize_matrix(c.W1.weights.get(), 1., order=2, axis=1))


def pc_reconstruction(name, h3_dim, h2_dim, h1_dim, in_dim, n_p3, n_p2, n_p1, n_inPatch, batch_size, area_shape,
                      patch_shape, step_shape, input_encoder, input_encoder_sigma, tau_m, act_fx, sigma_e2,
                      sigma_e1, sigma_e0, r3_prior, r2_prior, r1_prior, lr, synaptic_prior, w_opt_type, subkeys):
    """exhibits/pc_reconstruction (HierarchicalPredictiveCoding): ganglion cells -> e0, three latent layers
    z1..z3 with patched (block-diagonal) Hebbian synapses W1..W3 between them."""
    w_bound = 0.
    opt_type = w_opt_type
    w3_init = dist.gaussian(mean=0., std=jnp.sqrt(2 / h3_dim))
    w2_init = dist.gaussian(mean=0., std=jnp.sqrt(2 / h2_dim))
    w1_init = dist.gaussian(mean=0., std=jnp.sqrt(2 / h1_dim))
    with Context(name) as circuit:
        RGC = RetinalGanglionCell("RGC", filter_type=input_encoder, area_shape=area_shape, n_cells=n_inPatch,
                                  patch_shape=patch_shape, step_shape=step_shape, sigma=input_encoder_sigma)
        z0 = RateCell("z0", n_units=in_dim, tau_m=0.)
        e0 = GaussianErrorCell("e0", n_units=in_dim, sigma=sigma_e0)
        z1 = RateCell("z1", n_units=h1_dim, tau_m=tau_m, act_fx=act_fx, prior=r1_prior)
        e1 = GaussianErrorCell("e1", n_units=h1_dim, sigma=sigma_e1)
        z2 = RateCell("z2", n_units=h2_dim, tau_m=tau_m, act_fx=act_fx, prior=r2_prior)
        e2 = GaussianErrorCell("e2", n_units=h2_dim, sigma=sigma_e2)
        z3 = RateCell("z3", n_units=h3_dim, tau_m=tau_m, act_fx=act_fx, prior=r3_prior)
        W3 = HebbianPatchedSynapse("W3", shape=(h3_dim, h2_dim), n_sub_models=n_p3, sign_value=-1.,
                                   optim_type=opt_type, eta=lr, weight_init=w3_init, prior=synaptic_prior,
                                   w_bound=w_bound, key=subkeys[2])
        W2 = HebbianPatchedSynapse("W2", shape=(h2_dim, h1_dim), n_sub_models=n_p2, sign_value=-1.,
                                   optim_type=opt_type, eta=lr, weight_init=w2_init, prior=synaptic_prior,
                                   w_bound=w_bound, key=subkeys[1])
        W1 = HebbianPatchedSynapse("W1", shape=(h1_dim, in_dim), n_sub_models=n_p1, sign_value=-1.,
                                   optim_type=opt_type, eta=lr, weight_init=w1_init, prior=synaptic_prior,
                                   w_bound=w_bound, key=subkeys[0])
        for component in (RGC, z3, z2, z1, z0, e2, e1, e0, W3, W2, W1):
            component.batch_size = batch_size
        for component in (RGC, z3, z2, z1, z0, e2, e1, e0, W1, W2, W3):
            component.reset()
        z3.zF >> W3.inputs
        z2.zF >> W2.inputs
        z1.zF >> W1.inputs
        W3.outputs >> e2.mu
        W2.outputs >> e1.mu
        W1.outputs >> e0.mu
        z2.z >> e2.target
        z1.z >> e1.target
        RGC.outputs >> e0.target
        e1.dtarget >> z1.j_td
        e2.dtarget >> z2.j_td
        e2.dmu >> W3.post_in
        e1.dmu >> W2.post_in
        e0.dmu >> W1.post_in
        W3.pre_out >> z3.j
        W2.pre_out >> z2.j
        W1.pre_out >> z1.j
        z3.zF >> W3.pre
        z2.zF >> W2.pre
        z1.zF >> W1.pre
        e2.dmu >> W3.post
        e1.dmu >> W2.post
        e0.dmu >> W1.post
        reset_process = (MethodProcess(name="reset_process") >> RGC.reset >> z3.reset >> z2.reset >> z1.reset
                         >> z0.reset >> e2.reset >> e1.reset >> e0.reset >> W1.reset >> W2.reset >> W3.reset)
        advance_process = (MethodProcess(name="advance_process") >> RGC.advance_state >> z0.advance_state
                           >> z3.advance_state >> z2.advance_state >> z1.advance_state >> W3.advance_state
                           >> W2.advance_state >> W1.advance_state >> e2.advance_state >> e1.advance_state
                           >> e0.advance_state)
        evolve_process = MethodProcess(name="evolve_process") >> W1.evolve >> W2.evolve >> W3.evolve
    return SimpleNamespace(**locals())


def pc_reconstruction_process(c, obs, T, dt):
    """The exhibit's process(obs, adapt_synapses=True): reset, clamp, scan T settling steps, evolve,
    normalise the rows of W1..W3."""
    c.reset_process.run()
    c.RGC.inputs.set(obs)
    inputs = jnp.array(c.advance_process.pack_rows(T, t=lambda x: x, dt=dt))
    stateManager.state, _ = c.advance_process.scan(inputs)
    c.evolve_process.run(t=T, dt=dt)
    c.W1.weights.set(normalize_matrix(c.W1.weights.get(), 1., order=2, axis=1))
    c.W2.weights.set(normalize_matrix(c.W2.weights.get(), 1., order=2, axis=1))
    c.W3.weights.set(normalize_matrix(c.W3.weights.get(), 1., order=2, axis=1))
    return c.e0.mu.get()


# ---------------------------------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------------------------------

def context_name(tag):
    """ngcsimlib context names are global: Context(name) with an existing name returns it."""
    _contexts[0] += 1
    return f"museum{_contexts[0]}_{tag}"


def rng_for(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


def put(key, value):
    value = np.asarray(value)
    if value.dtype != np.float32:
        raise AssertionError(f"{key}: {value.dtype} from ngc-learn, expected float32")
    if key in arrays:
        raise AssertionError(f"duplicate key {key}")
    arrays[key] = value


def f32(values):
    return np.asarray(values, dtype=np.float32)


def subkeys_for(seed):
    return random.split(random.PRNGKey(seed), 10)[1:]


def record_pc_discrim():
    settings = {"in_dim": 8, "hid1_dim": 16, "hid2_dim": 12, "out_dim": 4, "tau_m": 10., "act_fx": "tanh",
                "eta": 0.01}
    batch, T, batches = 3, 5, 2
    rng = rng_for("pc_discrim")
    c = pc_discrim(context_name("pc_discrim"), subkeys=subkeys_for(1), **settings)
    sizes = (settings["in_dim"], settings["hid1_dim"], settings["hid2_dim"], settings["out_dim"])
    for k in (1, 2, 3):
        W, b = f32(rng.uniform(-0.3, 0.3, (sizes[k - 1], sizes[k]))), f32(rng.uniform(-0.1, 0.1, (1, sizes[k])))
        put(f"pc_discrim/W{k}_0", W)
        put(f"pc_discrim/b{k}_0", b)
        getattr(c, f"W{k}").weights.set(jnp.asarray(W))
        getattr(c, f"W{k}").biases.set(jnp.asarray(b))
    for n in range(batches):
        x = f32(rng.uniform(0., 1., (batch, sizes[0])))
        y = f32(np.eye(sizes[3])[rng.integers(0, sizes[3], batch)])
        put(f"pc_discrim/x/{n}", x)
        put(f"pc_discrim/y/{n}", y)
        pc_discrim_process(c, jnp.asarray(x), jnp.asarray(y), T,
                           lambda key, value, n=n: put(f"pc_discrim/{key}/{n}", value))
        for k in (1, 2, 3):
            put(f"pc_discrim/W{k}/{n}", getattr(c, f"W{k}").weights.get())
            put(f"pc_discrim/b{k}/{n}", getattr(c, f"W{k}").biases.get())
    exhibits["pc_discrim"] = {
        "exhibit": "exhibits/pc_discrim (PCN, pcn_model.py)", "settings": settings, "batch": batch, "T": T,
        "batches": batches,
        "per_batch": "process(x, y): reset; Q = W, E = W.T; project; z1, z2 <- q1, q2; e3.dmu, e3.dtarget <- "
                     "eq3's; T x (clamp x, y; advance.run(t=ts, dt=1)); evolve.run(t=T, dt=1)",
        "keys": "W{k}_0, b{k}_0; per batch n: x, y, y_mu_inf (q3.z after project), z1/ts, z2/ts, e3_dmu/ts "
                "(after settling step ts), y_mu (e3.mu), EFE (e1.L + e2.L + e3.L), W{k}, b{k} (after evolve)",
        "notes": "eq3.mu is wired from q3.z and eq3.target clamped to the label (the projection's error); "
                 "biases start from stored uniform(-0.1, 0.1) values instead of 0 so that they are checked",
    }


def record_diehl_cook():
    settings = {"in_dim": 16, "hid_dim": 8, "dt": 1.}
    T, images, wNorm = 30, 3, 1.6
    rng = rng_for("diehl_cook_snn")
    c = diehl_cook_snn(context_name("dcsnn"), subkeys=subkeys_for(2), **settings)
    put("diehl_cook_snn/W1ie", c.W1ie.weights.get())
    put("diehl_cook_snn/W1ei", c.W1ei.weights.get())
    W = f32(rng.uniform(0.0, 0.3, (settings["in_dim"], settings["hid_dim"])))
    put("diehl_cook_snn/W1_0", W)
    c.W1.weights.set(jnp.asarray(W))
    for n in range(images):
        obs = f32(20. * (rng.uniform(0., 1., (1, settings["in_dim"])) < 0.5))
        put(f"diehl_cook_snn/obs/{n}", obs)
        spikes, voltages = diehl_cook_process(c, jnp.asarray(obs), T, settings["dt"], wNorm)
        raw = np.asarray(c.z1e.s_raw.get())
        assert raw.sum() <= 1, "one_spike chose among several cells: a JAX draw"
        put(f"diehl_cook_snn/s/{n}", spikes)
        put(f"diehl_cook_snn/v/{n}", voltages)
        put(f"diehl_cook_snn/thr_theta/{n}", c.z1e.thr_theta.get())
        put(f"diehl_cook_snn/trace1/{n}", c.tr1.trace.get())
        put(f"diehl_cook_snn/z1i_v/{n}", c.z1i.v.get())
        put(f"diehl_cook_snn/W1/{n}", c.W1.weights.get())
    exhibits["diehl_cook_snn"] = {
        "exhibit": "exhibits/diehl_cook_snn (DC_SNN, dcsnn_model.py)", "settings": settings, "T": T,
        "images": images, "wNorm": wNorm,
        "per_image": "process(obs): reset; clamp obs into z0.inputs; forward_process.scan over "
                     "pack_rows(T, t=lambda x: x, dt=dt) (advance + evolve, watching z1e.s and z1e.v); "
                     "W1 <- normalize_matrix(W1, wNorm, order=1, axis=0)",
        "keys": "W1ie, W1ei (ngc-learn's own initial weights: deterministic), W1_0; per image n: obs (0/20), "
                "s, v (T x 1 x hid, watched), thr_theta, trace1 (tr1), z1i_v (after the scan), W1 (after the "
                "normalisation)",
        "notes": "obs is 0 or 20: PoissonCell's p = obs * dt/1000 * 63.75 is 0 or > 1, so its spikes are "
                 "certain (the on-pixels at every step); wNorm = 0.1 * in_dim (the exhibit's 78.4 for 784 "
                 "pixels); at most one excitatory cell crossed threshold per step (asserted), so one_spike "
                 "drew nothing that matters",
    }


def record_evstdp():
    settings = {"in_dim": 16, "hid_dim": 8, "dt": 1.}
    T, images = 30, 3
    rng = rng_for("evstdp_patches")
    c = evstdp_patches(context_name("evstdp"), subkeys=subkeys_for(3), **settings)
    W = f32(rng.uniform(0.025, 0.8, (settings["in_dim"], settings["hid_dim"])))
    put("evstdp_patches/W1_0", W)
    c.W1.weights.set(jnp.asarray(W))
    for n in range(images):
        obs = f32(rng.uniform(0., 1., (1, settings["in_dim"])) < 0.5)
        put(f"evstdp_patches/obs/{n}", obs)
        if n == 0:
            c.reset_process.run()
            thr = f32(0.2 + rng.uniform(-0.055, 0.055, (1, settings["hid_dim"])))
            put("evstdp_patches/thr0", thr)
            c.z1.thr.set(jnp.asarray(thr))
        spikes, voltages = evstdp_process(c, jnp.asarray(obs), T, settings["dt"])
        put(f"evstdp_patches/s/{n}", spikes)
        put(f"evstdp_patches/v/{n}", voltages)
        put(f"evstdp_patches/thr/{n}", c.z1.thr.get())
        put(f"evstdp_patches/W1/{n}", c.W1.weights.get())
    exhibits["evstdp_patches"] = {
        "exhibit": "exhibits/evstdp_patches (SNN, snn.py)", "settings": settings, "T": T, "images": images,
        "per_image": "process(obs): reset; clamp obs into z0.inputs; forward_process.scan over "
                     "pack_rows(T, t=lambda x: x, dt=dt) (advance + evolve, watching z1.s and z1.v)",
        "keys": "W1_0, thr0 (set into z1.thr after the first reset: ngc-learn jitters it with a JAX key; "
                "reset keeps thr); per image n: obs (0/1), s, v (T x 1 x hid, watched), thr, W1 (after the scan)",
        "notes": "obs is 0/1, so BernoulliCell's spikes are certain (the on-pixels at every step)",
    }


def record_olshausen():
    settings = {"in_dim": 16, "hid_dim": 12, "batch_size": 1}
    T, dt, batches = 10, 1., 3
    for model_type in ("sc_cauchy", "ista"):
        prefix = f"olshausen_sc/{model_type}"
        rng = rng_for(prefix)
        c = olshausen_sc(context_name(f"sc_{model_type}"), model_type=model_type, subkeys=subkeys_for(4),
                         **settings)
        W = f32(rng.normal(0., 1. / np.sqrt(settings["hid_dim"]), (settings["hid_dim"], settings["in_dim"])))
        put(f"{prefix}/W1_0", W)
        c.W1.weights.set(jnp.asarray(W))
        for n in range(batches):
            obs = f32(rng.normal(0., 1., (settings["batch_size"], settings["in_dim"])))
            put(f"{prefix}/obs/{n}", obs)
            olshausen_process(c, jnp.asarray(obs), T, dt)
            put(f"{prefix}/z1/{n}", c.z1.z.get())
            put(f"{prefix}/mu/{n}", c.e0.mu.get())
            put(f"{prefix}/L/{n}", c.e0.L.get())
            put(f"{prefix}/W1/{n}", c.W1.weights.get())
        exhibits[prefix] = {
            "exhibit": "exhibits/olshausen_sc (SparseCoding, sparse_coding.py)", "model_type": model_type,
            "settings": settings, "T": T, "dt": dt, "batches": batches,
            "per_batch": "process(obs): E1 <- W1.T; reset; clamp obs into e0.target; advance.scan over "
                         "pack_rows(T, t=lambda x: x, dt=dt); evolve.run(t=(T+1)*dt, dt=dt); "
                         "W1 <- normalize_matrix(W1, 1, order=2, axis=1)",
            "keys": "W1_0; per batch n: obs, z1 (z1.z), mu (e0.mu), L (e0.L), W1 (after the normalisation)",
        }


def record_pc_reconstruction():
    settings = {"h3_dim": 6, "h2_dim": 12, "h1_dim": 24, "in_dim": 64, "n_p3": 1, "n_p2": 2, "n_p1": 4,
                "n_inPatch": 4, "batch_size": 2, "area_shape": (8, 8), "patch_shape": (4, 4),
                "step_shape": (0, 0), "input_encoder": None, "input_encoder_sigma": 0., "tau_m": 20,
                "act_fx": "identity", "sigma_e2": 1., "sigma_e1": 1., "sigma_e0": 1.,
                "r3_prior": (None, 0.), "r2_prior": ("laplacian", 0.05), "r1_prior": ("laplacian", 0.1),
                "lr": 0.05, "synaptic_prior": ("gaussian", 0.), "w_opt_type": "sgd"}
    T, dt, batches = 8, 1., 2
    rng = rng_for("pc_reconstruction")
    c = pc_reconstruction(context_name("pc_recon"), subkeys=subkeys_for(5), **settings)
    for k in (1, 2, 3):
        W = getattr(c, f"W{k}").weights.get()
        put(f"pc_reconstruction/W{k}_0", W)
    for n in range(batches):
        obs = f32(rng.uniform(0., 1., (settings["batch_size"], *settings["area_shape"])))
        put(f"pc_reconstruction/obs/{n}", obs)
        put(f"pc_reconstruction/mu/{n}", pc_reconstruction_process(c, jnp.asarray(obs), T, dt))
        for name in ("z1", "z2", "z3"):
            put(f"pc_reconstruction/{name}/{n}", getattr(c, name).z.get())
        put(f"pc_reconstruction/L/{n}", c.e0.L.get())
        for k in (1, 2, 3):
            put(f"pc_reconstruction/W{k}/{n}", getattr(c, f"W{k}").weights.get())
    exhibits["pc_reconstruction"] = {
        "exhibit": "exhibits/pc_reconstruction (HierarchicalPredictiveCoding, hierarchical_pc.py)",
        "settings": {key: list(value) if isinstance(value, tuple) else value for key, value in settings.items()},
        "T": T, "dt": dt, "batches": batches,
        "per_batch": "process(obs, adapt_synapses=True): reset; clamp obs into RGC.inputs; advance.scan over "
                     "pack_rows(T, t=lambda x: x, dt=dt); evolve.run(t=T, dt=dt); W1..W3 <- "
                     "normalize_matrix(W, 1, order=2, axis=1)",
        "keys": "W{k}_0 (ngc-learn's own initial weights: JAX key draws, block-diagonal); per batch n: obs "
                "(batch x 8 x 8), mu (e0.mu), z1, z2, z3 (z), L (e0.L), W{k} (after the normalisation)",
    }


def versions():
    return {
        "ngclearn": version("ngclearn"), "ngcsimlib": version("ngcsimlib"), "jax": jax.__version__,
        "jaxlib": version("jaxlib"), "numpy": np.__version__, "python": sys.version.split()[0],
        "jax_backend": jax.default_backend(), "jax_enable_x64": bool(jax.config.jax_enable_x64),
    }


def main():
    assert not jax.config.jax_enable_x64
    record_pc_discrim()
    record_diehl_cook()
    record_evstdp()
    record_olshausen()
    record_pc_reconstruction()
    meta = {"versions": versions(), "exhibits": exhibits}
    np.savez_compressed(OUT, meta_json=np.asarray(json.dumps(meta, indent=1, sort_keys=True)), **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(arrays)} arrays, {len(exhibits)} exhibits)")


if __name__ == "__main__":
    main()

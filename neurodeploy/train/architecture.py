"""A task's default network: populations, projections, initial weights calibrated on the chip model.

Layout (``hidden`` H > 0): input →(AMPA/GABA, "auto") hidden →(auto) out, optionally hidden → hidden
(``recurrent``) and a slow input projection on the NMDA dendrite to the first ``hidden_slow``
hidden neurons (``tau_nmda``: memory from a slow synapse instead of axonal delays, as in WaveSense).
Without hidden neurons: input → out, optionally out → out. ``outputs_per_class`` K > 1 gives each
class K output neurons read out as one summed channel (a population read-out, ``"readout": "sum"``):
the class count Σ of K neurons has a relative mismatch spread ≈ σ/√K instead of σ. Population time constants come from the
task's hints (``tau_mem``, ``tau_ampa``, ``tau_nmda``, ``tau_gaba``; converted to currents through the
profile, τ = U_T·C/(κ·I_tau)).

Initial weights (unitless): feed-forward w ~ N(0.1, 0.1) (excitatory mean), recurrent within a hidden
population N(0, 0.06), output-to-output N(−0.06, 0.04) without self-connections, NMDA |N(0.1, 0.1)|
(a unit of ~10 initial standard deviations, so that Adam steps of 0.005–0.02 move a weight by a
useful fraction of its spread).
Their scale (``weight_scale``, A per unit) is then calibrated population by population (in order)
by bisection in log-space, so that on the nominal chip and a batch of training trials the
population fires at ``target_rate`` (default 15 Hz: just below saturation, neither silent nor
saturated — starts outside 5–30 Hz did not recover in our trials).
"""

from __future__ import annotations

import numpy as np

from ..network import network_from_dict

TAU_HINTS = ("tau_mem", "tau_ampa", "tau_nmda", "tau_gaba")


def _proj(source, target, w, synapse="auto", scale=1e-8, sparse=None) -> dict:
    d = {"source": source, "target": target, "synapse": synapse, "weight_scale": scale}
    if sparse is None:
        d["weight"] = np.asarray(w, np.float32).round(5).astype(float).tolist()
    else:
        pre, post = sparse
        d.update(pre=[int(x) for x in pre], post=[int(x) for x in post],
                 w=[float(x) for x in np.asarray(w, np.float32).round(5)])
    return d


def default_network(task, arch: dict, profile, seed: int = 0, name: str | None = None):
    """The untrained network for ``task`` with architecture ``arch`` (keys as ``Task.architecture()``)."""
    rng = np.random.default_rng([seed, 7919])
    n_in, C, H = task.n_inputs, task.n_classes, int(arch.get("hidden", 0) or 0)
    K = int(arch.get("outputs_per_class", 1) or 1)
    n_out = C * K
    rec = bool(arch.get("recurrent", False))
    pop = {k: float(arch[k]) for k in TAU_HINTS if arch.get(k)}
    if H == 0:
        pop.pop("tau_nmda", None)
    pops, projs = [], []
    ff = lambda a, b: np.clip(rng.normal(0.1, 0.1, (a, b)), -0.3, 0.4)  # noqa: E731
    if H > 0:
        pops.append({"name": "hidden", "size": H, **pop})
        projs.append(_proj("input", "hidden", ff(n_in, H)))
        slow = int(arch.get("hidden_slow", 0) or 0) if arch.get("tau_nmda") else 0
        if slow > 0:
            pre, post = np.divmod(np.arange(n_in * slow), slow)
            projs.append(_proj("input", "hidden", np.abs(rng.normal(0.1, 0.1, pre.size)), "nmda", sparse=(pre, post)))
        if rec:
            w = rng.normal(0.0, 0.06, (H, H))
            np.fill_diagonal(w, 0.0)
            projs.append(_proj("hidden", "hidden", w))
        pops.append({"name": "out", "size": n_out, **{k: v for k, v in pop.items() if k != "tau_nmda"}})
        projs.append(_proj("hidden", "out", ff(H, n_out)))
    else:
        pops.append({"name": "out", "size": n_out, **pop})
        projs.append(_proj("input", "out", ff(n_in, n_out)))
    if rec and H == 0 or arch.get("output_recurrent"):
        w = rng.normal(-0.06, 0.04, (n_out, n_out))
        np.fill_diagonal(w, 0.0)
        projs.append(_proj("out", "out", w))
    outputs = [{"population": "out"}] if K == 1 else \
        [{"population": "out", "indices": list(range(c * K, (c + 1) * K)), "readout": "sum"} for c in range(C)]
    raw = {"name": name or task.name.replace("-", "_"), "dt": float(task.dt), "n_inputs": int(n_in),
           "populations": pops, "projections": projs, "outputs": outputs, "metadata": {}}
    return network_from_dict(raw, f"architecture of {task.name}", profile=profile)


def calibrate(network, profile, x: np.ndarray, target_rate: float = 15.0, iters: int = 14):
    """Scale each population's incoming ``weight_scale`` so it fires at ``target_rate`` (Hz) on ``x``
    [B, T, n_in] (nominal chip), populations in file order; returns the new network."""
    import jax.numpy as jnp

    from ..sim import simulate
    from .structure import Structure

    st = Structure(network, profile)
    offs = network.offsets()
    entry_dst = st.slots.dst[st.entry_syn]
    factors = np.ones(len(network.populations))
    base_w = np.asarray(st.net.weight, np.float64)
    x = jnp.asarray(x, jnp.float32)
    for i, p in enumerate(network.populations):
        sel = (entry_dst >= offs[p.name]) & (entry_dst < offs[p.name] + p.size)
        if not sel.any():
            continue
        lo, hi = np.log(1e-4), np.log(1e4)

        def rate(logc):
            f = np.ones_like(base_w)
            for j, pj in enumerate(network.populations):
                s = (entry_dst >= offs[pj.name]) & (entry_dst < offs[pj.name] + pj.size)
                f[s] = factors[j]
            f[sel] = np.exp(logc)
            s, _, _ = simulate(st.net.replace(weight=jnp.asarray(base_w * f, jnp.float32)), x)
            return float(np.asarray(s)[..., offs[p.name]:offs[p.name] + p.size].mean() / network.dt)

        for _ in range(iters):
            mid = 0.5 * (lo + hi)
            if rate(mid) > target_rate:
                hi = mid
            else:
                lo = mid
        factors[i] = float(np.exp(0.5 * (lo + hi)))
    raw = network.to_json_dict()
    for k, pr in enumerate(network.projections):
        i = [p.name for p in network.populations].index(pr.target)
        raw["projections"][k]["weight_scale"] = float(np.float32(pr.weight_scale * factors[i]))
    return network_from_dict(raw, "calibrated architecture")

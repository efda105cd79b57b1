"""Does known noise help? cf-mesmo on Branin-Currin with Gaussian noise of known,
fidelity-dependent variance added to both objectives, run with the variances passed
(``Observation.variances``: fixed noise) and without (learned noise), scored by inference
hypervolume (``bench.harness.runs.inference_hv``, on the noise-free function).

Usage::

    PYTHONPATH=. .venv/bin/python -m bench.harness.noise_check [seeds] [evals]

The noise standard deviation is ``NOISE_SHARE * (1.5 - z)`` times each objective's range over
the box (so cheap evaluations are 3x noisier than full ones, as Monte-Carlo accuracy is).
"""

from __future__ import annotations

import json
import sys

import torch

from bench.harness.runs import inference_hv
from optimizer.problems import get_problem
from optimizer.suggest import suggest
from optimizer.types import Observation

NOISE_SHARE = 0.05
"""Noise standard deviation at the target fidelity, as a share of the objective's range / 1.5."""
OPTIONS = {"num_samples": 4, "raw_samples": 256, "num_restarts": 2}


def run(seed: int, evals: int, known: bool) -> list[float]:
    """Inference HV after every 5 evaluations of one run."""
    torch.set_num_threads(1)
    prob = get_problem("branin-currin")
    box = prob.evaluate_batch(torch.rand(4096, prob.space.dim,
                                         generator=torch.Generator().manual_seed(99),
                                         dtype=torch.double))
    spread = box.max(0).values - box.min(0).values  # m
    g = torch.Generator().manual_seed(1000 + seed)
    obs: list[Observation] = []
    out = []
    for k in range(evals):
        s = suggest(prob.space, prob.objectives, obs, [], 1, "cf-mesmo", seed, options=OPTIONS,
                    max_evaluations=evals)[0]
        values, cost = prob.evaluate(s.params, s.fidelity)
        sd = NOISE_SHARE * (1.5 - s.fidelity) * spread
        eps = torch.randn(len(prob.objectives), generator=g, dtype=torch.double) * sd
        noisy = {o.name: values[o.name] + float(eps[j]) for j, o in enumerate(prob.objectives)}
        var = {o.name: float(sd[j]) ** 2 for j, o in enumerate(prob.objectives)}
        obs.append(Observation(params=s.params, fidelity=s.fidelity, values=noisy, cost_s=cost,
                               variances=var if known else None))
        if (k + 1) % 5 == 0:
            out.append(inference_hv(prob, obs, seed))
    return out


if __name__ == "__main__":
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    evals = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    res = {f"{'known' if kn else 'learned'}/{s}": run(s, evals, kn)
           for s in range(seeds) for kn in (True, False)}
    print(json.dumps(res))

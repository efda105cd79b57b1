r"""CorrectNet+ error compensation: digital residual corrections after crossbar layers.

A :class:`Compensator` computes ``y + A y + c`` (a 1x1 convolution or a square linear map,
zero-initialized) on a crossbar layer's output; :func:`train_compensators` trains them under
injected crossbar noise with the network frozen, and :func:`select_compensation` chooses which
layers get one (exhaustive, greedy forward selection, or a REINFORCE policy search as in
[Eldebiky2023]_). Compensators cost digital multiply-accumulates, charged at
:data:`MAC_ENERGY_PJ_45NM`.

Training steps are scale-free: Adam moves every entry of a parameter by about its learning
rate per step whatever the gradient's size, and the gradient of ``A`` over a batch, ``Σ δ yᵀ``,
is close to rank one, so one step of ``lr`` on every entry changes ``A``'s spectral norm, hence
the layer's output, by up to ``lr·C`` relative. Each ``A`` therefore learns at ``lr / C``, and
``c`` at ``lr`` times the RMS of the layer's clean output: a step changes any layer's output by
about ``lr`` relative, whether it has 10 channels or 1024 and whatever its scale. The network
stays in eval mode while they learn (batch norm keeps its running statistics, dropout is off):
only ``A`` and ``c`` change.

References:
    .. [Eldebiky2023] A. Eldebiky et al., "CorrectNet+: Dealing with HW non-idealities in
       in-memory-computing platforms by error suppression and compensation", IEEE TCAD 2023.
    .. [Horowitz2014] M. Horowitz, "Computing's energy problem (and what we can do about
       it)", ISSCC 2014 (8-bit multiply 0.2 pJ + add 0.03 pJ at 45 nm).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Generator, Tensor, nn
from torch.func import functional_call

from simulator.config import CrossbarConfig
from simulator.mapping import DigitalModule, crossbar_layers, layer_shapes
from simulator.mitigation.chip_weights import ChipWeightInjector
from simulator.mitigation.resna import (
    CrossbarNoiseInjector,
    NoiseInjector,
    noisy_weights,
    read_noise_hooks,
)

__all__ = [
    "DEFAULT_LR",
    "MAC_ENERGY_PJ_45NM",
    "SEARCH_METHODS",
    "CompensationSearch",
    "Compensator",
    "combine_compensators",
    "compensation_overhead",
    "insert_compensators",
    "select_compensation",
    "train_compensators",
    "without_compensators",
]

MAC_ENERGY_PJ_45NM = 0.23
"""Energy of one 8-bit digital multiply-accumulate at 45 nm [pJ] [Horowitz2014]_; scaled
linearly with the node (a first-order CV² assumption)."""

SEARCH_METHODS: tuple[str, ...] = ("exhaustive", "greedy", "reinforce")
"""Subset searches of :func:`select_compensation`."""

DEFAULT_LR = 3e-2
"""Default learning rate of :func:`train_compensators`: relative change of a layer's output per
step. On digits-cnn (3 epochs, σ_p = 0.03/0.1/0.2) it gives the noisy accuracy of the earlier
unnormalized steps at lr 1e-2 (0.965/0.907/0.727, 8 draws); 1e-2 gives 0.965/0.897/0.684,
1e-1 0.949/0.915/0.784."""


class Compensator(DigitalModule):
    r"""Digital residual correction ``y + A y + c`` of a crossbar layer's output.

    ``A`` is `C x C` (a 1x1 convolution for `N x C x H x W` outputs, a linear map for
    `N x C`), zero-initialized so that an untrained compensator is the identity. As a
    :class:`~simulator.mapping.DigitalModule` it stays in the digital periphery (the wrapped
    ``layer`` goes onto crossbars); after :meth:`freeze` ``A`` and ``c`` are buffers (fixed
    digital constants).
    """

    def __init__(self, layer: nn.Module, channels: int) -> None:
        super().__init__()
        self.layer = layer
        self.channels = channels
        self.a = nn.Parameter(torch.zeros(channels, channels))
        self.c = nn.Parameter(torch.zeros(channels))

    def freeze(self) -> None:
        """Turn the trained correction into buffers."""
        a, c = self.a.detach().clone(), self.c.detach().clone()
        del self.a, self.c
        self.register_buffer("a", a)
        self.register_buffer("c", c)

    def forward(self, x: Tensor) -> Tensor:
        y = self.layer(x)
        if y.dim() == 4:
            corr = F.conv2d(y, self.a.view(self.channels, self.channels, 1, 1), self.c)
        else:
            corr = F.linear(y, self.a, self.c)
        return y + corr


def insert_compensators(model: nn.Module, names: list[str]) -> nn.Module:
    """Wrap the named crossbar layers of ``model`` (in place) in :class:`Compensator`."""
    layers = dict(crossbar_layers(model))
    for name in names:
        if name not in layers:
            raise ValueError(f"no crossbar layer named {name!r} to compensate.")
        module = layers[name]
        parent, _, child = name.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, child, Compensator(module, module.weight.shape[0]))
    return model


def without_compensators(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every :class:`Compensator` replaced by the layer it wraps (the
    moment model and the per-layer ADC search see the network without them)."""
    plain = copy.deepcopy(model)
    for name, module in list(plain.named_modules()):
        if isinstance(module, Compensator):
            parent, _, child = name.rpartition(".")
            setattr(plain.get_submodule(parent) if parent else plain, child, module.layer)
    return plain


def compensation_overhead(
    model: nn.Module, names: list[str], input_shape: tuple[int, ...], tech_node_nm: int
) -> dict[str, float]:
    """Digital MACs and energy per inference of compensators at ``names`` [pJ -> µJ]."""
    shapes = {s.name: s for s in layer_shapes(model, input_shape)}
    macs = sum(shapes[n].positions * shapes[n].out_features ** 2 for n in names)
    energy_pj = macs * MAC_ENERGY_PJ_45NM * tech_node_nm / 45.0
    return {"macs": float(macs), "energy_uj": energy_pj * 1e-6}


@dataclass
class CompensationSearch:
    """Result of :func:`select_compensation`."""

    layers: list[str]
    """Chosen layers."""
    reward: float
    """Reward of the choice."""
    evaluations: int
    """Distinct subsets evaluated."""
    history: list[dict[str, Any]] = field(default_factory=list)
    """Every evaluated subset with its reward."""


def select_compensation(
    names: list[str],
    reward: Callable[[tuple[str, ...]], float],
    *,
    method: str = "greedy",
    episodes: int = 40,
    lr: float = 0.5,
    seed: int = 0,
) -> CompensationSearch:
    r"""Choose the subset of layers to compensate that maximizes ``reward``.

    Args:
        names: Candidate layers.
        reward: Maps a sorted tuple of layer names to a scalar (e.g. accuracy under noise
            minus an overhead penalty); memoized here, so repeated subsets are free.
        method: ``"exhaustive"`` (all ``2**L`` subsets), ``"greedy"`` (forward selection,
            add the best layer while the reward improves) or ``"reinforce"`` (independent
            Bernoulli policy per layer, REINFORCE with a moving-average baseline).
        episodes: REINFORCE episodes.
        lr: REINFORCE step size on the logits.
        seed: Seed of the policy samples.

    Returns:
        A :class:`CompensationSearch`.

    Raises:
        ValueError: On an unknown ``method``.
    """
    if method not in SEARCH_METHODS:
        raise ValueError(f"method must be one of {SEARCH_METHODS}, got {method!r}.")
    cache: dict[tuple[str, ...], float] = {}
    history: list[dict[str, Any]] = []

    def score(subset: tuple[str, ...]) -> float:
        key = tuple(sorted(subset))
        if key not in cache:
            cache[key] = float(reward(key))
            history.append({"layers": list(key), "reward": cache[key]})
        return cache[key]

    if method == "exhaustive":
        subsets = [
            tuple(c) for r in range(len(names) + 1) for c in itertools.combinations(names, r)
        ]
        best = max(subsets, key=score)
    elif method == "greedy":
        best: tuple[str, ...] = ()
        current = score(best)
        while True:
            options = [tuple(sorted((*best, n))) for n in names if n not in best]
            if not options:
                break
            cand = max(options, key=score)
            if score(cand) <= current:
                break
            best, current = cand, score(cand)
    else:
        gen = torch.Generator().manual_seed(seed)
        logits = torch.zeros(len(names))
        baseline = None
        for _ in range(episodes):
            probs = torch.sigmoid(logits)
            pick = torch.rand(len(names), generator=gen) < probs
            r = score(tuple(n for n, k in zip(names, pick.tolist(), strict=True) if k))
            baseline = r if baseline is None else 0.8 * baseline + 0.2 * r
            logits += lr * (r - baseline) * (pick.float() - probs) / max(abs(baseline), 1e-6)
        greedy_policy = tuple(
            n for n, p in zip(names, torch.sigmoid(logits), strict=True) if p > 0.5
        )
        score(greedy_policy)
        best = max(cache, key=cache.__getitem__)
    return CompensationSearch(
        layers=list(best), reward=score(best), evaluations=len(cache), history=history
    )


def train_compensators(
    model: nn.Module,
    names: list[str],
    x: Tensor,
    y: Tensor,
    config: CrossbarConfig,
    *,
    epochs: int = 3,
    noise_scale: float = 1.0,
    lr: float = DEFAULT_LR,
    batch_size: int = 64,
    seed: int = 0,
    injector: NoiseInjector | None = None,
    chip: dict[str, Tensor] | None = None,
) -> nn.Module:
    r"""A copy of ``model`` with trained, frozen compensators after the ``names`` layers.

    The network's own parameters and buffers stay fixed (eval mode throughout); only the
    compensators learn (Adam on the cross-entropy, ``A`` at ``lr / C``, ``c`` at ``lr`` times
    the RMS of the layer's clean output on the first ``batch_size`` inputs; module docstring),
    under the crossbar noise of ``config`` injected as in
    :func:`~simulator.mitigation.resna.noise_aware_finetune`: a fresh noisy chip per batch
    (programming variation on the weights, read noise on the layer outputs, before the
    compensator).

    Args:
        model: The trained float model (not modified).
        names: Crossbar layers to compensate.
        x: A `N x *in_shape`-dim Tensor of training inputs.
        y: A `N`-dim Tensor of their classes.
        config: Noise levels.
        epochs: Training epochs, >= 0.
        noise_scale: Multiplier of the injected noise.
        lr: Adam learning rate: relative change of a layer's output per step.
        batch_size: Mini-batch size.
        seed: Seed of shuffling and noise.
        injector: Noise model (default: :class:`~simulator.mitigation.resna.CrossbarNoiseInjector`
            of ``config`` and ``noise_scale``).
        chip: The weights the target chip applies, by ``model``'s crossbar layer names
            (:func:`~simulator.mitigation.chip_weights.chip_weights`): the compensators learn
            them, with the noise model's noise on top
            (:class:`~simulator.mitigation.chip_weights.ChipWeightInjector`); ``None``: the
            noise alone.

    Returns:
        The compensated model (eval mode).

    Raises:
        ValueError: If ``epochs < 0`` or ``batch_size < 1``.
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs!r}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}.")
    base = insert_compensators(copy.deepcopy(model), names).eval()
    comps = [m for m in base.modules() if isinstance(m, Compensator)]
    if comps and epochs > 0:
        inj = injector if injector is not None else CrossbarNoiseInjector(config, noise_scale)
        if chip is not None:
            inj = ChipWeightInjector.for_model(chip, base, base=inj)
        _fit(base, comps, x, y, inj, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)
    for module in comps:
        module.freeze()
    return base.eval()


@torch.no_grad()
def _output_rms(model: nn.Module, comps: list[Compensator], x: Tensor) -> list[float]:
    """Root-mean-square clean output of every compensated layer on ``x`` (the scale that
    makes ``c``'s step relative), in the order of ``comps``."""
    rms = [1.0] * len(comps)

    def record(k: int) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], out: Tensor) -> None:
            rms[k] = max(float(out.pow(2).mean().sqrt()), 1e-12)

        return hook

    handles = [m.layer.register_forward_hook(record(k)) for k, m in enumerate(comps)]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return rms


def _fit(
    model: nn.Module,
    comps: list[Compensator],
    x: Tensor,
    y: Tensor,
    inj: NoiseInjector,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
) -> None:
    """Train the compensators of ``model`` (in place) under ``inj``'s noise."""
    layers = dict(crossbar_layers(model))
    gen = Generator().manual_seed(seed)
    for p in model.parameters():
        p.requires_grad_(False)
    rms = _output_rms(model, comps, x[:batch_size])
    groups = []
    for m, scale in zip(comps, rms, strict=True):
        m.a.requires_grad_(True)
        m.c.requires_grad_(True)
        groups += [{"params": [m.a], "lr": lr / m.channels}, {"params": [m.c], "lr": lr * scale}]
    opt = torch.optim.Adam(groups, lr=lr)

    with read_noise_hooks(layers, inj, gen):
        for _ in range(epochs):
            perm = torch.randperm(x.shape[0], generator=gen)
            for i in range(0, x.shape[0], batch_size):
                idx = perm[i : i + batch_size]
                out = functional_call(model, noisy_weights(layers, inj, gen), (x[idx],),
                                      strict=False)
                loss = F.cross_entropy(out, y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()


def combine_compensators(model: nn.Module, trained: dict[str, nn.Module]) -> nn.Module:
    r"""A copy of ``model`` with the compensator of each ``trained[name]`` model (trained on
    its own by :func:`train_compensators`) installed at ``name``, frozen."""
    combined = insert_compensators(copy.deepcopy(model), list(trained))
    modules = dict(combined.named_modules())
    for name, source in trained.items():
        src = dict(source.named_modules())[name]
        dst = modules[name]
        with torch.no_grad():
            dst.a.copy_(src.a)
            dst.c.copy_(src.c)
        dst.freeze()
    return combined.eval()

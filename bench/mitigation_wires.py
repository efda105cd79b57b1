"""IR drop alone on NeuroSim-sized arrays: the ``wires`` and ``compensation`` sections of
``bench/mitigation.py`` (vgg8 at 256x256 and 512x512), and the script's small helpers.

A full Monte-Carlo of every section does not fit a shared 2-core machine on vgg8, so these
read one noiseless chip with ideal periphery through first-order wires, one matrix product
per layer that equals the simulator's own per-slice read (checked per design)."""

from __future__ import annotations

import argparse
import copy
import math
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from simulator import params  # noqa: E402
from simulator.analog_model import AnalogModel  # noqa: E402
from simulator.config import CrossbarConfig  # noqa: E402
from simulator.mapping import crossbar_layers, unrolled_weight  # noqa: E402
from simulator.mitigation import remap  # noqa: E402
from simulator.mitigation.chip_weights import effective_matrix  # noqa: E402
from simulator.workloads.base import stratified_order  # noqa: E402

# -- wires: IR drop alone on NeuroSim-sized arrays (vgg8) --------------------------------------

WIRES_R_OHM = (params.WIRE_R_OHM, 5.57)
"""Wire resistance per cell segment [Ω]: the default (``wire_r_ohm_for(22)``, the mean of the
12F row and 4F column segments of the 1T1R cell) and 5.57 Ω, the 12F (row) segment of a
22 nm 1T1R cell by NeuroSim V1.4's formula (``shared/research/simulator.md``, "Wire resistance
per cell"; the upper end of the 0.6-5.6 Ω NeuroSim range at 22-32 nm)."""

WIRES_SIZES = (256, 512)
"""Array sizes of the wires section (rows = columns)."""


class _EffectiveLayer(nn.Module):
    r"""One programmed :class:`~simulator.analog.AnalogLayer` with ideal periphery (no ADC, no
    read noise) as a single matrix product: with linear wires and no ADC the layer is linear
    in its quantized input ``q``, ``y = (q @ G_eff @ combine / Δg - offset·Σq) · s_w · s_x + b``,
    exactly what the layer's bit-serial, per-slice read computes (checked against it on
    ``check_images`` images per design), at the cost of one clean pass."""

    def __init__(self, layer: Any) -> None:
        super().__init__()
        self.register_buffer("weight", effective_matrix(layer).to(layer.dtype))
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layer = self.layer
        q = layer._quantize(layer._unroll(x.to(layer.dtype), 1))[0]  # M x K
        y = q @ self.weight
        if layer.mapped.offset:
            y = y - layer.mapped.offset * q.sum(-1, keepdim=True)
        y = y * (layer.mapped.weight_scale * layer.input_scale)
        if layer.bias is not None:
            y = y + layer.bias.to(y.dtype)
        return layer._fold(y.unsqueeze(0), x)


def _column_loss(layer: Any) -> dict[str, float]:
    """Relative current loss ``1 - Σ_i G_eff,ij / Σ_i g_ij`` of every read column with every
    used word line at full voltage (nominal arrays, the programmed draw's wires)."""
    g = layer._read_view(layer._conductance()).double()
    loss = 1.0 - layer.g_eff.double().sum(-2) / g.sum(-2)  # 1 x row_tiles x n_used
    cell = 1.0 - layer.g_eff.double() / g
    return {
        "column_loss_mean": float(loss.mean()),
        "column_loss_max": float(loss.max()),
        "cell_loss_max": float(cell.max()),
    }


@torch.no_grad()
def calibrate_inputs(analog: AnalogModel, x: torch.Tensor) -> None:
    """The input steps of every layer as :meth:`AnalogLayer.calibrate` sets them (peak of
    the float activations over ``2**input_bits - 1``), without the ADC range, which ideal
    periphery does not use and which costs the per-slice products of 4096 calibration
    vectors per layer."""
    captured = analog.layer_inputs(x)
    for name, layer in analog.layers.items():
        xin, qmax = captured[name], 2**layer.config.input_bits - 1
        peak = float(xin.abs().max()) if xin.numel() else 0.0
        layer.input_scale = peak / qmax if peak > 0 else 1.0
        layer.signed_inputs = bool(xin.numel()) and float(xin.min()) < 0
        layer.positions = layer.row_positions(xin)


def wires_logits(
    model: torch.nn.Module,
    config: CrossbarConfig,
    x: torch.Tensor,
    x_calib: torch.Tensor,
    *,
    ir_drop: str,
    check_images: int = 2,
    batch: int = 32,
    programmed: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Logits of one noiseless chip with ideal periphery (no ADC, no device noise) seen
    through ``ir_drop`` wires, the per-layer IR-drop magnitude, and the check against the
    simulator's own per-slice read (:func:`calibrate_inputs` instead of a calibration).
    ``programmed``: the chip carries ``config``'s programming-time effects (variation,
    stuck-at faults; drawn from ``seed``), still no read noise (``read_sigma`` must be 0)."""
    if programmed and config.read_sigma:
        raise ValueError("programmed chips are read without read noise: set read_sigma=0.")
    t0 = time.perf_counter()
    effects = None if programmed else []
    analog = AnalogModel(model, config, ir_drop=ir_drop, nonidealities=effects, adc=False)
    calibrate_inputs(analog, x_calib)
    analog.program(1, torch.Generator().manual_seed(seed))
    t_setup = time.perf_counter() - t0
    network = analog.float_model
    magnitude = {}
    for name, layer in analog.layers.items():
        if ir_drop != "ideal":
            magnitude[name] = _column_loss(layer)
        _swap(network, name, _EffectiveLayer(layer))
    t1 = time.perf_counter()
    with torch.no_grad():
        logits = torch.cat([network(x[i : i + batch]) for i in range(0, x.shape[0], batch)])
    t_eval = time.perf_counter() - t1
    check = None
    if check_images:
        with torch.no_grad():
            ref = analog(x[:check_images])[0]
        check = float((ref - logits[:check_images]).abs().max() / ref.abs().max())
    for layer in analog.layers.values():
        layer.g_eff = None
    return {
        "logits": logits,
        "magnitude": magnitude,
        "check_rel_error": check,
        "setup_s": t_setup,
        "eval_s": t_eval,
    }


def _swap(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, child, new)


def remap_limited(
    model: nn.Module,
    config: CrossbarConfig,
    sensitivity: dict[str, torch.Tensor],
    scheme: str,
    *,
    drs_rounds: int,
    drs_max_rows: int,
) -> tuple[nn.Module, dict[str, str], float | None]:
    """:func:`remap.remap_model`, except that DRS refines only layers of at most
    ``drs_max_rows`` physical rows (its row assignment is an ``n x n`` linear assignment,
    cubic in ``n``); larger layers keep the SRS placement. Returns the model, the scheme each
    layer got and the summed placement cost ``Σ S·a`` (first-order IR loss weighted by
    sensitivity) over layers."""
    new = copy.deepcopy(model)
    used: dict[str, str] = {}
    total: float | None = 0.0
    for name, module in crossbar_layers(new):
        w = unrolled_weight(module)
        s = sensitivity.get(name)  # None: scheme "none" alone, no sensitivity computed
        slots = math.ceil(w.shape[1] / config.rows) * config.rows
        if scheme == "none":
            placement = remap.identity_placement(w.shape[0], w.shape[1], config)
            used[name] = "none"
        elif scheme == "drs" and slots <= drs_max_rows:
            placement = remap.drs_placement(s, w, config, rounds=drs_rounds)
            used[name] = "drs"
        else:
            placement = remap.srs_placement(s, config)
            used[name] = "srs"
        total = None if s is None or total is None else (
            total + remap.placement_cost(s, placement, w, config))
        if scheme == "none":
            continue
        if isinstance(module, nn.Conv2d):
            wrapped: nn.Module = remap.RemappedConv2d(module, placement)
        else:
            bias = None if module.bias is None else module.bias.detach()
            wrapped = remap.RemappedLinear(w, bias, placement)
        _swap(new, name, wrapped)
    return new, used, total


def top1(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy of `N x classes` logits against `N` labels."""
    return float((logits.argmax(-1) == y).double().mean())


def _se(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 0.0) / n)


def bench_wires(w: Any, args: argparse.Namespace, save: Any) -> dict[str, Any]:
    """IR drop alone: software, ideal wires and none / SRS / DRS under first-order wires, on
    one noiseless chip with ideal periphery, per array size and wire resistance."""
    keep = stratified_order(w.y_test)[: args.test_limit].sort().values
    x, y = w.x_test[keep], w.y_test[keep]
    n = int(y.shape[0])
    with torch.no_grad():
        software = top1(w.model(x), y)
    t0 = time.perf_counter()
    schemes = [s for s in remap.SCHEMES if s in args.schemes]
    sens = {} if schemes == ["none"] else remap.weight_sensitivity(w.model, w.x_train, w.y_train)
    out: dict[str, Any] = {
        "protocol": (
            "one noiseless chip (no programming/read noise, no faults), ideal periphery (no "
            "ADC), 8-bit inputs and weights on 1-bit cells (the defaults otherwise); "
            "first-order IR drop (resummed); remap sensitivity: Taylor, training split"
        ),
        "test_images": n,
        "software_accuracy": software,
        "software_accuracy_se": _se(software, n),
        "sensitivity_time_s": time.perf_counter() - t0,
        "drs_rounds": args.drs_rounds,
        "drs_max_rows": args.drs_max_rows,
        "sizes": list(args.sizes), "schemes": schemes,
        "wires_r_ohm": list(args.wires),
        "rows": [],
    }
    save(out)
    for size in args.sizes:
        cfg0 = CrossbarConfig(
            rows=size, cols=size, prog_sigma=0.0, read_sigma=0.0, saf_sa0=0.0, saf_sa1=0.0
        )
        ideal = wires_logits(w.model, cfg0, x, w.x_calib, ir_drop="ideal", check_images=0)
        ideal_logits = ideal["logits"]
        ideal_acc = top1(ideal_logits, y)
        ideal_ok = ideal_logits.argmax(-1) == y
        for r in args.wires:
            cfg = cfg0.replace(wire_r_ohm=r)
            row: dict[str, Any] = {
                "rows": size,
                "wire_r_ohm": r,
                "ideal_wires": {
                    "accuracy": ideal_acc,
                    "drop_vs_software": software - ideal_acc,
                    "eval_s": ideal["eval_s"],
                },
            }
            none_ok = None
            for scheme in schemes:
                t0 = time.perf_counter()
                model, used, cost_sa = remap_limited(
                    w.model, cfg, sens, scheme,
                    drs_rounds=args.drs_rounds, drs_max_rows=args.drs_max_rows,
                )
                t_map = time.perf_counter() - t0
                res = wires_logits(
                    model, cfg, x, w.x_calib, ir_drop="first_order",
                    check_images=args.check_images,
                )
                logits = res["logits"]
                ok = logits.argmax(-1) == y
                acc = top1(logits, y)
                cell: dict[str, Any] = {
                    "accuracy": acc,
                    "drop_vs_ideal_wires": ideal_acc - acc,
                    "drop_vs_software": software - acc,
                    "recovered_fraction_of_software": acc / software if software else None,
                    "flips_vs_ideal_wires": {
                        "lost": int((ideal_ok & ~ok).sum()),
                        "gained": int((~ideal_ok & ok).sum()),
                    },
                    "logit_rel_error": float(
                        (logits - ideal_logits).norm() / ideal_logits.norm()
                    ),
                    "placement_cost": cost_sa,
                    "layer_schemes": used,
                    "remap_time_s": t_map,
                    "setup_s": res["setup_s"],
                    "eval_s": res["eval_s"],
                    "check_rel_error": res["check_rel_error"],
                }
                if scheme == "none":
                    none_ok = ok
                    row["magnitude"] = res["magnitude"]
                    row["worst_column_loss"] = max(
                        m["column_loss_max"] for m in res["magnitude"].values()
                    )
                else:
                    # paired against the identity mapping: images each one alone gets right
                    cell["vs_none"] = {
                        "none_only": int((none_ok & ~ok).sum()),
                        "scheme_only": int((~none_ok & ok).sum()),
                    }
                row[scheme] = cell
                print(
                    f"wires {size}x{size} r={r:.2f}: {scheme} acc {acc:.3f} "
                    f"(ideal {ideal_acc:.3f}, sw {software:.3f}) check {res['check_rel_error']} "
                    f"[{t_map:.0f}+{res['setup_s']:.0f}+{res['eval_s']:.0f}s]",
                    flush=True,
                )
                save(out | {"rows": [*out["rows"], row]})
            out["rows"].append(row)
            if len(schemes) < len(remap.SCHEMES):
                save(out)
                continue
            drops = [row[s]["drop_vs_ideal_wires"] for s in remap.SCHEMES]
            pair_se = [
                math.sqrt(row[s]["vs_none"]["none_only"] + row[s]["vs_none"]["scheme_only"]) / n
                for s in remap.SCHEMES[1:]
            ]
            row["ordering"] = {
                "drops_none_srs_drs": drops,
                "paper_order_none_gt_srs_gt_drs": bool(drops[0] > drops[1] > drops[2]),
                "paired_se_srs_drs_vs_none": pair_se,
                "ir_costs_accuracy": bool(drops[0] > 2 * _se(ideal_acc, n)),
            }
            save(out)
    return out


def plot_wires(results: dict[str, Any], path: Path) -> None:
    """The ``wires`` section's two panels and, when run, the ``compensation`` panel; a
    compensation-only run gets that panel alone, a run with neither no figure."""
    from bench.mitigation_cli import save_figure  # it imports this module

    comp = results.get("compensation")
    if "wires" not in results:
        if comp:
            _plot_compensation_only(results, comp, path)
        return
    rows = results["wires"]["rows"]
    sizes = sorted({r["rows"] for r in rows})
    fig, axes = plt.subplots(1, 3 if comp else 2, figsize=(18 if comp else 12, 4.5))
    ax = axes[0]
    for size in sizes:
        rr = [r for r in rows if r["rows"] == size]
        xs = [r["wire_r_ohm"] for r in rr]
        for scheme, marker in zip(remap.SCHEMES, "osd", strict=True):
            if scheme not in rr[0]:
                continue
            ax.plot(xs, [100 * r[scheme]["drop_vs_ideal_wires"] for r in rr], marker=marker,
                    label=f"{size}x{size} {scheme}")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("wire resistance per segment [Ω]")
    ax.set_ylabel("accuracy drop vs ideal wires [points]")
    ax.set_title("IR drop alone: none / SRS / DRS")
    ax.legend(fontsize=7)
    ax = axes[1]
    for size in sizes:
        rr = [r for r in rows if r["rows"] == size]
        ax.plot([r["wire_r_ohm"] for r in rr], [100 * r["worst_column_loss"] for r in rr],
                "o-", label=f"{size}x{size}")
    ax.set_xlabel("wire resistance per segment [Ω]")
    ax.set_ylabel("worst column current loss [%]")
    ax.set_title("IR-drop magnitude (all rows driven, first order)")
    ax.legend(fontsize=8)
    if comp:
        from bench.mitigation_compensation import plot_compensation

        plot_compensation(axes[2], comp)
    for a in axes:
        a.grid(alpha=0.3)
    save_figure(
        fig,
        f"{results['workload']}: {results['wires']['test_images']} test images, one noiseless "
        "chip, ideal periphery",
        path,
    )


def _plot_compensation_only(results: dict[str, Any], comp: dict[str, Any], path: Path) -> None:
    from bench.mitigation_cli import save_figure
    from bench.mitigation_compensation import plot_compensation

    fig, ax = plt.subplots(figsize=(9, 4.5))
    plot_compensation(ax, comp)
    ax.grid(alpha=0.3)
    save_figure(fig, f"{results['workload']}: {comp['test_images']} test images, "
                f"{comp['epochs']} epoch(s), re-mapping {comp.get('remap', 'none')}", path)

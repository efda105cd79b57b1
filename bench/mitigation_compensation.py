"""CorrectNet+ compensation on NeuroSim-sized arrays: the ``compensation`` section of
``bench/mitigation.py`` (vgg8 at 256x256 and 512x512 through first-order wires), read as the
``wires`` section reads (:mod:`bench.mitigation_wires`: one noiseless or programmed chip,
ideal periphery, one product per layer).

Two trainings of compensators after every crossbar layer:

* ``compensation_all``: as CorrectNet+ prescribes, once, under random device noise of a
  σ_p = 0.03 config (not IR-aware; the injected noise does not depend on the array size or
  wires);
* ``compensation_chip``: per array size and wire resistance, against the weights that size's
  noiseless chip applies (:func:`simulator.mitigation.chip_weights.noiseless_chip_weights`: weight
  quantization and first-order IR drop) with the same device noise on top.

With ``--comp-remap srs|drs`` the section also reads the network re-mapped by that scheme
(:func:`bench.mitigation_wires.remap_limited`, per size and resistance) without compensators
(``remap_off``) and with chip-aware compensators trained on the re-mapped chip
(``remap_compensation_chip``): the joint method, re-mapping first so that the compensators
learn the residual error of the placement the chip will hold
(:func:`simulator.mitigation.apply.prepare` orders the knobs the same way).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from bench.mitigation_wires import remap_limited, top1, wires_logits
from simulator.config import CrossbarConfig
from simulator.mapping import crossbar_layers
from simulator.mitigation import correctnet, remap
from simulator.mitigation.chip_weights import noiseless_chip_weights
from simulator.workloads.base import stratified_order

TRAIN_PROG_SIGMA = 0.03
"""Programming variation of the compensators' training noise and of the programmed chips;
read noise in training is a third of it."""

LABELS = ("off", "compensation_all", "compensation_chip")
"""Networks read at every size and resistance: no compensators, device-noise compensators,
chip-aware compensators (module docstring)."""

REMAP_LABELS = ("remap_off", "remap_compensation_chip")
"""Further networks with ``--comp-remap``: re-mapped, then chip-aware compensators on it."""


def bench_compensation(w: Any, args: argparse.Namespace, save: Any) -> dict[str, Any]:
    """Both compensator trainings (module docstring), read through first-order wires at every
    size and resistance on the noiseless chip and on ``args.seeds`` chips programmed with
    σ_p = 0.03 variation (no read noise)."""
    keep = stratified_order(w.y_test)[: args.test_limit].sort().values
    x, y = w.x_test[keep], w.y_test[keep]
    with torch.no_grad():
        software = top1(w.model(x), y)
    sigma = TRAIN_PROG_SIGMA
    train_cfg = CrossbarConfig(prog_sigma=sigma, read_sigma=sigma / 3)
    names = [name for name, _ in crossbar_layers(w.model)]
    n_train = min(args.comp_train, w.x_train.shape[0])
    x_tr, y_tr = w.x_train[:n_train], w.y_train[:n_train]

    scheme = args.comp_remap
    sens = {} if scheme == "none" else remap.weight_sensitivity(w.model, w.x_train, w.y_train)

    def train(chip: dict[str, torch.Tensor] | None = None, base: torch.nn.Module | None = None
              ) -> tuple[torch.nn.Module, float]:
        t0 = time.perf_counter()
        net = w.model if base is None else base
        layers = names if base is None else [name for name, _ in crossbar_layers(base)]
        model = correctnet.train_compensators(net, layers, x_tr, y_tr, train_cfg,
                                              epochs=args.comp_epochs, lr=args.comp_lr,
                                              chip=chip)
        return model, time.perf_counter() - t0

    comp, t_train = train()
    with torch.no_grad():
        comp_software = top1(comp(x), y)
    out: dict[str, Any] = {
        "test_images": int(y.shape[0]), "software_accuracy": software,
        "compensated_software_accuracy": comp_software,
        "train_images": n_train, "epochs": args.comp_epochs, "lr": args.comp_lr,
        "train_time_s": t_train,
        "trained_at_prog_sigma": sigma, "trained_at_read_sigma": sigma / 3,
        "programmed_prog_sigma": sigma, "programmed_chips": args.seeds, "remap": scheme,
        "rows": [],
    }
    for size in args.sizes:
        quiet = CrossbarConfig(rows=size, cols=size, prog_sigma=0.0, read_sigma=0.0,
                               saf_sa0=0.0, saf_sa1=0.0)
        ideal = top1(wires_logits(w.model, quiet, x, w.x_calib, ir_drop="ideal",
                                  check_images=0)["logits"], y)
        for r in args.wires:
            wired = quiet.replace(wire_r_ohm=r)
            aware, t_aware = train(noiseless_chip_weights(w.model, wired))
            row: dict[str, Any] = {"rows": size, "wire_r_ohm": r, "off_ideal_wires": {
                "accuracy": ideal, "fraction_of_software": ideal / software},
                "chip_train_time_s": t_aware}
            labels, models = list(LABELS), [w.model, comp, aware]
            if scheme != "none":
                mapped, used, _ = remap_limited(w.model, wired, sens, scheme,
                                                drs_rounds=args.drs_rounds,
                                                drs_max_rows=args.drs_max_rows)
                both, t_both = train(noiseless_chip_weights(mapped, wired), base=mapped)
                row.update(remap_layers=used, remap_chip_train_time_s=t_both)
                labels += REMAP_LABELS
                models += [mapped, both]
            for label, model in zip(labels, models, strict=True):
                for name, cfg, seeds in (("noiseless", wired, [0]),
                                         ("programmed", wired.replace(prog_sigma=sigma),
                                          list(range(args.seeds)))):
                    accs = [top1(wires_logits(model, cfg, x, w.x_calib, ir_drop="first_order",
                                              check_images=0, programmed=name == "programmed",
                                              seed=seed)["logits"], y) for seed in seeds]
                    acc = sum(accs) / len(accs)
                    row[f"{label}_{name}"] = {"accuracy": acc, "per_chip": accs,
                                              "fraction_of_software": acc / software}
                    print(f"compensation {size}x{size} r={r:.2f} {label} {name}: {acc:.3f} "
                          f"({acc / software:.1%} of software)", flush=True)
            out["rows"].append(row)
            save(out)
    out["overhead"] = correctnet.compensation_overhead(
        w.model, names, w.input_shape, train_cfg.tech_node_nm
    )
    return out


def plot_compensation(ax: Any, comp: dict[str, Any]) -> None:
    """Accuracy as a fraction of software per network and chip, per size and resistance."""
    labels = [f"{r['rows']}x{r['rows']}\n{r['wire_r_ohm']:.2f} Ω" for r in comp["rows"]]
    names = {"off": "off", "compensation_all": "comp. (noise)",
             "compensation_chip": "comp. (chip)", "remap_off": f"{comp.get('remap')}",
             "remap_compensation_chip": f"{comp.get('remap')} + comp. (chip)"}
    cells = [(f"{k}_{chip}", f"{v}, {chip}") for k, v in names.items()
             for chip in ("noiseless", "programmed") if f"{k}_{chip}" in comp["rows"][0]]
    width = 0.8 / len(cells)
    for k, (key, label) in enumerate(cells):
        ax.bar([i + (k - (len(cells) - 1) / 2) * width for i in range(len(labels))],
               [100 * r[key]["fraction_of_software"] for r in comp["rows"]], width, label=label)
    ax.axhline(95, color="k", lw=0.8, ls="--", label="95 % of software")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel("accuracy [% of software]")
    ax.set_title("CorrectNet+ compensation (all layers) under first-order wires")
    ax.legend(fontsize=6)

"""Mitigation benchmark: each method on vs off under increasing noise, on digits-cnn.

For every method it measures the accuracy (mean ± std over programmed chips, one noise seed
each, the simulator's own Monte-Carlo on the whole test split) with the method off and on,
the training time it adds and the hardware overhead the cost model charges:

* moments: per-layer output-variance error of the analytic model vs Monte-Carlo, analytic vs
  Monte-Carlo accuracy and their wall times;
* resna: noise-aware fine-tuning (3 epochs) vs the plain model;
* remap: none / SRS / DRS under wire resistance (first-order IR drop);
* correctnet: Lipschitz-regularized fine-tuning, compensation (all layers, greedy search;
  greedy vs exhaustive vs REINFORCE on the same reward), per-layer ADC bits (ADC energy);
* faults: none / fault-aware rows / read-verify-write / both under stuck-at faults, plus the
  programming energy and time of read-verify-write.

Usage: ``python -m bench.mitigation [--quick] [--only SECTION ...]`` -> ``mitigation.json``
+ ``.png``; ``--workload vgg8``: :mod:`bench.mitigation_wires` and ``_compensation``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from bench import mitigation_cli as cli  # noqa: E402
from bench import mitigation_compensation as compensation  # noqa: E402
from bench import mitigation_wires as wires  # noqa: E402
from simulator import cost  # noqa: E402
from simulator.analog_model import AnalogModel  # noqa: E402
from simulator.config import CrossbarConfig  # noqa: E402
from simulator.estimators.analytic import analytic_accuracy  # noqa: E402
from simulator.estimators.moment_sampling import monte_carlo_moments  # noqa: E402
from simulator.estimators.moments import propagate_moments  # noqa: E402
from simulator.estimators.referral import layer_noise  # noqa: E402
from simulator.mapping import crossbar_layers, layer_shapes  # noqa: E402
from simulator.mitigation import apply, correctnet, faults, remap, resna  # noqa: E402
from simulator.workloads import get_workload  # noqa: E402

RESULTS = Path(__file__).parent / "results"
SIGMAS = (0.03, 0.1, 0.2)
"""Programming σ (fraction of the window); read σ is a third of it."""


def _config(sigma: float, **kw: Any) -> CrossbarConfig:
    base = {"prog_sigma": sigma, "read_sigma": sigma / 3, "rows": 128, "cols": 128}
    return CrossbarConfig(**{**base, **kw})


def mc_accuracy(
    model: torch.nn.Module,
    config: CrossbarConfig,
    w: Any,
    seeds: int,
    *,
    ir_drop: str = "ideal",
    prepared: apply.Prepared | None = None,
) -> dict[str, Any]:
    """Accuracy of ``seeds`` programmed chips (mean, std, per chip) and wall time."""
    t0 = time.perf_counter()
    analog = AnalogModel(model, config, ir_drop=ir_drop)
    apply.configure_analog(analog, config, prepared or apply.Prepared(model=model))
    analog.calibrate(w.x_calib)
    gen = torch.Generator().manual_seed(0)
    analog.program(seeds, gen)
    analog.set_generator(gen)
    correct = torch.zeros(seeds, dtype=torch.float64)
    with torch.no_grad():
        for chunk in analog.chunks(w.y_test.shape[0]):
            out = analog(w.x_test[chunk])
            correct += (out.argmax(-1) == w.y_test[chunk]).sum(-1).double()
    acc = correct / w.y_test.shape[0]
    return {
        "mean": float(acc.mean()),
        "std": float(acc.std()),
        "per_chip": acc.tolist(),
        "time_s": time.perf_counter() - t0,
    }


def bench_moments(w: Any, seeds: int) -> dict[str, Any]:
    out: dict[str, Any] = {"per_layer": {}, "accuracy": []}
    x = w.x_test[:32]
    cfg = _config(0.1, saf_sa0=0.0, saf_sa1=0.0)
    noise = layer_noise(cfg, w.model, w.x_calib, deterministic=False)
    t0 = time.perf_counter()
    mc = monte_carlo_moments(w.model, x, noise, n_draws=2000, seed=0)
    t_mc = time.perf_counter() - t0
    for mode in ("full", "diag"):
        t0 = time.perf_counter()
        trace = propagate_moments(w.model, x, noise, mode=mode).by_name()
        errs = {
            name: float((trace[name].var - ref.var).abs().sum() / ref.var.sum())
            for name, ref in mc.items()
        }
        out["per_layer"][mode] = {"rel_var_error": errs, "time_s": time.perf_counter() - t0}
    out["per_layer"]["mc_time_s_2000_draws"] = t_mc
    for sigma in SIGMAS:
        cfg = _config(sigma)
        ref = mc_accuracy(w.model, cfg, w, seeds)
        row = {"prog_sigma": sigma, "montecarlo": ref}
        for mode in ("full", "diag"):
            t0 = time.perf_counter()
            r = analytic_accuracy(cfg, w.model, w.x_test, w.y_test, calib_x=w.x_calib, mode=mode)
            row[mode] = {
                "accuracy": r.accuracy,
                "accuracy_std": r.accuracy_std,
                "time_s": time.perf_counter() - t0,
            }
        out["accuracy"].append(row)
        print(
            f"moments σ={sigma}: MC {ref['mean']:.3f}±{ref['std']:.3f} "
            f"full {row['full']['accuracy']:.3f} diag {row['diag']['accuracy']:.3f}"
        )
    return out


def bench_resna(w: Any, seeds: int, epochs: int) -> dict[str, Any]:
    rows = []
    for sigma in SIGMAS:
        cfg = _config(sigma)
        off = mc_accuracy(w.model, cfg, w, seeds)
        tuned = resna.noise_aware_finetune(w.model, w.x_train, w.y_train, cfg, epochs=epochs)
        on = mc_accuracy(tuned.model, cfg, w, seeds)
        rows.append({"prog_sigma": sigma, "off": off, "on": on, "train_time_s": tuned.train_time_s})
        print(
            f"resna σ={sigma}: off {off['mean']:.3f} on {on['mean']:.3f} "
            f"({tuned.train_time_s:.1f}s)"
        )
    return {"epochs": epochs, "rows": rows}


def ir_logit_error(model: torch.nn.Module, cfg: CrossbarConfig, w: Any) -> float:
    """Mean squared logit error of first-order IR drop against ideal wires, noiseless chips
    with ideal periphery (isolates the wires)."""
    outs = []
    for mode in ("ideal", "first_order"):
        analog = AnalogModel(model, cfg, ir_drop=mode, nonidealities=[], adc=False)
        analog.calibrate(w.x_calib)
        analog.program(1)
        with torch.no_grad():
            outs.append(analog(w.x_test)[0])
    return float(((outs[1] - outs[0]) ** 2).mean())


def bench_remap(w: Any, seeds: int) -> dict[str, Any]:
    rows = []
    sens = remap.weight_sensitivity(w.model, w.x_train, w.y_train)
    for r_wire in (2.0, 5.0, 10.0, 30.0, 60.0):
        cfg = _config(0.03, wire_r_ohm=r_wire)
        row: dict[str, Any] = {"wire_r_ohm": r_wire}
        for scheme in remap.SCHEMES:
            t0 = time.perf_counter()
            model = remap.remap_model(w.model, cfg, sens, scheme=scheme)
            t_map = time.perf_counter() - t0
            row[scheme] = mc_accuracy(model, cfg, w, seeds, ir_drop="first_order")
            row[scheme]["remap_time_s"] = t_map
            row[scheme]["logit_mse"] = ir_logit_error(model, cfg, w)
        ideal = mc_accuracy(w.model, cfg, w, seeds, ir_drop="ideal")
        row["ideal_wires"] = ideal
        rows.append(row)
        print(
            "remap logit MSE: " + " ".join(f"{k} {row[k]['logit_mse']:.4f}" for k in remap.SCHEMES)
        )
        print(
            f"remap r={r_wire}: ideal {ideal['mean']:.3f} none {row['none']['mean']:.3f} "
            f"srs {row['srs']['mean']:.3f} drs {row['drs']['mean']:.3f}"
        )
    return {"rows": rows, "sensitivity": "taylor"}


def bench_correctnet(w: Any, seeds: int, epochs: int) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": []}
    names = [n for n, _ in crossbar_layers(w.model)]
    for sigma in SIGMAS:
        cfg = _config(sigma)
        row: dict[str, Any] = {"prog_sigma": sigma, "off": mc_accuracy(w.model, cfg, w, seeds)}
        lam = resna.noise_aware_finetune(
            w.model,
            w.x_train,
            w.y_train,
            cfg,
            epochs=epochs,
            noise_scale=0.0,
            extra_loss=lambda m: 0.01 * correctnet.lipschitz_penalty(m),
        )
        row["lipschitz"] = mc_accuracy(lam.model, cfg, w, seeds)
        row["lipschitz"]["train_time_s"] = lam.train_time_s
        row["lipschitz"]["spectral_norms"] = correctnet.layer_spectral_norms(lam.model)
        t0 = time.perf_counter()
        comp = correctnet.train_compensators(w.model, names, w.x_train, w.y_train, cfg, epochs=3)
        row["compensation_all"] = mc_accuracy(comp, cfg, w, seeds)
        row["compensation_all"]["train_time_s"] = time.perf_counter() - t0
        row["compensation_all"]["overhead"] = correctnet.compensation_overhead(
            w.model, names, w.input_shape, cfg.tech_node_nm
        )
        out["rows"].append(row)
        print(
            f"correctnet σ={sigma}: off {row['off']['mean']:.3f} lipschitz "
            f"{row['lipschitz']['mean']:.3f} comp {row['compensation_all']['mean']:.3f}"
        )
    out["spectral_norms_start"] = correctnet.layer_spectral_norms(w.model)

    # Layer choice: the same reward for every search method (held-out noisy accuracy minus
    # a penalty proportional to the compensation energy share).
    cfg = _config(SIGMAS[-1])
    n_val = 256
    x_tr, y_tr = w.x_train[n_val:], w.y_train[n_val:]
    x_val, y_val = w.x_train[:n_val], w.y_train[:n_val]
    t0 = time.perf_counter()
    single = {
        n: correctnet.train_compensators(w.model, [n], x_tr, y_tr, cfg, epochs=2) for n in names
    }
    t_single = time.perf_counter() - t0
    base_energy = cost.estimate(cfg, layer_shapes(w.model, w.input_shape)).energy_uj

    def reward(subset: tuple[str, ...]) -> float:
        model = correctnet.combine_compensators(w.model, {n: single[n] for n in subset})
        acc = apply.noisy_accuracy(model, x_val, y_val, cfg, draws=4)
        extra = correctnet.compensation_overhead(
            w.model, list(subset), w.input_shape, cfg.tech_node_nm
        )["energy_uj"]
        return acc - 0.5 * extra / base_energy

    searches = {}
    for method in correctnet.SEARCH_METHODS:
        t0 = time.perf_counter()
        res = correctnet.select_compensation(names, reward, method=method, episodes=30)
        searches[method] = {
            "layers": res.layers,
            "reward": res.reward,
            "evaluations": res.evaluations,
            "time_s": time.perf_counter() - t0,
        }
        print(f"search {method}: {res.layers} reward {res.reward:.4f} ({res.evaluations} evals)")
    chosen = searches["greedy"]["layers"]
    model = correctnet.combine_compensators(w.model, {n: single[n] for n in chosen})
    out["search"] = {
        "prog_sigma": SIGMAS[-1],
        "methods": searches,
        "single_training_time_s": t_single,
        "greedy_choice_accuracy": mc_accuracy(model, cfg, w, seeds),
    }

    # Per-layer ADC bits from 8-bit ADCs: ADC energy saved and Monte-Carlo accuracy.
    adc_rows = []
    for sigma in SIGMAS:
        cfg8 = _config(sigma, adc_bits=8)
        t0 = time.perf_counter()
        with torch.no_grad():
            labels = w.model(w.x_calib).argmax(-1)
        plan = correctnet.choose_adc_bits(cfg8, w.model, w.x_calib, labels)
        t_plan = time.perf_counter() - t0
        uniform = mc_accuracy(w.model, cfg8, w, seeds)
        robust = mc_accuracy(
            w.model, cfg8, w, seeds, prepared=apply.Prepared(model=w.model, adc_bits=plan.bits)
        )
        adc_rows.append(
            {
                "prog_sigma": sigma,
                "bits": plan.bits,
                "adc_energy_saving": plan.adc_energy_saving,
                "adc_energy_uj": [plan.baseline_adc_energy_uj, plan.adc_energy_uj],
                "uniform": uniform,
                "robust": robust,
                "search_time_s": t_plan,
            }
        )
        print(
            f"adc σ={sigma}: bits {plan.bits} saving {plan.adc_energy_saving:.2f} "
            f"acc {uniform['mean']:.3f} -> {robust['mean']:.3f}"
        )
    out["adc"] = adc_rows
    return out


def bench_faults(w: Any, seeds: int) -> dict[str, Any]:
    rows = []
    for saf in (0.005, 0.02, 0.05):
        cfg = _config(0.1, saf_sa0=saf, saf_sa1=saf)
        row: dict[str, Any] = {"saf_each": saf}
        for scheme in faults.FAULT_SCHEMES:
            c = cfg.replace(fault_mitigation=scheme)
            row[scheme] = mc_accuracy(w.model, c, w, seeds)
            over = apply.overhead(c, w, apply.Prepared(model=w.model))
            row[scheme]["programming"] = over["programming"]["chosen"]
        rows.append(row)
        print(
            f"faults saf={saf:.3f}: "
            + " ".join(f"{s} {row[s]['mean']:.3f}" for s in faults.FAULT_SCHEMES)
        )
    return {"rows": rows, "prog_sigma": 0.1}


def plot(results: dict[str, Any], path: Path) -> None:
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    sig = list(SIGMAS)

    def band(ax: Any, xs: list[float], cells: list[dict[str, Any]], label: str) -> None:
        ax.errorbar(
            xs,
            [c["mean"] for c in cells],
            yerr=[c["std"] for c in cells],
            marker="o",
            capsize=3,
            label=label,
        )

    m = results["moments"]["accuracy"]
    ax = axes[0, 0]
    band(ax, sig, [r["montecarlo"] for r in m], "Monte-Carlo")
    ax.plot(sig, [r["full"]["accuracy"] for r in m], "s--", label="moments (full cov.)")
    ax.plot(sig, [r["diag"]["accuracy"] for r in m], "^--", label="moments (diag)")
    ax.set_title("analytic moments vs Monte-Carlo")

    r = results["resna"]["rows"]
    ax = axes[0, 1]
    band(ax, sig, [x["off"] for x in r], "off")
    band(ax, sig, [x["on"] for x in r], f"ReSNA {results['resna']['epochs']} epochs")
    ax.set_title("ReSNA noise-aware fine-tuning")

    c = results["correctnet"]["rows"]
    ax = axes[0, 2]
    band(ax, sig, [x["off"] for x in c], "off")
    band(ax, sig, [x["lipschitz"] for x in c], "Lipschitz λ=0.01")
    band(ax, sig, [x["compensation_all"] for x in c], "compensation (all layers)")
    ax.set_title("CorrectNet+")

    rr = results["remap"]["rows"]
    ax = axes[1, 0]
    xs = [x["wire_r_ohm"] for x in rr]
    band(ax, xs, [x["ideal_wires"] for x in rr], "ideal wires")
    for scheme in remap.SCHEMES:
        band(ax, xs, [x[scheme] for x in rr], scheme)
    ax.set_xlabel("wire resistance per segment [Ω]")
    ax.set_title("SRS / DRS re-mapping (first-order IR drop)")

    f = results["faults"]["rows"]
    ax = axes[1, 1]
    xs = [2 * x["saf_each"] for x in f]
    for scheme in faults.FAULT_SCHEMES:
        band(ax, xs, [x[scheme] for x in f], scheme)
    ax.set_xlabel("stuck-at fraction (SA0 + SA1)")
    ax.set_title("fault-aware mapping vs read-verify-write")

    a = results["correctnet"]["adc"]
    ax = axes[1, 2]
    band(ax, sig, [x["uniform"] for x in a], "8-bit ADCs everywhere")
    band(ax, sig, [x["robust"] for x in a], "per-layer bits")
    for x in a:
        ax.annotate(
            f"-{100 * x['adc_energy_saving']:.0f}% ADC E",
            (x["prog_sigma"], x["robust"]["mean"]),
            textcoords="offset points",
            xytext=(4, -12),
            fontsize=8,
        )
    ax.set_title("CorrectNet+ per-layer ADC resolution")
    for ax in axes.flat:
        ax.set_ylabel("accuracy")
        if not ax.get_xlabel():
            ax.set_xlabel("programming σ (read σ = σ/3)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    cli.save_figure(fig, f"Mitigation methods on {results['workload']} "
                    f"(mean ± std over {results['seeds']} programmed chips)", path)


SECTIONS: dict[str, Any] = {  # (workload, args, save_partial) -> section
    "moments": lambda w, a, save: bench_moments(w, a.seeds),
    "resna": lambda w, a, save: bench_resna(w, a.seeds, a.epochs),
    "remap": lambda w, a, save: bench_remap(w, a.seeds),
    "correctnet": lambda w, a, save: bench_correctnet(w, a.seeds, a.epochs),
    "faults": lambda w, a, save: bench_faults(w, a.seeds),
    "wires": wires.bench_wires,
    "compensation": compensation.bench_compensation,
}

DIGITS_SECTIONS = ("moments", "resna", "remap", "correctnet", "faults")  # :func:`plot`'s
LARGE_SECTIONS = ("wires", "compensation")  # other workloads' defaults


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs (smoke run)")
    parser.add_argument("--seeds", type=cli.positive(int), default=5,
                        help="programmed chips per point")
    parser.add_argument("--cifar10-dir", default=None, help="CIFAR-10 python batches")
    parser.add_argument("--sections", nargs="+", choices=list(SECTIONS), default=None,
                        help="sections to run (default: DIGITS_SECTIONS or LARGE_SECTIONS)")
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS),
                        help="recompute only these sections, keeping the others of the JSON")
    cli.add_arguments(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    args.epochs = 1 if args.quick else 3
    options = {} if args.divisor is None else {"divisor": args.divisor}
    workloads = [(args.workload, options)]
    if args.cifar10_dir:  # the workload reads $XBAR_DATA_DIR/cifar-10-batches-py
        os.environ["XBAR_DATA_DIR"] = str(Path(args.cifar10_dir).resolve().parent)
        workloads.append(("cifar10", {}))
    for name, opts in workloads:
        w = get_workload(name, **opts)
        start, cpu = time.perf_counter(), time.process_time()
        suffix = "" if name == "digits-cnn" else f"-{name}"
        path = Path(args.out) if args.out and name == args.workload else (
            RESULTS / f"mitigation{suffix}.json")
        results: dict[str, Any] = cli.keep_provenance(
            json.loads(path.read_text()) if args.only and path.exists() else {})
        results.update(workload=name, workload_options=opts, seeds=args.seeds,
                       machine=platform.platform(), torch=torch.__version__,
                       code_state=cli.code_state())
        with torch.no_grad():
            clean = (w.model(w.x_test).argmax(-1) == w.y_test).float().mean()
        results["software_accuracy"] = float(clean)
        default = DIGITS_SECTIONS if name in ("digits-cnn", "cifar10") else LARGE_SECTIONS
        chosen = args.only or args.sections or list(default)
        for section in (s for s in SECTIONS if s in chosen):
            save = functools.partial(cli.save_partial, path, results, section)
            results[section] = cli.timed(SECTIONS[section], w, args, save,
                                         results["code_state"])
            cli.write_json(path, results)
        results["wall_time_s"] = time.perf_counter() - start
        results["cpu_time_s"] = time.process_time() - cpu
        cli.write_json(path, results)
        if all(s in results for s in DIGITS_SECTIONS):
            plot(results, path.with_suffix(".png"))
        else:
            wires.plot_wires(results, path.with_suffix(".png"))
        print(f"wrote {path} in {results['wall_time_s']:.0f}s ({results['cpu_time_s']:.0f}s CPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

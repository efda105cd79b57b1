"""Small helpers of ``bench/mitigation.py``: option parsing, JSON writing (partial results
as the run goes) and the code state a run was measured on."""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.mitigation_wires import WIRES_R_OHM, WIRES_SIZES
from simulator.mitigation import compensation, remap


def positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(path)


def code_state(prefixes: tuple[str, ...] = ("simulator/",)) -> dict[str, Any]:
    """Commit and the locally modified files under ``prefixes`` (the code a benchmark
    measures) when the run started."""
    root = Path(__file__).resolve().parent.parent

    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], cwd=root, capture_output=True, text=True,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "commit": git("rev-parse", "HEAD"),
        "modified": [line[3:] for line in git("status", "--porcelain").splitlines()
                     if line[3:].startswith(prefixes)],
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def keep_provenance(results: dict[str, Any]) -> dict[str, Any]:
    """Before ``--only`` recomputes some sections of an earlier JSON: give every kept section
    that lacks one a ``"run"`` entry with the earlier run's code state and times (the top-level
    ones then describe the new run)."""
    if "code_state" not in results:
        return results
    earlier = {"code_state": results["code_state"], "whole_run": True}
    for key in ("wall_time_s", "cpu_time_s"):
        if key in results:
            earlier[key] = results[key]
    for value in results.values():
        if isinstance(value, dict) and "rows" in value and "run" not in value:
            value["run"] = earlier
    return results


def timed(section: Any, w: Any, args: argparse.Namespace, save: Any,
          state: dict[str, Any]) -> dict[str, Any]:
    """``section(w, args, save)`` with a ``"run"`` entry: ``state`` (the code state) and the
    section's wall and CPU time [s]."""
    start, cpu = time.perf_counter(), time.process_time()
    out = section(w, args, save)
    out["run"] = {"code_state": state, "wall_time_s": time.perf_counter() - start,
                  "cpu_time_s": time.process_time() - cpu}
    return out


def save_partial(path: Path, results: dict[str, Any], section: str,
                 partial: dict[str, Any]) -> None:
    """Write ``results`` with ``section``'s partial result (marked ``"partial": true``)."""
    write_json(path, results | {section: partial | {"partial": True}})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The workload/output options and those of the wires and compensation sections."""
    parser.add_argument("--workload", default="digits-cnn", help="registered workload name")
    parser.add_argument("--divisor", type=positive(int), default=None,
                        help="width divisor of vgg8/resnet20 (tests)")
    parser.add_argument("--out", default=None, help="output JSON (default bench/results/...)")
    parser.add_argument("--sizes", nargs="+", type=positive(int), default=list(WIRES_SIZES),
                        help="array sizes of the wires section")
    parser.add_argument("--wires", nargs="+", type=positive(float),
                        default=list(WIRES_R_OHM), help="wire resistances [Ω], wires section")
    parser.add_argument("--test-limit", type=positive(int), default=None,
                        help="stratified test subset (wires/compensation sections)")
    parser.add_argument("--schemes", nargs="+", choices=remap.SCHEMES, default=remap.SCHEMES)
    parser.add_argument("--drs-rounds", type=positive(int), default=3)
    parser.add_argument("--drs-max-rows", type=positive(int), default=1 << 30,
                        help="DRS refines layers of at most this many physical rows (SRS above)")
    parser.add_argument("--check-images", type=int, default=2,
                        help="images checked against the simulator's per-slice read")
    parser.add_argument("--comp-epochs", type=positive(int), default=1)
    parser.add_argument("--comp-remap", choices=remap.SCHEMES, default="none",
                        help="compensation section: also re-map by this scheme, then train "
                             "chip-aware compensators on the re-mapped network")
    parser.add_argument("--comp-train", type=positive(int), default=512,
                        help="training images of the compensators")
    parser.add_argument("--comp-lr", type=positive(float), default=compensation.DEFAULT_LR,
                        help="learning rate of the compensators (relative step)")


def save_figure(fig: Any, title: str, path: Path) -> None:
    """Title, lay out, write (110 dpi) and close a benchmark figure."""
    import matplotlib.pyplot as plt

    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

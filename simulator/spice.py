r"""ngspice netlists of a resistive crossbar, for validating the IR-drop solvers.

The netlist has exactly the circuit of :mod:`simulator.nonideal.ir_drop`: row ``i`` is driven
by source ``VIN<i>`` through one wire segment into the first cell, rows and columns have one
``r_wire_ohm`` segment between neighbouring cells, and column ``j`` leaves its last cell
through one segment into a 0 V source ``VS<j>`` (the virtual-ground sense amplifier), whose
current is the column current.

Only the ngspice binary is needed (Debian package ``ngspice``); it runs as a subprocess in
batch mode (``ngspice -b``) on a DC operating point.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

NGSPICE = "ngspice"
"""Name of the ngspice executable looked up on ``PATH``."""

_VALUE = re.compile(r"^\s*i\(vs(\d+)\)\s*=\s*([-+0-9.eE]+)\s*$", re.IGNORECASE | re.MULTILINE)


class NgspiceNotFoundError(RuntimeError):
    """The ngspice executable is not on ``PATH``."""


class NgspiceError(RuntimeError):
    """ngspice ran but failed or printed no column currents."""


def crossbar_netlist(v: np.ndarray, g: np.ndarray, r_wire_ohm: float) -> str:
    r"""Write the ngspice netlist of a crossbar for one input vector.

    Args:
        v: A `rows`-dim array of drive voltages [V].
        g: A `rows x cols` array of cell conductances [S], >= 0 (cells with ``g = 0`` are
            left out).
        r_wire_ohm: Wire resistance per cell segment [Ω], > 0.

    Returns:
        The netlist text: a DC operating point that prints ``i(vs<j>)`` for every column.

    Raises:
        ValueError: On mismatched shapes, negative conductances or ``r_wire_ohm <= 0``.
    """
    v = np.asarray(v, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if g.ndim != 2 or v.shape != (g.shape[0],):
        raise ValueError(
            f"v must have shape (rows,) = ({g.shape[0]},) and g (rows, cols); "
            f"got v {v.shape}, g {g.shape}."
        )
    if np.any(g < 0) or not np.all(np.isfinite(g)):
        raise ValueError("g must be finite and non-negative (conductances in S).")
    if not r_wire_ohm > 0:
        raise ValueError(f"r_wire_ohm must be > 0, got {r_wire_ohm!r}.")
    rows, cols = g.shape
    r = f"{r_wire_ohm:.12g}"
    lines = [f"* crossbar {rows}x{cols}, r_wire = {r} ohm per segment"]
    for i in range(rows):
        lines.append(f"VIN{i} in{i} 0 DC {v[i]:.12g}")
        lines.append(f"RD{i} in{i} u{i}_0 {r}")
        lines.extend(f"RU{i}_{j} u{i}_{j} u{i}_{j + 1} {r}" for j in range(cols - 1))
    for i in range(rows):
        for j in range(cols):
            if g[i, j] > 0:
                lines.append(f"RC{i}_{j} u{i}_{j} w{i}_{j} {1.0 / g[i, j]:.15g}")
    for j in range(cols):
        lines.extend(f"RW{i}_{j} w{i}_{j} w{i + 1}_{j} {r}" for i in range(rows - 1))
        lines.append(f"RS{j} w{rows - 1}_{j} s{j} {r}")
        lines.append(f"VS{j} s{j} 0 DC 0")
    lines += [".control", "set numdgt=12", "op"]
    lines += [f"print i(vs{j})" for j in range(cols)]
    lines += ["quit 0", ".endc", ".end", ""]
    return "\n".join(lines)


def ngspice_column_currents(
    v: np.ndarray, g: np.ndarray, r_wire_ohm: float, *, timeout_s: float = 120.0
) -> np.ndarray:
    r"""Column currents of a crossbar simulated by ngspice.

    Args:
        v: A `rows`-dim array of drive voltages [V].
        g: A `rows x cols` array of conductances [S].
        r_wire_ohm: Wire resistance per segment [Ω], > 0.
        timeout_s: Limit on the ngspice run [s].

    Returns:
        A `cols`-dim array of currents [A] flowing from the bit lines into the sense
        amplifiers (positive for positive drive voltages).

    Raises:
        NgspiceNotFoundError: If ``ngspice`` is not installed.
        NgspiceError: If ngspice fails or its output lacks a column current.
    """
    exe = shutil.which(NGSPICE)
    if exe is None:
        raise NgspiceNotFoundError(
            "ngspice is not on PATH; install it (Debian/Ubuntu: apt-get install ngspice)."
        )
    netlist = crossbar_netlist(v, g, r_wire_ohm)
    cols = np.asarray(g).shape[1]
    with tempfile.TemporaryDirectory(prefix="xbar-spice-") as tmp:
        path = Path(tmp) / "crossbar.cir"
        path.write_text(netlist)
        proc = subprocess.run(
            [exe, "-b", str(path)], capture_output=True, text=True, timeout=timeout_s, cwd=tmp
        )
    if proc.returncode != 0:
        raise NgspiceError(f"ngspice exited with {proc.returncode}: {proc.stderr[-2000:]}")
    found = {int(j): float(val) for j, val in _VALUE.findall(proc.stdout)}
    missing = sorted(set(range(cols)) - found.keys())
    if missing:
        raise NgspiceError(
            f"ngspice printed no current for columns {missing[:10]}; stdout tail: "
            f"{proc.stdout[-1000:]!r} stderr tail: {proc.stderr[-1000:]!r}"
        )
    # ngspice reports the current flowing into a source's + node and through it; the column
    # current leaves the bit line into the + node of VS<j>, so the sign is already positive.
    return np.array([found[j] for j in range(cols)])

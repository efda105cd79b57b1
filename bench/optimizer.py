"""Optimizer benchmark: every method on MOMF Branin-Currin and MOMF Park, HV vs cost.

Usage::

    .venv/bin/python bench/optimizer.py [--quick] [--seeds N] [--methods a,b] [--problems p]

Writes ``bench/results/optimizer.json`` and ``bench/results/optimizer.png`` (see
``bench.harness`` for the protocol and metrics). Same as ``xbar bench optimizer``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder would come first on sys.path and its name would shadow
# the ``optimizer`` package: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from app.cli.bench import app  # noqa: E402

if __name__ == "__main__":
    app(["optimizer", *sys.argv[1:]])

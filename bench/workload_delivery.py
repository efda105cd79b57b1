"""How an uploaded workload's bytes reach Dask workers: passed with every task vs scattered once.

The driver ships a file workload's model and data blobs to the workers (they never hold
database credentials). This measures the two ways of doing it for ``n`` evaluation tasks that
each hash their bytes, on a ``LocalCluster`` of two worker processes on 127.0.0.1, and writes
``bench/results/workload_delivery.json``.

Usage: ``python bench/workload_delivery.py --sizes-mb 0.01 8 --tasks 20``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import time
from pathlib import Path

from distributed import Client, LocalCluster

OUT = Path(__file__).parent / "results" / "workload_delivery.json"


def _task(model: bytes, data: bytes) -> tuple[str, int]:
    return hashlib.sha256(model).hexdigest()[:8], len(data)


def measure(client: Client, size_mb: float, n: int) -> dict[str, float]:
    """Wall seconds for ``n`` tasks given two ``size_mb`` MB blobs, both ways."""
    model, data = os.urandom(int(size_mb * 1e6)), os.urandom(int(size_mb * 1e6))
    t0 = time.perf_counter()
    client.gather([client.submit(_task, model, data, pure=False) for _ in range(n)])
    per_task = time.perf_counter() - t0
    t0 = time.perf_counter()
    m, d = client.scatter([model, data], broadcast=False)
    client.gather([client.submit(_task, m, d, pure=False) for _ in range(n)])
    scattered = time.perf_counter() - t0
    return {"blob_mb": size_mb, "tasks": n, "bytes_per_task_s": round(per_task, 3),
            "scatter_once_s": round(scattered, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes-mb", type=float, nargs="+", default=[0.01, 1.0, 8.0])
    ap.add_argument("--tasks", type=int, default=20)
    args = ap.parse_args()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, host="127.0.0.1") as cluster, \
            Client(cluster) as client:
        client.submit(_task, b"x", b"y", pure=False).result()  # workers started
        rows = [measure(client, size, args.tasks) for size in args.sizes_mb]
    result = {"description": __doc__.split("\n\n")[1].replace("\n", " "),
              "platform": platform.platform(), "cpus": os.cpu_count(),
              "load_average": list(os.getloadavg()), "rows": rows}
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    for r in rows:
        print(f"2 x {r['blob_mb']} MB, {r['tasks']} tasks: bytes per task "
              f"{r['bytes_per_task_s']} s, scatter once {r['scatter_once_s']} s")


if __name__ == "__main__":
    main()

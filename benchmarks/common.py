"""Shared helpers for the benchmark scripts: machine description and result files."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ZARAGOZA = SHARED / "bench" / "zaragoza"
RESULTS = Path(__file__).resolve().parent / "results"


def zaragoza(name: str) -> list[dict]:
    """The records of zaragoza's `corpus` or `queries` file."""
    lines = (ZARAGOZA / f"{name}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def confluence_sources(path: Path, site_url: str, email: str) -> Path:
    """A sources file with one Confluence source, `bench`, over the stand-in's GEN space (its
    token in KNOWHERE_BENCH_CONFLUENCE_TOKEN)."""
    path.write_text(
        "sources:\n  bench:\n    type: confluence\n"
        f"    url: {site_url}\n    email: {email}\n"
        "    token_env: KNOWHERE_BENCH_CONFLUENCE_TOKEN\n    spaces: [GEN]\n"
    )
    return path


def machine() -> dict[str, object]:
    model = "unknown"
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == "unknown":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = sorted(f for f in flags if f.startswith(("avx", "amx")) or f in {"fma"})
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "isa": isa,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def matmul_peak(
    dtype: torch.dtype, sizes: tuple[int, ...] = (1024, 2048), repeat: int = 3
) -> float:
    """Measured GFLOP/s of square matmuls in `dtype` on the CPU: the best over `sizes` and
    `repeat` tries (AMX reaches its rate only on the larger ones)."""
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n, dtype=dtype)
        b = torch.randn(n, n, dtype=dtype)
        torch.matmul(a, b)
        for _ in range(repeat):
            start = time.perf_counter()
            torch.matmul(a, b)
            best = max(best, 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return round(best, 1)


def save(name: str, result: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"saved {path}")
    return path

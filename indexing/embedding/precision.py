"""Which device, runtime and number format an embedder runs in.

`fp32` is the reference. `bf16` pays off on CPUs with AMX or AVX512-BF16 and on GPUs; on an
AVX2-only CPU bfloat16 is emulated and about 8x slower than fp32, so `auto` picks bf16 only
where the hardware has it. (PyTorch's dynamic int8 quantization was measured too and dropped:
cosine to fp32 fell to ~0.5 for mpnet.)
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import torch

Precision = Literal["auto", "fp32", "bf16"]
Backend = Literal["auto", "torch", "openvino"]


@functools.cache
def cpu_flags() -> frozenset[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def choose_precision(requested: Precision, device: str) -> Literal["fp32", "bf16"]:
    if requested != "auto":
        return requested
    if device.startswith("cuda"):
        return "bf16"
    flags = cpu_flags()
    if "amx_bf16" in flags or "avx512_bf16" in flags:
        return "bf16"
    return "fp32"


def choose_backend(requested: Backend, device: str) -> Literal["torch", "openvino"]:
    """`auto`: OpenVINO on the CPU (it fuses what PyTorch's eager kernels run one by one),
    PyTorch on a GPU."""
    if requested != "auto":
        return requested
    return "openvino" if device == "cpu" else "torch"


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"

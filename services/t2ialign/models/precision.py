"""The package's one precision and memory-layout setting for model forwards (issue 18).

`dtype` is "auto", "float32", "bfloat16" or "float16" (CUDA only). "auto" is bfloat16 on a CPU with native
BF16 instructions (AVX512-BF16 or AMX-BF16) and on a CUDA device that supports it, float32 otherwise.
Reduced precision is autocast: weights and optimizer state stay float32, matmuls and convolutions run in
the reduced type, outputs are cast back to float32. The UNet also runs channels-last (NHWC), which oneDNN
convolutions prefer on CPU (measured 1.28x in fp32 on the toy UNet; BENCHMARKS.md).

The package default is `DEFAULT_DTYPE`, overridden by the environment variable T2IALIGN_DTYPE. Every
result or manifest a setting affects records `Precision.record()`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

DTYPE_CHOICES: tuple[str, ...] = ("auto", "float32", "bfloat16", "float16")
DTYPE_ENV = "T2IALIGN_DTYPE"
DEFAULT_DTYPE = "auto"  # the package default when T2IALIGN_DTYPE is unset: bf16 here, measured within noise
# of fp32 (oracle alignment 57.8% vs 58.6%, 4 of 256 paired images differ; BENCHMARKS.md)
CPU_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU feature flags of the first processor listed in /proc/cpuinfo (empty where it is unreadable)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_native_bf16(flags: frozenset[str] | None = None) -> bool:
    """True when the CPU computes in BF16 natively: its flags (default: /proc/cpuinfo's) name AVX512-BF16 or
    AMX-BF16. Without /proc/cpuinfo (not Linux) torch's oneDNN capability query decides."""
    flags = cpu_flags() if flags is None else flags
    if flags:
        return bool(flags & CPU_BF16_FLAGS)
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def cuda_supports_bf16() -> bool:
    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def default_dtype_name() -> str:
    """The package default: $T2IALIGN_DTYPE if set, else DEFAULT_DTYPE."""
    return os.environ.get(DTYPE_ENV, "").strip().lower() or DEFAULT_DTYPE


def resolve_dtype(
    name: str | None = None,
    device: str | torch.device = "cpu",
    cpu_bf16: bool | None = None,
    cuda_bf16: bool | None = None,
) -> torch.dtype:
    """The compute dtype for `name` (None = the package default) on `device`.

    `cpu_bf16` / `cuda_bf16` override the capability checks (tests simulate other machines with them).
    Explicit bfloat16 on a CPU without BF16 instructions is allowed (it is emulated, slowly); "auto" never
    picks it there. float16 is CUDA only (CPU half-precision convolutions are slow or missing).
    """
    name = (name or default_dtype_name()).strip().lower()
    if name not in DTYPE_CHOICES:
        raise ValueError(f"dtype {name!r} is unknown; use one of {', '.join(DTYPE_CHOICES)}")
    device_type = torch.device(device).type
    if device_type not in ("cpu", "cuda"):
        return torch.float32 if name == "auto" else _DTYPES[name]
    if device_type == "cpu":
        if name == "float16":
            raise ValueError("dtype 'float16' runs on CUDA only; on a CPU use 'bfloat16', 'float32' or 'auto'")
        if name == "auto":
            return torch.bfloat16 if (cpu_has_native_bf16() if cpu_bf16 is None else cpu_bf16) else torch.float32
        return _DTYPES[name]
    has_bf16 = cuda_supports_bf16() if cuda_bf16 is None else cuda_bf16
    if name == "auto":
        return torch.bfloat16 if has_bf16 else torch.float32
    if name == "bfloat16" and not has_bf16:
        raise ValueError("this CUDA device has no bfloat16 support; use dtype 'float16', 'float32' or 'auto'")
    return _DTYPES[name]


@dataclass(frozen=True)
class Precision:
    """A resolved setting: the compute dtype, the device type it is for, and the UNet's memory layout."""

    dtype: torch.dtype = torch.float32
    device_type: str = "cpu"
    channels_last: bool = True

    @classmethod
    def resolve(
        cls,
        dtype: str | None = None,
        device: str | torch.device = "cpu",
        channels_last: bool = True,
        cpu_bf16: bool | None = None,
        cuda_bf16: bool | None = None,
    ) -> Precision:
        """`dtype` as in `resolve_dtype` (None = the package default)."""
        return cls(resolve_dtype(dtype, device, cpu_bf16, cuda_bf16), torch.device(device).type, channels_last)

    @classmethod
    def float32(cls, channels_last: bool = False) -> Precision:
        """Plain fp32 in PyTorch's default layout: the path before issue 18."""
        return cls(torch.float32, "cpu", channels_last)

    @property
    def name(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    def record(self) -> dict[str, object]:
        """What results and manifests store about the setting."""
        return {"dtype": self.name, "channels_last": self.channels_last}

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Run the block's matmuls and convolutions in `dtype` (a no-op for float32)."""
        if self.dtype == torch.float32:
            yield
        else:
            with torch.autocast(self.device_type, dtype=self.dtype):
                yield

    def layout_module(self, module: torch.nn.Module) -> torch.nn.Module:
        """The module in this setting's memory layout (in place; values unchanged)."""
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        return module.to(memory_format=fmt)

    def training_attention(self, unet: torch.nn.Module) -> dict:
        """Switch a UNet that will train in reduced precision on CPU to plain (matmul + softmax) attention and
        return its processors as they were, for `unet.set_attn_processor` after training.

        PyTorch's CPU flash-attention backward dominates a bf16 fine-tuning step of the toy UNet (head width
        8); plain attention made the step 1.4x faster (BENCHMARKS.md). Inference keeps the fused kernel, which
        is faster there."""
        from diffusers.models.attention_processor import AttnProcessor

        before = dict(unet.attn_processors)
        if self.dtype != torch.float32 and self.device_type == "cpu":
            unet.set_attn_processor(AttnProcessor())
        return before

    def layout(self, x: torch.Tensor) -> torch.Tensor:
        """A 4-D activation in this setting's memory layout."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x

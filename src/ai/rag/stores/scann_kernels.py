"""Switching on the AVX2 kernels that ScaNN's PyPI wheels carry but never select.

ScaNN picks its SIMD kernels at run time from `research_scann::flags_internal::
should_use_avx2` (and siblings), which its sources set from CPUID when the library
loads. In the PyPI wheels (1.3.5, 1.4.1 and 1.4.2 checked, x86-64 Linux) that
detection is compiled out: the flags' initialiser stores a constant false, so every
machine runs the SSE4 kernels (the quantized scan) and the AVX1 ones (the exact
re-scoring), although the AVX2 versions are in the same library. On an AVX2 machine
here the AVX2 kernels answer a 4,000-row query in 15 µs instead of 19 µs, with the
same rows and bit-identical scores (the two share the packed data layout, so even an
index built before the switch answers the same; `tests/ai/rag/test_scann_kernels.py`).

`enable_where_supported()` sets that flag once, when our ScaNN engine first imports the
library, and only where the CPU and the kernel both support AVX2 and FMA (Linux lists
them in /proc/cpuinfo only when the OS saves the AVX state). The AVX-512 kernels are
left off: they use another data layout and were slower here. `DEVORA_SCANN_AVX2=0` in
the environment keeps ScaNN as it ships; a wheel without the symbol is left alone.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from pathlib import Path

#: The flag's mangled C++ name (`research_scann::flags_internal::should_use_avx2`).
_AVX2_FLAG = "_ZN14research_scann14flags_internal15should_use_avx2E"
#: The pybind11 module ScaNN loads its C++ core as (`import scann_pybind`).
_MODULE = "scann_pybind"
#: Setting this to "0" keeps ScaNN's own kernel choice.
OPT_OUT = "DEVORA_SCANN_AVX2"


def cpu_supports_avx2(cpuinfo: str | None = None) -> bool:
    """The CPU has AVX2 and FMA and the OS saves their registers (x86-64 Linux)."""
    if cpuinfo is None:
        if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
            return False
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return {"avx2", "fma"} <= flags
    return False


def _flag() -> ctypes.c_bool | None:
    """ScaNN's AVX2 flag, or None where ScaNN is not loaded or has no such symbol."""
    module = sys.modules.get(_MODULE)
    path = getattr(module, "__file__", None)
    if not path:
        return None
    # RTLD_NOLOAD: the library as already loaded, never a second copy of it.
    mode = getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_LAZY", 1)
    try:
        return ctypes.c_bool.in_dll(ctypes.CDLL(path, mode=mode), _AVX2_FLAG)
    except (OSError, ValueError):
        return None


def avx2_kernels() -> bool:
    """Whether ScaNN now runs its AVX2 kernels."""
    flag = _flag()
    return bool(flag is not None and flag.value)


def use_avx2_kernels(enabled: bool) -> bool:
    """Select ScaNN's AVX2 kernels (or its SSE4 ones); True when the flag could be set.

    Refuses to enable them on a CPU without AVX2 and FMA, where they would crash.
    """
    flag = _flag()
    if flag is None or (enabled and not cpu_supports_avx2()):
        return False
    flag.value = enabled
    return True


def enable_where_supported() -> bool:
    """`use_avx2_kernels(True)` unless `DEVORA_SCANN_AVX2=0`; whether they are on."""
    if os.environ.get(OPT_OUT, "").strip() != "0":
        use_avx2_kernels(True)
    return avx2_kernels()

#!/usr/bin/env python3
"""kit probe: FlashInfer's CUTLASS fused MoE, called the way vLLM calls it for MXFP4 weights.

Contract (the same as repros/harness/kit_harness.h): the program prints exactly one line

    KIT_RESULT {json}

and exits 0 whatever the kernel did. kit reads the line, not the exit status.

Two paths of the one entry point, `flashinfer.fused_moe.cutlass_fused_moe`:

* ``mxfp4``: MXFP4 weights x MXFP8 activations (``use_mxfp8_act_scaling=True``), vLLM's
  FLASHINFER_CUTLASS_MXFP4_MXFP8 backend; FlashInfer builds it for SM100/SM103/SM110 and, from
  FlashInfer 0.5.3 on, for SM120/SM121.
* ``sm90``: MXFP4 weights x BF16 activations (``use_w4_group_scaling=True``), vLLM's
  FLASHINFER_CUTLASS_MXFP4_BF16 backend, the quantization FlashInfer's Hopper build of the same
  fused MoE supports.

Everything above ``main`` is pure PyTorch and runs on a CPU build: knob parsing, seeded inputs,
MXFP4 / MXFP8 quantization, the scale-factor layouts, vLLM's weight transforms, the reference MoE,
the tolerance rule and the mapping of a FlashInfer / CUTLASS error text to (stage, status).
FlashInfer is imported only inside ``main``.

Usage: python3 probe.py [--experts N --topk K --tokens T --hidden H --inter I --seed S
                         --path auto|sm90|mxfp4 --quantizer flashinfer|torch --tactic N]
The cell's knobs come from the environment too: KIT_KNOBS="k=v,k=v" (they win over the command
line), KIT_ARCH (the cell's nvcc target, e.g. sm_121a), KIT_REPRO (the name to report).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

try:
    import torch
except Exception as _exc:  # any failure to import is reported, never raised
    torch = None  # type: ignore[assignment]
    TORCH_IMPORT_ERROR = f"{type(_exc).__name__}: {_exc}"
else:
    TORCH_IMPORT_ERROR = ""

REPRO = "prod_flashinfer_moe"
PREFIX = "KIT_RESULT "

BLOCK = 32  # MX block size: one ue8m0 scale per 32 elements along K
E2M1_MAX = 6.0
E4M3_MAX = 448.0
ALIGN = 128  # vLLM rounds hidden and intermediate sizes up to 128 for the FlashInfer CUTLASS paths

# gpt-oss's SwiGLU, the constants vLLM passes as swiglu_alpha / swiglu_beta / swiglu_limit
SWIGLU_ALPHA = 1.702
SWIGLU_BETA = 1.0
SWIGLU_LIMIT = 7.0

PATHS = {
    "sm90": "MXFP4 weights x BF16 activations: cutlass_fused_moe(use_w4_group_scaling=True), "
            "vLLM FLASHINFER_CUTLASS_MXFP4_BF16 (SM90)",
    "mxfp4": "MXFP4 weights x MXFP8 activations: cutlass_fused_moe(use_mxfp8_act_scaling=True), "
             "vLLM FLASHINFER_CUTLASS_MXFP4_MXFP8 (SM100 / SM12x)",
}

# The tolerance, relative to the largest |reference| element (see README.md, "Tolerance").
RTOL = {"sm90": 2.0 ** -6, "mxfp4": 2.0 ** -4}

# cutlass::cutlassGetStatusString, and the enum's order (cutlass/cutlass.h).
CUTLASS_STATUS = {
    "Success": 0,
    "Error Misaligned Operand": 1,
    "Error Invalid Data Type": 2,
    "Error Invalid Layout": 3,
    "Error Invalid Problem": 4,
    "Error Not Supported": 5,
    "Error Workspace Null": 6,
    "Error Internal": 7,
    "Error Architecture Mismatch": 8,
    "Error Insufficient Driver": 9,
    "Error Memory Allocation failed": 10,
    "Invalid status": 11,
}

# cudaGetErrorString text -> cudaGetErrorName, for the errors a grouped GEMM can raise.
CUDA_ERRORS = {
    "an illegal memory access was encountered": "cudaErrorIllegalAddress",
    "misaligned address": "cudaErrorMisalignedAddress",
    "unspecified launch failure": "cudaErrorLaunchFailure",
    "no kernel image is available for execution on the device": "cudaErrorNoKernelImageForDevice",
    "invalid device function": "cudaErrorInvalidDeviceFunction",
    "too many resources requested for launch": "cudaErrorLaunchOutOfResources",
    "an illegal instruction was encountered": "cudaErrorIllegalInstruction",
    "invalid resource handle": "cudaErrorInvalidResourceHandle",
    "device-side assert triggered": "cudaErrorAssert",
    "the launch timed out and was terminated": "cudaErrorLaunchTimeout",
    "operation not supported": "cudaErrorNotSupported",
    "out of memory": "cudaErrorMemoryAllocation",
    "invalid argument": "cudaErrorInvalidValue",
    "device kernel image is invalid": "cudaErrorInvalidKernelImage",
    "the provided PTX was compiled with an unsupported toolchain":
        "cudaErrorUnsupportedPtxVersion",
    "CUDA driver version is insufficient for CUDA runtime version": "cudaErrorInsufficientDriver",
    "no CUDA-capable device is detected": "cudaErrorNoDevice",
}


# ------------------------------------------------------------------ knobs


class ConfigError(ValueError):
    """A knob value the probe refuses (reported as stage `configure`)."""


INT_KNOBS = ("experts", "topk", "tokens", "hidden", "inter", "seed", "tactic")
DEFAULTS: dict[str, Any] = {
    "path": "auto", "experts": 8, "topk": 2, "tokens": 16, "hidden": 256, "inter": 256,
    "seed": 2025, "quantizer": "flashinfer", "tactic": -1,
}


@dataclass(frozen=True)
class Config:
    path: str = "auto"  # auto | sm90 | mxfp4
    experts: int = 8
    topk: int = 2
    tokens: int = 16
    hidden: int = 256
    inter: int = 256
    seed: int = 2025
    quantizer: str = "flashinfer"  # who quantizes activations / swizzles scales on the mxfp4 path
    tactic: int = -1  # FlashInfer's profile id for both GEMMs; -1 = its default
    arch: str = ""  # the cell's nvcc target (KIT_ARCH), e.g. sm_121a
    flashinfer: str = ""  # the FlashInfer version the cell asks for ("" = whatever imports)
    knobs: dict[str, str] = field(default_factory=dict)  # the cell's knobs, as given


def parse_knobs(text: str) -> dict[str, str]:
    """kit's "name=value,name=value" string (the C++ harness's KIT_KNOBS) as a dict."""
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        name, sep, value = item.partition("=")
        if sep and name.strip():
            out[name.strip()] = value.strip()
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="probe.py", description=__doc__.splitlines()[0],
                                allow_abbrev=False)
    for name in INT_KNOBS:
        p.add_argument(f"--{name}", type=int, default=None)
    p.add_argument("--path", default=None)
    p.add_argument("--quantizer", default=None)
    p.add_argument("--arch", default=None)
    p.add_argument("--flashinfer", default=None, help="the FlashInfer version the cell expects")
    return p


def load_config(argv: list[str], environ: dict[str, str] | os._Environ[str]) -> Config:
    """Defaults < command line < KIT_KNOBS (the cell's axis values) < KIT_ARCH."""
    args, unknown = _parser().parse_known_args(argv)
    if unknown:
        raise ConfigError(f"unknown arguments: {' '.join(unknown)}")
    values: dict[str, Any] = dict(DEFAULTS)
    values.update({"arch": "", "flashinfer": ""})
    values.update({k: v for k, v in vars(args).items() if v is not None})
    knobs = parse_knobs(environ.get("KIT_KNOBS", ""))
    for name, text in knobs.items():
        if name in INT_KNOBS:
            try:
                values[name] = int(text)
            except ValueError:
                raise ConfigError(f"knob {name}={text!r} is not an integer") from None
        elif name in values:
            values[name] = text
        # other knobs (kit's own axes) are reported, not interpreted
    if environ.get("KIT_ARCH"):
        values["arch"] = environ["KIT_ARCH"]
    cfg = Config(knobs=knobs, **{k: values[k] for k in Config.__dataclass_fields__
                                 if k != "knobs"})
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    if cfg.path not in ("auto", *PATHS):
        raise ConfigError(f"path={cfg.path!r}: expected auto, {', '.join(PATHS)}")
    if cfg.quantizer not in ("flashinfer", "torch"):
        raise ConfigError(f"quantizer={cfg.quantizer!r}: expected flashinfer or torch")
    for name in ("experts", "topk", "tokens", "hidden", "inter"):
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"{name} must be positive, got {getattr(cfg, name)}")
    if cfg.topk > cfg.experts:
        raise ConfigError(f"topk={cfg.topk} > experts={cfg.experts}")
    for name in ("hidden", "inter"):
        if getattr(cfg, name) % ALIGN:
            raise ConfigError(f"{name}={getattr(cfg, name)} is not a multiple of {ALIGN} "
                              "(vLLM pads MXFP4 MoE sizes to 128 for FlashInfer's CUTLASS path)")
    if cfg.tactic < -1:
        raise ConfigError(f"tactic={cfg.tactic}: -1 (FlashInfer's default) or a profile id >= 0")


# ------------------------------------------------------------------ which path, which GPU


def _arch_cc(arch: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"sm_(\d+)(\d)([af]?)", arch or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def path_for_cc(cc: tuple[int, int]) -> str | None:
    """The path vLLM's FlashInfer CUTLASS MXFP4 backend takes on this compute capability."""
    if cc == (9, 0):
        return "sm90"
    if cc[0] in (10, 11, 12):
        return "mxfp4"
    return None


def path_for_arch(arch: str) -> str | None:
    cc = _arch_cc(arch)
    return path_for_cc(cc) if cc else None


def path_runs_on(path: str, cc: tuple[int, int]) -> tuple[bool, str]:
    """Whether FlashInfer's build of the path can run on this GPU, and why not."""
    if path == "sm90":
        if cc == (9, 0):
            return True, ""
        return False, (f"the Hopper path (W-MXFP4 x A-BF16, use_w4_group_scaling) needs an SM90 "
                       f"GPU; this one is SM{cc[0]}{cc[1]}")
    if path == "mxfp4":
        if cc[0] in (10, 11, 12):
            return True, ""
        return False, (f"the MXFP4 x MXFP8 path (use_mxfp8_act_scaling) is built for SM100/SM12x; "
                       f"this GPU is SM{cc[0]}{cc[1]}")
    return False, f"unknown path {path!r}"


def arch_runs_on(arch: str, cc: tuple[int, int]) -> bool:
    """kit's rule (kit/gpu.py): 'a' = exact CC, 'f' = same major and minor >=, plain likewise."""
    want = _arch_cc(arch)
    if want is None:
        return True
    if arch.endswith("a"):
        return cc == want
    return cc[0] == want[0] and cc[1] >= want[1]


def resolve_path(cfg: Config, cc: tuple[int, int] | None) -> str | None:
    if cfg.path != "auto":
        return cfg.path
    if cfg.arch:
        return path_for_arch(cfg.arch)
    return path_for_cc(cc) if cc else None


# ------------------------------------------------------------------ MX formats (pure PyTorch)


def _binade(a: torch.Tensor) -> torch.Tensor:
    """floor(log2(a)) for a > 0, exactly (frexp: a = m * 2**e with m in [0.5, 1))."""
    _, e = torch.frexp(a)
    return e.to(torch.int32) - 1


def _round_to_grid(x: torch.Tensor, mant_bits: int, min_normal_exp: int,
                   max_value: float) -> torch.Tensor:
    """Round-to-nearest-even onto a tiny float grid, saturating at max_value (satfinite).

    Within a binade [2**e, 2**(e+1)) the grid step is 2**(e - mant_bits); below the smallest
    normal the step stays 2**(min_normal_exp - mant_bits) (subnormals). torch.round rounds half
    to even, which is the hardware's cvt.rn. All arithmetic is on powers of two: exact in fp32.
    """
    x = x.to(torch.float32)
    mag = x.abs()
    exp = _binade(torch.where(mag > 0, mag, torch.ones_like(mag)))
    exp = torch.clamp(exp, min=min_normal_exp)
    step = torch.ldexp(torch.ones_like(mag), (exp - mant_bits).to(torch.int32))
    q = torch.round(mag / step) * step
    q = torch.clamp(q, max=max_value)
    q = torch.where(torch.isnan(x), x, q)
    return torch.copysign(q, x)


def round_e2m1(x: torch.Tensor) -> torch.Tensor:
    """fp32 values of FP4 E2M1 (1 mantissa bit, normals from 1.0, max 6), RNE satfinite."""
    return _round_to_grid(x, mant_bits=1, min_normal_exp=0, max_value=E2M1_MAX)


def round_e4m3(x: torch.Tensor) -> torch.Tensor:
    """fp32 values of FP8 E4M3 (fn: 3 mantissa bits, normals from 2**-6, max 448), RNE satfinite."""
    return _round_to_grid(x, mant_bits=3, min_normal_exp=-6, max_value=E4M3_MAX)


def _encode(v: torch.Tensor, exp_bits: int, mant_bits: int, bias: int) -> torch.Tensor:
    """Bit pattern (sign | exponent | mantissa) of values already on the grid."""
    sign = torch.signbit(v).to(torch.int32)
    mag = v.abs().to(torch.float32)
    min_normal = 2.0 ** (1 - bias)
    normal = mag >= min_normal
    e = _binade(torch.where(normal, mag, torch.ones_like(mag)))
    mant_normal = torch.round((torch.ldexp(mag, (-e).to(torch.int32)) - 1) * (1 << mant_bits))
    mant_sub = torch.round(mag / (min_normal / (1 << mant_bits)))
    field_e = torch.where(normal, e + bias, torch.zeros_like(e))
    mant = torch.where(normal, mant_normal, mant_sub).to(torch.int32)
    code = (sign << (exp_bits + mant_bits)) | (field_e << mant_bits) | mant
    return code.to(torch.uint8)


def _decode(code: torch.Tensor, exp_bits: int, mant_bits: int, bias: int) -> torch.Tensor:
    c = code.to(torch.int32)
    sign = (c >> (exp_bits + mant_bits)) & 1
    field_e = (c >> mant_bits) & ((1 << exp_bits) - 1)
    mant = (c & ((1 << mant_bits) - 1)).to(torch.float32)
    frac = torch.where(field_e > 0, 1 + mant / (1 << mant_bits), mant / (1 << mant_bits))
    exp = torch.where(field_e > 0, field_e - bias, torch.full_like(field_e, 1 - bias))
    mag = torch.ldexp(frac, exp)
    return torch.where(sign.bool(), -mag, mag)


def encode_e2m1(v: torch.Tensor) -> torch.Tensor:
    """4-bit codes (in uint8, 0..15) of E2M1 values: s e e m, bias 1."""
    return _encode(v, exp_bits=2, mant_bits=1, bias=1)


def decode_e2m1(code: torch.Tensor) -> torch.Tensor:
    return _decode(code & 0xF, exp_bits=2, mant_bits=1, bias=1)


def encode_e4m3(v: torch.Tensor) -> torch.Tensor:
    """Bytes of E4M3 (fn) values: s eeee mmm, bias 7 (the bits of torch.float8_e4m3fn)."""
    return _encode(v, exp_bits=4, mant_bits=3, bias=7)


def decode_e4m3(code: torch.Tensor) -> torch.Tensor:
    c = code.to(torch.int32)
    out = _decode(c, exp_bits=4, mant_bits=3, bias=7)
    return torch.where((c & 0x7F) == 0x7F, torch.full_like(out, float("nan")), out)


def ue8m0_for(amax: torch.Tensor, elem_max: float) -> torch.Tensor:
    """The UE8M0 scale byte FlashInfer / TensorRT-LLM pick: 2**ceil(log2(amax / elem_max)),
    i.e. __nv_cvt_float_to_e8m0(amax / elem_max, satfinite, cudaRoundPosInf). Byte = e + 127."""
    ratio = amax.to(torch.float32) / elem_max
    pos = ratio > 0
    m, e = torch.frexp(torch.where(pos, ratio, torch.ones_like(ratio)))
    exp = torch.where(m == 0.5, e - 1, e).to(torch.int32)  # an exact power of two stays
    exp = torch.clamp(exp, -127, 127)
    return torch.where(pos, exp + 127, torch.zeros_like(exp)).to(torch.uint8)


def decode_ue8m0(byte: torch.Tensor) -> torch.Tensor:
    """2**(byte - 127) in fp32 (0xFF, NaN in the format, is never produced here)."""
    b = byte.to(torch.int32)
    return torch.ldexp(torch.ones(b.shape, dtype=torch.float32), b - 127)


def _blocks(x: torch.Tensor) -> torch.Tensor:
    if x.shape[-1] % BLOCK:
        raise ValueError(f"last dimension {x.shape[-1]} is not a multiple of {BLOCK}")
    return x.to(torch.float32).reshape(*x.shape[:-1], x.shape[-1] // BLOCK, BLOCK)


def _quantize_mx(x: torch.Tensor, elem_max: float,
                 round_fn: Any) -> tuple[torch.Tensor, torch.Tensor]:
    blk = _blocks(x)
    scale = ue8m0_for(blk.abs().amax(dim=-1), elem_max)
    q = round_fn(blk / decode_ue8m0(scale).unsqueeze(-1))
    return q.reshape(x.shape), scale


def quantize_mxfp4(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """OCP MXFP4 as a checkpoint stores it (and vLLM loads it): e2m1 pairs packed in uint8
    (element 2j in the low nibble, 2j+1 in the high), one UE8M0 byte per 32 elements, linear
    layout. Shapes [..., K] -> ([..., K/2] uint8, [..., K/32] uint8)."""
    values, scale = _quantize_mx(w, E2M1_MAX, round_e2m1)
    codes = encode_e2m1(values).to(torch.int32)
    packed = (codes[..., 0::2] | (codes[..., 1::2] << 4)).to(torch.uint8)
    return packed, scale


def dequantize_mxfp4(packed: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    p = packed.to(torch.int32)
    codes = torch.stack([p & 0xF, (p >> 4) & 0xF], dim=-1).reshape(*p.shape[:-1], -1)
    values = decode_e2m1(codes)
    blk = values.reshape(*values.shape[:-1], values.shape[-1] // BLOCK, BLOCK)
    return (blk * decode_ue8m0(scale).unsqueeze(-1)).reshape(values.shape)


def quantize_mxfp8(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MXFP8 the way flashinfer.mxfp8_quantize computes it: scale 2**ceil(log2(amax/448)),
    e4m3 RNE. Returns ([..., K] uint8 e4m3 bytes, [..., K/32] uint8 UE8M0, linear layout)."""
    values, scale = _quantize_mx(x, E4M3_MAX, round_e4m3)
    return encode_e4m3(values), scale


def dequantize_mxfp8(codes: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    values = decode_e4m3(codes)
    blk = values.reshape(*values.shape[:-1], values.shape[-1] // BLOCK, BLOCK)
    return (blk * decode_ue8m0(scale).unsqueeze(-1)).reshape(values.shape)


def fake_quant_mxfp8(x: torch.Tensor) -> torch.Tensor:
    """x -> MXFP8 -> fp32: what the kernel does to GEMM1's activated output before GEMM2."""
    return dequantize_mxfp8(*quantize_mxfp8(x))


# ------------------------------------------------------------------ scale-factor layouts


def _pad_to(n: int, m: int) -> int:
    return (n + m - 1) // m * m


def swizzle_sf_128x4(sf: torch.Tensor) -> torch.Tensor:
    """TensorRT-LLM's 128x4 scale-factor layout (get_sf_out_offset_128x4, what
    flashinfer.block_scale_interleave and mxfp8_quantize(..., is_sf_swizzled_layout=True)
    write): per matrix, rows padded to 128 and columns to 4, then
    [m_tile, k_tile, row % 32, (row % 128) // 32, col % 4]. [..., R, C] -> [..., R128 * C4]."""
    *batch, rows, cols = sf.shape
    r, c = _pad_to(rows, 128), _pad_to(cols, 4)
    padded = torch.zeros(*batch, r, c, dtype=sf.dtype)
    padded[..., :rows, :cols] = sf
    t = padded.reshape(*batch, r // 128, 4, 32, c // 4, 4)
    nb = len(batch)
    perm = [*range(nb), nb, nb + 3, nb + 2, nb + 1, nb + 4]
    return t.permute(*perm).reshape(*batch, r * c).contiguous()


def unswizzle_sf_128x4(sw: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Inverse of swizzle_sf_128x4: [..., R128 * C4] -> [..., rows, cols]."""
    *batch, _ = sw.shape
    r, c = _pad_to(rows, 128), _pad_to(cols, 4)
    t = sw.reshape(*batch, r // 128, c // 4, 32, 4, 4)
    nb = len(batch)
    perm = [*range(nb), nb, nb + 3, nb + 2, nb + 1, nb + 4]
    return t.permute(*perm).reshape(*batch, r, c)[..., :rows, :cols].contiguous()


def interleave_sf_sm90(sf: torch.Tensor) -> torch.Tensor:
    """vLLM's _interleave_mxfp4_cutlass_sm90: [E, R, C] -> [E, C/4, R*4], each row's scales
    taken four K-blocks at a time (the layout FlashInfer's Hopper W4A16 grouped GEMM reads)."""
    e, rows, cols = sf.shape
    if cols % 4:
        raise ValueError(f"{cols} scale columns: the SM90 layout needs a multiple of 4")
    return sf.reshape(e, rows, cols // 4, 4).permute(0, 2, 1, 3).reshape(e, cols // 4, rows * 4)


def deinterleave_sf_sm90(sf: torch.Tensor, rows: int) -> torch.Tensor:
    e, c4, _ = sf.shape
    return sf.reshape(e, c4, rows, 4).permute(0, 2, 1, 3).reshape(e, rows, c4 * 4)


# ------------------------------------------------------------------ inputs


@dataclass
class Inputs:
    """One MoE layer in checkpoint form (what vLLM loads for gpt-oss-style MXFP4)."""

    x: torch.Tensor  # [T, H] bf16
    router_logits: torch.Tensor  # [T, E] fp32
    w13: torch.Tensor  # [E, 2I, H/2] uint8 MXFP4, gate/up rows interleaved (gate = 0::2)
    w13_scale: torch.Tensor  # [E, 2I, H/32] uint8 UE8M0
    b13: torch.Tensor  # [E, 2I] bf16, interleaved like w13
    w2: torch.Tensor  # [E, H, I/2] uint8 MXFP4
    w2_scale: torch.Tensor  # [E, H, I/32] uint8
    b2: torch.Tensor  # [E, H] bf16


def make_inputs(cfg: Config) -> Inputs:
    """Seeded, on the CPU: a gpt-oss-like layer. Weights are drawn in bf16 with unit-variance
    outputs in mind (w13 ~ N(0, 1/H), w2 ~ N(0, 1/I)) and quantized to MXFP4 here, standing in
    for the checkpoint; activations ~ N(0, 1); biases ~ N(0, 0.1^2)."""
    g = torch.Generator().manual_seed(cfg.seed)
    e, t, h, i = cfg.experts, cfg.tokens, cfg.hidden, cfg.inter

    def randn(*shape: int, std: float = 1.0) -> torch.Tensor:
        return (torch.randn(*shape, generator=g) * std).to(torch.bfloat16)

    x = randn(t, h)
    logits = torch.randn(t, e, generator=g)
    w13_f = randn(e, 2 * i, h, std=h ** -0.5)
    b13 = randn(e, 2 * i, std=0.1)
    w2_f = randn(e, h, i, std=i ** -0.5)
    b2 = randn(e, h, std=0.1)
    w13, w13_scale = quantize_mxfp4(w13_f.float())
    w2, w2_scale = quantize_mxfp4(w2_f.float())
    return Inputs(x=x, router_logits=logits, w13=w13, w13_scale=w13_scale, b13=b13, w2=w2,
                  w2_scale=w2_scale, b2=b2)


def route(logits: torch.Tensor, topk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k of the router logits, softmax over the k chosen (gpt-oss: renormalize=True; the
    same weights as softmax over all experts, top-k, then renormalize). -> (fp32 [T,k],
    int32 [T,k])."""
    vals, ids = torch.topk(logits.to(torch.float32), topk, dim=-1, sorted=True)
    return torch.softmax(vals, dim=-1), ids.to(torch.int32)


# ------------------------------------------------------------------ vLLM's weight transforms


def _w31(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Checkpoint rows [g0, u0, g1, u1, ...] -> [up; gate] ([w3; w1]), the order FlashInfer's
    CUTLASS MoE reads: its activation takes 'linear' from the first half, 'gate' from the second
    (vLLM mxfp4.py: de-interleave, then torch.cat([w3, w1]))."""
    gate = t.index_select(dim, torch.arange(0, t.shape[dim], 2))
    up = t.index_select(dim, torch.arange(1, t.shape[dim], 2))
    return torch.cat([up, gate], dim=dim).contiguous()


@dataclass
class KernelArgs:
    """The tensors handed to cutlass_fused_moe, on the CPU until main moves them."""

    fc1: torch.Tensor
    fc2: torch.Tensor
    quant_scales: list[torch.Tensor]
    b13: torch.Tensor
    b2: torch.Tensor
    flags: dict[str, Any]


def kernel_args_sm90(inp: Inputs) -> KernelArgs:
    """vLLM's SM90_FI_MXFP4_BF16 / FLASHINFER_CUTLASS_MXFP4_BF16: uint8 weights as they are,
    scales in the SM90 interleave, use_w4_group_scaling=True, activations stay bf16."""
    return KernelArgs(
        fc1=_w31(inp.w13, 1), fc2=inp.w2.contiguous(),
        quant_scales=[interleave_sf_sm90(_w31(inp.w13_scale, 1)).contiguous(),
                      interleave_sf_sm90(inp.w2_scale).contiguous()],
        b13=_w31(inp.b13, 1), b2=inp.b2.contiguous(),
        flags={"use_w4_group_scaling": True})


def kernel_args_mxfp4(inp: Inputs, swizzle: Any = swizzle_sf_128x4) -> KernelArgs:
    """vLLM's FLASHINFER_CUTLASS_MXFP4_MXFP8: weights viewed as int64 (16 e2m1 per element),
    weight scales through block_scale_interleave (the 128x4 layout) viewed as int32, and a
    per-expert global scale of 1.0 for each GEMM ('fake_input_scale')."""
    e = inp.w13.shape[0]
    w13_s = _w31(inp.w13_scale, 1)
    ones = torch.ones(e, dtype=torch.float32)
    return KernelArgs(
        fc1=_w31(inp.w13, 1).view(torch.int64), fc2=inp.w2.contiguous().view(torch.int64),
        quant_scales=[swizzle(w13_s).reshape(w13_s.shape).view(torch.int32), ones,
                      swizzle(inp.w2_scale).reshape(inp.w2_scale.shape).view(torch.int32),
                      ones.clone()],
        b13=_w31(inp.b13, 1), b2=inp.b2.contiguous(),
        flags={"use_mxfp8_act_scaling": True})


# ------------------------------------------------------------------ reference


def swiglu_oai(gate: torch.Tensor, linear: torch.Tensor, alpha: float = SWIGLU_ALPHA,
               beta: float = SWIGLU_BETA, limit: float | None = SWIGLU_LIMIT) -> torch.Tensor:
    """gpt-oss SwiGLU as FlashInfer's SwigluBiasAdaptor computes it:
    g = min(gate, limit); l = clamp(linear, -limit, limit); g * sigmoid(alpha * g) * (l + beta)."""
    if limit is not None:
        gate = gate.clamp(max=limit)
        linear = linear.clamp(min=-limit, max=limit)
    return gate * torch.sigmoid(alpha * gate) * (linear + beta)


def _bf16(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.float32).to(torch.bfloat16).to(torch.float64)


def reference_moe(x: torch.Tensor, w13: torch.Tensor, b13: torch.Tensor, w2: torch.Tensor,
                  b2: torch.Tensor, weights: torch.Tensor, ids: torch.Tensor, act_quant: str,
                  emulate_bf16: bool = True) -> torch.Tensor:
    """The MoE on dequantized operands, in float64.

    x [T,H] (the activations the kernel reads, already dequantized), w13 [E,2I,H] with the
    checkpoint's interleaved gate/up rows, b13 [E,2I], w2 [E,H,I], b2 [E,H], weights/ids [T,k].
    act_quant 'mxfp8' requantizes the activated intermediate to MXFP8 as the kernel does before
    GEMM2; 'bf16' keeps it in bf16. emulate_bf16 rounds where the kernel stores bf16 (GEMM1 and
    GEMM2 outputs, the bf16 intermediate, the final output). Returns fp32 [T,H].
    """
    rnd = _bf16 if emulate_bf16 else (lambda t: t)
    x64 = x.to(torch.float64)
    idx = ids.long()
    h1 = rnd(torch.einsum("th,tkoh->tko", x64, w13.to(torch.float64)[idx]))
    h1 = h1 + b13.to(torch.float64)[idx]
    act = swiglu_oai(h1[..., 0::2], h1[..., 1::2])
    if act_quant == "mxfp8":
        act = fake_quant_mxfp8(act.to(torch.float32)).to(torch.float64)
    else:
        act = rnd(act)
    h2 = rnd(torch.einsum("tki,tkhi->tkh", act, w2.to(torch.float64)[idx]))
    h2 = h2 + b2.to(torch.float64)[idx]
    out = torch.einsum("tkh,tk->th", h2, weights.to(torch.float64))
    return rnd(out).to(torch.float32)


def reference_moe_loop(x: torch.Tensor, w13: torch.Tensor, b13: torch.Tensor, w2: torch.Tensor,
                       b2: torch.Tensor, weights: torch.Tensor, ids: torch.Tensor,
                       act_quant: str) -> torch.Tensor:
    """The same MoE written as plain loops (token, chosen expert), no bf16 emulation."""
    t_count, hidden = x.shape
    out = torch.zeros(t_count, hidden, dtype=torch.float64)
    for t in range(t_count):
        for j in range(ids.shape[1]):
            e = int(ids[t, j])
            h1 = w13[e].double() @ x[t].double() + b13[e].double()
            gate, up = h1[0::2], h1[1::2]
            act = swiglu_oai(gate, up)
            if act_quant == "mxfp8":
                act = fake_quant_mxfp8(act.float()).double()
            y = w2[e].double() @ act + b2[e].double()
            out[t] += float(weights[t, j]) * y
    return out.float()


# ------------------------------------------------------------------ tolerance


def compare(out: torch.Tensor, ref: torch.Tensor, path: str) -> dict[str, Any]:
    """The verify block. Pass iff every element is finite and
    max|out - ref| <= RTOL[path] * max|ref|."""
    o, r = out.to(torch.float64).cpu(), ref.to(torch.float64).cpu()
    finite = bool(torch.isfinite(o).all())
    ref_absmax = float(r.abs().max()) if r.numel() else 0.0
    tol = RTOL[path] * max(ref_absmax, 1e-30)
    diff = (o - r).abs()
    max_abs = float(diff.max()) if finite and diff.numel() else float("inf")
    norm = float(torch.linalg.vector_norm(r)) or 1e-30
    return {
        "ran": True,
        "passed": finite and max_abs <= tol,
        "max_abs_error": max_abs if finite else None,
        "max_rel_error": (max_abs / max(ref_absmax, 1e-30)) if finite else None,
        "rel_fro_error": (float(torch.linalg.vector_norm(o - r)) / norm) if finite else None,
        "ref_absmax": ref_absmax,
        "tolerance": tol,
        "rtol": RTOL[path],
        "checked": int(o.numel()),
        "nonfinite": int((~torch.isfinite(o)).sum()),
    }


# ------------------------------------------------------------------ error text -> stage/status


@dataclass
class Failure:
    stage: str
    status: str
    status_code: int = -1
    cuda_error: dict[str, str] = field(
        default_factory=lambda: {"name": "cudaSuccess", "string": "no error"})
    detail: str = ""  # the line that decided it


_STATUS_ALT = "|".join(re.escape(s) for s in sorted(CUTLASS_STATUS, key=len, reverse=True))
# TensorRT-LLM's MoE launchers (moe_gemm_tma_ws_launcher.inl, the mixed-input launcher,
# moe_gemm_template_dispatch.h) name the call that failed, then cutlassGetStatusString.
_CUTLASS_CALLS = [
    ("can_implement", re.compile(rf"will fail for params\. Error: ({_STATUS_ALT})")),
    ("initialize", re.compile(rf"Failed to initialize cutlass[^\n]*?\. Error: ({_STATUS_ALT})")),
    ("run", re.compile(rf"Failed to run cutlass[^\n]*?\. Error: ({_STATUS_ALT})")),
    # a bare CUTLASS call name next to a status, e.g. "initialize(): Error Internal"
    ("can_implement", re.compile(rf"can_implement\(?\)?:?\s*({_STATUS_ALT})")),
    ("initialize", re.compile(rf"initiali[sz]e\(?\)?:?\s*({_STATUS_ALT})")),
    ("run", re.compile(rf"\brun\(?\)?:?\s*({_STATUS_ALT})")),
]
_NOT_SUPPORTED = re.compile(
    r"Could not construct fused moe op|No valid tactics available|Unsupported tile|"
    r"shape combination for arch|disabled by FAST_BUILD|not (yet )?(implemented|supported)|"
    r"unexpected keyword argument|has no attribute 'cutlass_fused_moe'|Invalid backend",
    re.IGNORECASE)
_FLASHINFER_CHECK = re.compile(
    r"Check failed|must be divisible|must have the same|should match|must be \(|Expecting \d|"
    r"Expecting quant scales|must be (a )?scalar|Workspace is size", re.IGNORECASE)
# any other TensorRT-LLM assertion: the MoE runner refused the problem before a CUTLASS call
_TRTLLM_ASSERT = re.compile(r"\[TensorRT-LLM\]\[ERROR\] Assertion failed")
_JIT = re.compile(r"Ninja build failed|Failed to generate Cutlass kernels|"
                  r"Could not find nvcc|nvcc fatal|error: command '.*nvcc' failed")
_CUDA_TEXT = re.compile(r"CUDA runtime error in [^:\n]*: ([^\n(]+)|CUDA error: ([^\n]+)")
_CUDA_NAME = re.compile(r"\b(cudaError[A-Za-z]+)\b")


def _first_line_with(text: str, pattern: re.Pattern[str]) -> str:
    for line in text.splitlines():
        if pattern.search(line):
            return line.strip()[:500]
    return ""


def _first_error_line(text: str) -> str:
    for line in text.splitlines():
        if re.search(r"\berror\b", line, re.IGNORECASE):
            return line.strip()[:500]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0][:500] if lines else ""


def cuda_error_from_text(text: str) -> dict[str, str] | None:
    named = _CUDA_NAME.search(text)
    m = _CUDA_TEXT.search(text)
    string = ""
    if m:
        string = (m.group(1) or m.group(2) or "").strip().rstrip(".")
    if not string:
        for known in CUDA_ERRORS:
            if known in text:
                string = known
                break
    if named:
        return {"name": named.group(1), "string": string}
    if string:
        for known, name in CUDA_ERRORS.items():
            if string.lower().startswith(known.lower()) or known.lower() in string.lower():
                return {"name": name, "string": string}
        return {"name": "cudaErrorUnknown", "string": string}
    return None


def classify_exception(text: str, exc_type: str = "RuntimeError", during: str = "run") -> Failure:
    """A FlashInfer / TensorRT-LLM / CUTLASS / CUDA error text -> the harness's stage and status.

    `during` is what the probe was doing: 'jit' (building FlashInfer's module) or 'run' (the
    cutlass_fused_moe call). The text decides when it names a CUTLASS call or a CUDA error.
    """
    for stage, pattern in _CUTLASS_CALLS:
        m = pattern.search(text)
        if m:
            status = m.group(1)
            return Failure(stage, status, CUTLASS_STATUS.get(status, -1),
                           detail=_first_line_with(text, pattern))
    if _JIT.search(text) or (during == "jit" and exc_type != "OutOfMemoryError"):
        return Failure("jit", "build failed", detail=_first_error_line(text))
    cuda = cuda_error_from_text(text)
    if cuda is not None:
        return Failure("run", "CUDA error", cuda_error=cuda,
                       detail=_first_line_with(text, re.compile(re.escape(cuda["string"] or
                                                                          cuda["name"]))))
    if _NOT_SUPPORTED.search(text) or exc_type in ("NotImplementedError", "TypeError"):
        return Failure("can_implement", "Error Not Supported",
                       CUTLASS_STATUS["Error Not Supported"],
                       detail=_first_line_with(text, _NOT_SUPPORTED) or _first_error_line(text))
    if _FLASHINFER_CHECK.search(text) or _TRTLLM_ASSERT.search(text):
        return Failure("can_implement", "Rejected by FlashInfer",
                       detail=_first_line_with(text, _FLASHINFER_CHECK)
                       or _first_line_with(text, _TRTLLM_ASSERT))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return Failure("run", f"{exc_type}", detail=lines[0][:500] if lines else exc_type)


def trim_message(text: str, limit: int = 4000) -> str:
    """The error text without native backtrace frames ('1  0x7f... symbol + 12')."""
    kept = [ln for ln in text.splitlines() if not re.match(r"^\s*\d+\s+0x[0-9a-f]+\s", ln)]
    out = "\n".join(kept).strip()
    return out if len(out) <= limit else out[:limit] + " [...]"


# ------------------------------------------------------------------ the report


@dataclass
class Report:
    repro: str = REPRO
    stage: str = "start"
    status: str = ""
    status_code: int = -1
    cuda_error: dict[str, str] = field(
        default_factory=lambda: {"name": "cudaSuccess", "string": "no error"})
    smem_bytes: int = -1
    smem_optin_bytes: int = -1
    device: dict[str, Any] = field(default_factory=lambda: {"name": "", "cc": "-1.-1",
                                                             "sm_count": -1})
    verify: dict[str, Any] = field(default_factory=lambda: {"ran": False, "passed": False})
    knobs: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    problem: dict[str, Any] = field(default_factory=dict)
    call: str = ""
    timing: dict[str, float] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    error: dict[str, str] = field(default_factory=dict)
    note: str = ""

    def fail(self, f: Failure, exc_type: str, message: str) -> None:
        self.stage, self.status, self.status_code = f.stage, f.status, f.status_code
        self.cuda_error = f.cuda_error
        self.error = {"type": exc_type, "message": trim_message(message), "line": f.detail}
        first = message.strip().splitlines()[0][:300] if message.strip() else ""
        self.note = f.detail or first

    def line(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v not in ("", {}, [])
                or k in ("status", "knobs")}
        return PREFIX + json.dumps(_finite(data), sort_keys=False)


def _finite(v: Any) -> Any:
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_finite(x) for x in v]
    return v


def emit(report: Report) -> None:
    sys.stdout.flush()
    print(report.line(), flush=True)


# ------------------------------------------------------------------ versions


def bundled_cutlass_version(flashinfer_dir: Path) -> str:
    """The CUTLASS FlashInfer compiles its JIT modules against (data/cutlass/.../version.h)."""
    for header in (flashinfer_dir / "data/cutlass/include/cutlass/version.h",
                   flashinfer_dir / "data/3rdparty/cutlass/include/cutlass/version.h"):
        if header.is_file():
            text = header.read_text(errors="replace")
            parts = [re.search(rf"#define CUTLASS_{k}\s+(\d+)", text) for k in
                     ("MAJOR", "MINOR", "PATCH")]
            if all(parts):
                return ".".join(p.group(1) for p in parts if p)
    return ""


def nvcc_version() -> str:
    try:
        from flashinfer.jit import cpp_ext  # type: ignore[import-not-found]

        return str(cpp_ext.get_cuda_version())
    except Exception:
        return ""


# ------------------------------------------------------------------ main


def _device(report: Report) -> tuple[int, int] | None:
    if not torch.cuda.is_available() or torch.cuda.device_count() == 0:
        return None
    props = torch.cuda.get_device_properties(0)
    report.device = {"name": props.name, "cc": f"{props.major}.{props.minor}",
                     "sm_count": props.multi_processor_count}
    optin = getattr(props, "shared_memory_per_block_optin", None)
    if isinstance(optin, int):
        report.smem_optin_bytes = optin
    return (props.major, props.minor)


def _call_flashinfer(fi_moe: Any, cfg: Config, x_in: torch.Tensor,
                     x_sf: torch.Tensor | None, weights: torch.Tensor, ids: torch.Tensor,
                     ka: KernelArgs, dev: torch.device) -> torch.Tensor:
    """cutlass_fused_moe with the arguments vLLM's FlashInferExperts.apply passes."""
    import inspect

    e = cfg.experts
    out = torch.empty(cfg.tokens, cfg.hidden, dtype=torch.bfloat16, device=dev)
    kwargs: dict[str, Any] = dict(
        input=x_in, token_selected_experts=ids.to(dev).int().contiguous(),
        token_final_scales=weights.to(dev).float().contiguous(),
        fc1_expert_weights=ka.fc1.to(dev), fc2_expert_weights=ka.fc2.to(dev),
        output_dtype=torch.bfloat16, output=out,
        quant_scales=[q.to(dev) for q in ka.quant_scales],
        fc1_expert_biases=ka.b13.to(dev), fc2_expert_biases=ka.b2.to(dev),
        swiglu_alpha=torch.full((e,), SWIGLU_ALPHA, dtype=torch.float32, device=dev),
        swiglu_beta=torch.full((e,), SWIGLU_BETA, dtype=torch.float32, device=dev),
        swiglu_limit=torch.full((e,), SWIGLU_LIMIT, dtype=torch.float32, device=dev),
        tp_size=1, tp_rank=0, ep_size=1, ep_rank=0, **ka.flags)
    if x_sf is not None:
        kwargs["input_sf"] = x_sf
    if cfg.tactic >= 0:
        if "profile_ids" not in inspect.signature(fi_moe.cutlass_fused_moe).parameters:
            raise ConfigError("knob tactic: this FlashInfer's cutlass_fused_moe takes no "
                              "profile_ids (FlashInfer's default tactic is the only one)")
        kwargs["profile_ids"] = [cfg.tactic, cfg.tactic]
    fi_moe.cutlass_fused_moe(**kwargs)
    torch.cuda.synchronize()
    return out


def run(cfg: Config, report: Report) -> None:
    report.problem = {"experts": cfg.experts, "topk": cfg.topk, "tokens": cfg.tokens,
                      "hidden": cfg.hidden, "inter": cfg.inter, "seed": cfg.seed,
                      "activation": f"swiglu(alpha={SWIGLU_ALPHA}, beta={SWIGLU_BETA}, "
                                    f"limit={SWIGLU_LIMIT})"}
    if torch is None:
        report.stage, report.status = "import", "torch"
        report.note = f"cannot import torch: {TORCH_IMPORT_ERROR}"
        return
    report.versions.update({"torch": torch.__version__, "torch_cuda": str(torch.version.cuda)})
    report.stage = "device"
    cc = _device(report)
    if cc is None:
        report.cuda_error = {"name": "cudaErrorNoDevice",
                             "string": "no CUDA-capable device is detected"}
        return
    path = resolve_path(cfg, cc)
    report.problem["path"] = path or ""
    if path is None:
        report.stage, report.note = "skipped_arch", (
            f"no FlashInfer CUTLASS MXFP4 path for arch {cfg.arch or '-'} on SM{cc[0]}{cc[1]}")
        return
    report.problem["quantization"] = PATHS[path]
    ok, why = path_runs_on(path, cc)
    if ok and cfg.arch and not arch_runs_on(cfg.arch, cc):
        ok, why = False, f"the cell's target {cfg.arch} does not run on SM{cc[0]}{cc[1]}"
    if not ok:
        report.stage, report.note = "skipped_arch", why
        return

    report.stage = "import"
    t0 = time.perf_counter()
    try:
        import flashinfer  # type: ignore[import-not-found]
        from flashinfer import fused_moe as fi_moe  # type: ignore[import-not-found]
    except Exception as exc:
        report.status = "flashinfer"
        report.error = {"type": type(exc).__name__, "message": trim_message(str(exc))}
        report.note = f"cannot import flashinfer: {type(exc).__name__}: {exc}"[:300]
        return
    report.timing["import_s"] = round(time.perf_counter() - t0, 3)
    fi_dir = Path(flashinfer.__file__).parent
    report.versions.update({"flashinfer": str(getattr(flashinfer, "__version__", "")),
                            "cutlass": bundled_cutlass_version(fi_dir),
                            "nvcc": nvcc_version()})
    try:
        import tvm_ffi  # type: ignore[import-not-found]

        report.versions["tvm_ffi"] = str(getattr(tvm_ffi, "__version__", ""))
    except Exception:
        pass
    want = cfg.flashinfer
    have = report.versions["flashinfer"]
    if want and have.split("+")[0] != want.split("+")[0]:
        report.status = "version mismatch"
        report.note = f"the cell asks for FlashInfer {want}; {have} imported from {fi_dir}"
        return
    report.call = ("flashinfer.fused_moe.cutlass_fused_moe(" +
                   ", ".join(f"{k}=True" for k in
                             (("use_w4_group_scaling",) if path == "sm90"
                              else ("use_mxfp8_act_scaling",))) + ")")

    # Build (or load) FlashInfer's JIT module for this GPU first, so a compile failure is not
    # taken for a kernel failure; cutlass_fused_moe reuses the cached module.
    report.stage = "jit"
    backend = f"{cc[0] * 10 + cc[1]}"
    get_module = getattr(getattr(fi_moe, "core", None), "get_cutlass_fused_moe_module", None)
    t0 = time.perf_counter()
    if get_module is not None:
        try:
            get_module(backend)
        except Exception as exc:
            report.fail(classify_exception(str(exc), type(exc).__name__, during="jit"),
                        type(exc).__name__, str(exc))
            report.timing["jit_s"] = round(time.perf_counter() - t0, 1)
            return
    report.timing["jit_s"] = round(time.perf_counter() - t0, 1)

    dev = torch.device("cuda", 0)
    inp = make_inputs(cfg)
    weights, ids = route(inp.router_logits, cfg.topk)
    w13_deq = dequantize_mxfp4(inp.w13, inp.w13_scale)
    w2_deq = dequantize_mxfp4(inp.w2, inp.w2_scale)
    x_sf = None
    report.stage = "run"
    if path == "sm90":
        ka = kernel_args_sm90(inp)
        x_in = inp.x.to(dev)
        x_ref = inp.x.float()
        act_quant = "bf16"
    else:
        # Activations: vLLM calls flashinfer.mxfp8_quantize(x, True, 32); weight scales go
        # through flashinfer.block_scale_interleave. quantizer=torch uses this file's bit-exact
        # versions instead; either way the reference reads back the bytes the kernel gets.
        codes, sf = quantize_mxfp8(inp.x.float())
        sw = swizzle_sf_128x4(sf)
        ka = kernel_args_mxfp4(inp)
        act_quant = "mxfp8"
        if cfg.quantizer == "flashinfer":
            try:
                fq, fsf = flashinfer.mxfp8_quantize(inp.x.to(dev), True, 32)
                fi_codes = fq.view(torch.uint8).cpu().reshape(codes.shape)
                fi_sw = fsf.view(torch.uint8).cpu().reshape(-1)
                w13_s = _w31(inp.w13_scale, 1)
                fi_w13 = flashinfer.block_scale_interleave(w13_s.to(dev)).cpu().reshape(-1)
                fi_w2 = flashinfer.block_scale_interleave(inp.w2_scale.to(dev)).cpu().reshape(-1)
            except Exception as exc:
                report.fail(classify_exception(str(exc), type(exc).__name__, during="jit"),
                            type(exc).__name__, str(exc))
                report.note = "FlashInfer's MXFP8 quantizer / scale interleave failed: " + \
                    report.note
                return
            report.checks = {
                "mxfp8_codes_equal_torch": float((fi_codes == codes).float().mean()),
                "mxfp8_scales_equal_torch": bool(torch.equal(fi_sw[:sw.numel()], sw)),
                "w13_scale_layout_equal_torch": bool(torch.equal(
                    fi_w13, swizzle_sf_128x4(w13_s).reshape(-1))),
                "w2_scale_layout_equal_torch": bool(torch.equal(
                    fi_w2, swizzle_sf_128x4(inp.w2_scale).reshape(-1))),
            }
            codes, sw = fi_codes, fi_sw
            ka.quant_scales[0] = fi_w13.reshape(w13_s.shape).view(torch.int32)
            ka.quant_scales[2] = fi_w2.reshape(inp.w2_scale.shape).view(torch.int32)
        x_in = codes.to(dev).view(torch.float8_e4m3fn)
        x_sf = sw.to(dev)
        sf_lin = unswizzle_sf_128x4(sw[: _pad_to(cfg.tokens, 128) * _pad_to(cfg.hidden // 32, 4)],
                                    cfg.tokens, cfg.hidden // BLOCK)
        x_ref = dequantize_mxfp8(codes, sf_lin)

    t0 = time.perf_counter()
    try:
        out = _call_flashinfer(fi_moe, cfg, x_in, x_sf, weights, ids, ka, dev)
    except ConfigError as exc:
        report.stage, report.note = "configure", str(exc)
        return
    except Exception as exc:
        report.timing["run_s"] = round(time.perf_counter() - t0, 3)
        msg = str(exc)
        report.fail(classify_exception(msg, type(exc).__name__, during="run"),
                    type(exc).__name__, msg)
        return
    report.timing["run_s"] = round(time.perf_counter() - t0, 3)
    report.status, report.status_code = "Success", 0

    report.stage = "verify"
    t0 = time.perf_counter()
    ref = reference_moe(x_ref, w13_deq, inp.b13.float(), w2_deq, inp.b2.float(), weights, ids,
                        act_quant)
    report.verify = compare(out.float().cpu(), ref, path)
    report.timing["reference_s"] = round(time.perf_counter() - t0, 3)
    if report.verify["passed"]:
        report.stage = "done"


def main(argv: list[str] | None = None) -> int:
    report = Report(repro=os.environ.get("KIT_REPRO", REPRO))
    report.versions = {"python": platform.python_version()}
    try:
        cfg = load_config(sys.argv[1:] if argv is None else argv, os.environ)
    except ConfigError as exc:
        report.knobs = parse_knobs(os.environ.get("KIT_KNOBS", ""))
        report.stage, report.note = "configure", str(exc)
        emit(report)
        return 0
    report.knobs = dict(cfg.knobs)
    try:
        run(cfg, report)
    except BaseException as exc:  # one line, whatever happened
        if isinstance(exc, KeyboardInterrupt):
            report.note = "interrupted"
        report.error = {"type": type(exc).__name__,
                        "message": trim_message(traceback.format_exc())}
        report.note = report.note or f"probe failed at stage {report.stage}: " \
                                     f"{type(exc).__name__}: {exc}"[:300]
        report.stage = "probe"
    emit(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

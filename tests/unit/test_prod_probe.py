"""The FlashInfer fused-MoE probe's pure parts (repros/prod_flashinfer_moe/probe.py), on the CPU.

Needs PyTorch (a CPU build is enough); skipped without it. FlashInfer is never imported here.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # a torch build may warn at import (NumPy, CUDA); not ours
    torch: Any = pytest.importorskip("torch", reason="the probe's pure parts need PyTorch")

from kit.engine import classify
from kit.spec.model import Outcome

PROBE = Path(__file__).resolve().parents[2] / "repros" / "prod_flashinfer_moe" / "probe.py"
E2M1 = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]


@pytest.fixture(scope="module")
def probe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kit_prod_probe", PROBE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


def _e4m3_value(code: int) -> float:
    """OCP E4M3 (fn) from its bits, written out independently of the probe."""
    s, e, m = code >> 7, (code >> 3) & 0xF, code & 7
    if e == 0xF and m == 7:
        return math.nan
    v = m / 8 * 2.0 ** -6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7)
    return -v if s else v


# ------------------------------------------------------------------ element formats


def test_e2m1_codes_decode_to_the_ocp_table_and_encode_back(probe: ModuleType) -> None:
    codes = torch.arange(16, dtype=torch.uint8)
    values = probe.decode_e2m1(codes)
    assert values.tolist() == E2M1 + [-v for v in E2M1]
    assert torch.equal(probe.encode_e2m1(values), codes)
    assert torch.equal(probe.round_e2m1(values), values)  # representable: unchanged


@pytest.mark.parametrize(("x", "expected"), [
    (0.25, 0.0), (0.75, 1.0), (1.25, 1.0), (1.75, 2.0), (2.5, 2.0), (3.5, 4.0), (5.0, 4.0),
    (5.5, 6.0), (7.0, 6.0), (1e9, 6.0), (-0.3, -0.5), (-5.1, -6.0), (0.26, 0.5),
])
def test_e2m1_rounds_to_nearest_even_and_saturates(probe: ModuleType, x: float,
                                                   expected: float) -> None:
    assert float(probe.round_e2m1(torch.tensor([x]))[0]) == expected


def test_every_e4m3_byte_decodes_as_the_spec_says_and_encodes_back(probe: ModuleType) -> None:
    codes = torch.arange(256, dtype=torch.uint8)
    got = probe.decode_e4m3(codes).tolist()
    want = [_e4m3_value(c) for c in range(256)]
    assert all((math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(got, want, strict=True))
    finite = torch.tensor([not math.isnan(v) for v in want])
    assert torch.equal(probe.encode_e4m3(probe.decode_e4m3(codes)[finite]), codes[finite])


@pytest.mark.parametrize(("x", "expected"), [
    (1 + 1 / 16, 1.0), (1 + 3 / 16, 1.25), (500.0, 448.0), (-1e6, -448.0), (2.0 ** -10, 0.0),
    (3 * 2.0 ** -10, 2.0 ** -8), (0.3, 0.3125),
])
def test_e4m3_rounds_to_nearest_even_with_subnormals_and_saturates(
        probe: ModuleType, x: float, expected: float) -> None:
    assert float(probe.round_e4m3(torch.tensor([x]))[0]) == expected


def test_e4m3_rounding_matches_torch_float8_where_torch_has_it(probe: ModuleType) -> None:
    if not hasattr(torch, "float8_e4m3fn"):
        pytest.skip("this torch has no float8_e4m3fn")
    x = torch.randn(20000, generator=torch.Generator().manual_seed(1)) * 50
    x = torch.cat([x, x * 1e-3]).clamp(-448, 448)
    assert torch.equal(probe.round_e4m3(x), x.to(torch.float8_e4m3fn).to(torch.float32))


def test_ue8m0_is_the_next_power_of_two_at_or_above_amax_over_max(probe: ModuleType) -> None:
    amax = torch.tensor([6.0, 6.0001, 3.0, 12.0, 0.75, 448.0, 449.0])
    elem_max = torch.tensor([6.0, 6.0, 6.0, 6.0, 6.0, 448.0, 448.0])
    got = [int(probe.ue8m0_for(a.reshape(1), float(m))[0]) - 127 for a, m in
           zip(amax, elem_max, strict=True)]
    assert got == [0, 1, -1, 1, -3, 0, 1]
    assert float(probe.decode_ue8m0(torch.tensor([127 - 3], dtype=torch.uint8))[0]) == 0.125


# ------------------------------------------------------------------ MX block quantization


def _representable(shape: tuple[int, ...], grid: list[float], seed: int) -> torch.Tensor:
    """Blocks of grid values times a power of two, each block holding its format's maximum."""
    g = torch.Generator().manual_seed(seed)
    vals = torch.tensor(grid + [-v for v in grid])
    x = vals[torch.randint(0, len(vals), shape, generator=g)].reshape(*shape[:-1], -1, 32)
    x[..., 0] = grid[-1]  # so the block scale is exactly the chosen power of two
    exp = torch.randint(-8, 8, (*shape[:-1], shape[-1] // 32, 1), generator=g)
    return (x * torch.pow(2.0, exp.to(torch.float32))).reshape(shape)


def test_mxfp4_round_trip_is_exact_on_representable_values(probe: ModuleType) -> None:
    x = _representable((3, 4, 128), E2M1, seed=3)
    packed, scale = probe.quantize_mxfp4(x)
    assert packed.dtype == torch.uint8 and packed.shape == (3, 4, 64)
    assert scale.dtype == torch.uint8 and scale.shape == (3, 4, 4)
    assert torch.equal(probe.dequantize_mxfp4(packed, scale), x)


def test_mxfp4_packs_element_2j_in_the_low_nibble(probe: ModuleType) -> None:
    x = torch.tensor([[0.5, 1.0] + [6.0] + [0.0] * 29])  # codes 1, 2, 7, 0...
    packed, scale = probe.quantize_mxfp4(x)
    assert int(scale[0, 0]) == 127 and int(packed[0, 0]) == 0x21 and int(packed[0, 1]) == 0x07


def test_mxfp4_error_is_bounded_by_half_a_step(probe: ModuleType) -> None:
    x = torch.randn(8, 256, generator=torch.Generator().manual_seed(4))
    packed, scale = probe.quantize_mxfp4(x)
    err = (probe.dequantize_mxfp4(packed, scale) - x).abs().reshape(8, 8, 32)
    s = probe.decode_ue8m0(scale).unsqueeze(-1)
    blk = (x.reshape(8, 8, 32) / s).abs()
    ratio = blk.amax(dim=-1)
    assert bool(((ratio > 3) & (ratio <= 6)).all())  # the ceil rule: amax/scale in (3, 6]
    step = torch.where(blk < 2, 0.5, torch.where(blk < 4, 1.0, 2.0))  # e2m1 spacing per binade
    assert bool((err <= step * s / 2 + 1e-7).all())


def test_mxfp8_round_trip_exact_and_bounded(probe: ModuleType) -> None:
    grid = sorted({abs(_e4m3_value(c)) for c in range(0x7F)})  # every finite magnitude
    x = _representable((2, 3, 64), grid, seed=5)
    codes, scale = probe.quantize_mxfp8(x)
    assert codes.dtype == torch.uint8 and scale.shape == (2, 3, 2)
    assert torch.equal(probe.dequantize_mxfp8(codes, scale), x)
    y = torch.randn(4, 256, generator=torch.Generator().manual_seed(6)) * 3
    back = probe.fake_quant_mxfp8(y)
    s = probe.decode_ue8m0(probe.quantize_mxfp8(y)[1]).repeat_interleave(32, dim=-1)
    # half an ulp: 2**-4 relative for normals, 2**-10 * scale for subnormals
    assert bool(((back - y).abs() <= torch.maximum(y.abs() * 2.0 ** -4, s * 2.0 ** -10)).all())


# ------------------------------------------------------------------ scale-factor layouts


def _offset_128x4(batch: int, m: int, k: int, rows: int, cols: int) -> int:
    """TensorRT-LLM's get_sf_out_offset_128x4, transcribed."""
    k_tiles = (cols + 3) // 4
    m_tiles = (rows + 127) // 128
    m_tile_stride = k_tiles * 512
    return (batch * m_tiles * m_tile_stride + (m // 128) * m_tile_stride + (k // 4) * 512
            + (m % 32) * 16 + ((m % 128) // 32) * 4 + k % 4)


@pytest.mark.parametrize(("batch", "rows", "cols"), [(1, 128, 4), (2, 256, 8), (2, 130, 5)])
def test_128x4_swizzle_matches_tensorrt_llm_offsets_and_inverts(
        probe: ModuleType, batch: int, rows: int, cols: int) -> None:
    sf = torch.randint(1, 255, (batch, rows, cols), dtype=torch.uint8,
                       generator=torch.Generator().manual_seed(7))
    sw = probe.swizzle_sf_128x4(sf).reshape(-1)
    for b in range(batch):
        for m in range(rows):
            for k in range(cols):
                assert int(sw[_offset_128x4(b, m, k, rows, cols)]) == int(sf[b, m, k])
    per_batch = sw.reshape(batch, -1)
    assert torch.equal(probe.unswizzle_sf_128x4(per_batch, rows, cols), sf)


def test_sm90_scale_interleave_is_vllms(probe: ModuleType) -> None:
    sf = torch.randint(0, 255, (2, 6, 8), dtype=torch.uint8,
                       generator=torch.Generator().manual_seed(8))
    out = probe.interleave_sf_sm90(sf)
    assert out.shape == (2, 2, 24)
    for e in range(2):
        for r in range(6):
            for c in range(8):
                assert int(out[e, c // 4, r * 4 + c % 4]) == int(sf[e, r, c])
    assert torch.equal(probe.deinterleave_sf_sm90(out, 6), sf)


# ------------------------------------------------------------------ inputs, vLLM's transforms


@pytest.fixture(scope="module")
def small(probe: ModuleType) -> Any:
    cfg = probe.load_config(["--experts", "4", "--topk", "2", "--tokens", "5", "--hidden", "128",
                             "--inter", "128", "--seed", "9"], {})
    return cfg, probe.make_inputs(cfg)


def test_inputs_are_seeded_and_shaped_like_a_checkpoint(probe: ModuleType, small: Any) -> None:
    cfg, inp = small
    again = probe.make_inputs(cfg)
    assert torch.equal(inp.w13, again.w13) and torch.equal(inp.x, again.x)
    assert inp.x.dtype == torch.bfloat16 and inp.x.shape == (5, 128)
    assert inp.w13.shape == (4, 256, 64) and inp.w13_scale.shape == (4, 256, 4)
    assert inp.w2.shape == (4, 128, 64) and inp.w2_scale.shape == (4, 128, 4)
    assert inp.b13.shape == (4, 256) and inp.b2.dtype == torch.bfloat16
    other = probe.make_inputs(probe.load_config(["--seed", "10", "--experts", "4", "--tokens",
                                                 "5", "--hidden", "128", "--inter", "128"], {}))
    assert not torch.equal(inp.w13, other.w13)


def test_routing_is_softmax_over_the_top_k(probe: ModuleType) -> None:
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    weights, ids = probe.route(logits, 2)
    assert ids.dtype == torch.int32 and ids.tolist() == [[1, 3]]
    e = math.exp(1.0)
    assert weights[0].tolist() == pytest.approx([e / (1 + e), 1 / (1 + e)])


def test_fc1_is_up_then_gate_as_vllm_hands_it_to_flashinfer(probe: ModuleType,
                                                             small: Any) -> None:
    _, inp = small
    for ka in (probe.kernel_args_sm90(inp), probe.kernel_args_mxfp4(inp)):
        fc1 = ka.fc1.view(torch.uint8).reshape(inp.w13.shape)
        assert torch.equal(fc1[:, :128], inp.w13[:, 1::2])  # up (w3): FlashInfer's "linear"
        assert torch.equal(fc1[:, 128:], inp.w13[:, 0::2])  # gate (w1)
        assert torch.equal(ka.b13[:, :128], inp.b13[:, 1::2])
    sm90 = probe.kernel_args_sm90(inp)
    assert sm90.flags == {"use_w4_group_scaling": True} and sm90.fc1.dtype == torch.uint8
    assert sm90.quant_scales[0].shape == (4, 1, 256 * 4)
    mx = probe.kernel_args_mxfp4(inp)
    assert mx.flags == {"use_mxfp8_act_scaling": True}
    assert mx.fc1.dtype == torch.int64 and mx.fc1.shape == (4, 256, 8)
    assert mx.quant_scales[0].dtype == torch.int32 and mx.quant_scales[0].shape == (4, 256, 1)
    assert mx.quant_scales[1].tolist() == [1.0] * 4
    w13_s = mx.quant_scales[0].view(torch.uint8).reshape(4, -1)
    assert torch.equal(probe.unswizzle_sf_128x4(w13_s, 256, 4)[:, :128],
                       inp.w13_scale[:, 1::2])


# ------------------------------------------------------------------ reference, tolerance


def test_swiglu_is_gpt_oss_with_its_clamp(probe: ModuleType) -> None:
    gate = torch.tensor([1.0, 9.0, -2.0])
    lin = torch.tensor([0.5, -9.0, 3.0])
    g = torch.tensor([1.0, 7.0, -2.0])
    lc = torch.tensor([0.5, -7.0, 3.0])
    want = g * torch.sigmoid(1.702 * g) * (lc + 1.0)
    assert torch.allclose(probe.swiglu_oai(gate, lin), want)


@pytest.mark.parametrize("act", ["bf16", "mxfp8"])
def test_reference_equals_a_straightforward_loop(probe: ModuleType, small: Any,
                                                 act: str) -> None:
    cfg, inp = small
    weights, ids = probe.route(inp.router_logits, cfg.topk)
    args = (inp.x.float(), probe.dequantize_mxfp4(inp.w13, inp.w13_scale), inp.b13.float(),
            probe.dequantize_mxfp4(inp.w2, inp.w2_scale), inp.b2.float(), weights, ids, act)
    fast = probe.reference_moe(*args, emulate_bf16=False)
    loop = probe.reference_moe_loop(*args)
    assert fast.shape == (5, 128)
    assert torch.allclose(fast, loop, rtol=1e-5, atol=1e-5)
    assert float(fast.abs().max()) > 0.1  # not vacuous


def test_tolerance_rule(probe: ModuleType, small: Any) -> None:
    cfg, inp = small
    weights, ids = probe.route(inp.router_logits, cfg.topk)
    args = (inp.x.float(), probe.dequantize_mxfp4(inp.w13, inp.w13_scale), inp.b13.float(),
            probe.dequantize_mxfp4(inp.w2, inp.w2_scale), inp.b2.float(), weights, ids)
    exact = probe.reference_moe(*args, "bf16", emulate_bf16=False)
    emulated = probe.reference_moe(*args, "bf16")
    # bf16 storage alone stays well inside the SM90 tolerance ...
    v = probe.compare(emulated, exact, "sm90")
    assert v["passed"] and v["max_rel_error"] < probe.RTOL["sm90"] / 2
    assert v["tolerance"] == pytest.approx(probe.RTOL["sm90"] * v["ref_absmax"])
    # ... and so does the MXFP8 intermediate inside the MXFP8 path's
    assert probe.compare(probe.reference_moe(*args, "mxfp8"), exact, "mxfp4")["passed"]
    # a perturbation of twice the tolerance fails; a NaN fails and reports null
    bad = exact.clone()
    bad[0, 0] += 2 * v["tolerance"]
    assert not probe.compare(bad, exact, "sm90")["passed"]
    bad[0, 0] = float("nan")
    nan = probe.compare(bad, exact, "sm90")
    assert not nan["passed"] and nan["max_abs_error"] is None and nan["nonfinite"] == 1


# ------------------------------------------------------------------ error text -> stage/status

_TRACE = "\n1       0x7f3a2b1c4d5e tensorrt_llm::common::throwRuntimeError(char const*) + 94"


@pytest.mark.parametrize(("text", "stage", "status", "cuda"), [
    ("[TensorRT-LLM][ERROR] Assertion failed: Failed to initialize cutlass TMA WS grouped gemm. "
     "Error: Error Internal (/x/moe_gemm_tma_ws_launcher.inl:612)" + _TRACE,
     "initialize", "Error Internal", "cudaSuccess"),
    ("[Mixed dtype WS grouped GEMM] Failed to initialize cutlass mixed dtype WS grouped gemm. "
     "Error: Error Internal", "initialize", "Error Internal", "cudaSuccess"),
    ("RuntimeError: initialize(): Error Internal", "initialize", "Error Internal", "cudaSuccess"),
    ("[TensorRT-LLM][ERROR] Assertion failed: Grouped GEMM kernel will fail for params. Error: "
     "Error Invalid Problem (/x.inl:607)", "can_implement", "Error Invalid Problem",
     "cudaSuccess"),
    ("[TensorRT-LLM][ERROR] Assertion failed: Failed to run cutlass TMA WS grouped gemm. Error: "
     "Error Internal (/x.inl:616)", "run", "Error Internal", "cudaSuccess"),
    ("[TensorRT-LLM][ERROR] CUDA runtime error in cudaMemcpyAsync(a, b): an illegal memory "
     "access was encountered (/x/memoryUtils.cu:12)", "run", "CUDA error",
     "cudaErrorIllegalAddress"),
    ("CUDA error: misaligned address\nCUDA kernel errors might be asynchronously reported",
     "run", "CUDA error", "cudaErrorMisalignedAddress"),
    ("Ninja build failed. Ninja output:\n[1/158] nvcc -c a.cu\nFAILED: a.cuda.o\n"
     "a.cuh(12): error: identifier \"foo\" is undefined", "jit", "build failed", "cudaSuccess"),
    # seen on an H100 with FlashInfer 0.5.2 (hidden 200 with MXFP4 weights, bf16 activations)
    ("Check failed: hidden_size % min_alignment == 0 (8 vs. 0) : hidden_size 200 must be "
     "divisible by 16 for weights", "can_implement", "Rejected by FlashInfer", "cudaSuccess"),
    ("[TensorRT-LLM][ERROR] Assertion failed: Hidden size 48 does not meet minimum alignment "
     "requirements for MOE GEMM 32 (/x/cutlass_fused_moe_kernels.cuh:3668)" + _TRACE,
     "can_implement", "Rejected by FlashInfer", "cudaSuccess"),
    ("Could not construct fused moe op with the requested input combination Activation: "
     "float8_e4m3fn, Weight: int64, Output: bfloat16", "can_implement", "Error Not Supported",
     "cudaSuccess"),
    ("[TensorRT-LLM][ERROR] Assertion failed: Unsupported tile (128, 128, 64) and cluster "
     "(1, 1, 1) shape combination for arch 120", "can_implement", "Error Not Supported",
     "cudaSuccess"),
    ("something nobody expected", "run", "RuntimeError", "cudaSuccess"),
])
def test_flashinfer_and_cutlass_errors_map_to_harness_stages(
        probe: ModuleType, text: str, stage: str, status: str, cuda: str) -> None:
    f = probe.classify_exception(text, "RuntimeError")
    assert (f.stage, f.status, f.cuda_error["name"]) == (stage, status, cuda)
    if status in probe.CUTLASS_STATUS:
        assert f.status_code == probe.CUTLASS_STATUS[status]
    assert f.detail  # the deciding line is kept


def test_an_old_flashinfer_without_the_argument_cannot_implement(probe: ModuleType) -> None:
    f = probe.classify_exception("cutlass_fused_moe() got an unexpected keyword argument "
                                 "'swiglu_limit'", "TypeError")
    assert (f.stage, f.status) == ("can_implement", "Error Not Supported")


def test_a_failure_during_the_jit_build_is_a_build_failure(probe: ModuleType) -> None:
    f = probe.classify_exception("Failed to generate Cutlass kernels: boom", "RuntimeError",
                                 during="jit")
    assert (f.stage, f.status) == ("jit", "build failed")


def test_native_backtrace_frames_are_dropped_from_the_kept_message(probe: ModuleType) -> None:
    text = "Failed to initialize cutlass TMA WS grouped gemm. Error: Error Internal" + _TRACE
    assert probe.trim_message(text) == text.splitlines()[0]


# ------------------------------------------------------------------ knobs, paths


def test_kit_knobs_override_the_command_line(probe: ModuleType) -> None:
    env = {"KIT_KNOBS": "experts=16,path=sm90,flashinfer=0.5.2,cuda=cuda13.0",
           "KIT_ARCH": "sm_90a"}
    cfg = probe.load_config(["--experts", "4", "--tokens", "3"], env)
    assert (cfg.experts, cfg.tokens, cfg.path, cfg.arch, cfg.flashinfer) == \
        (16, 3, "sm90", "sm_90a", "0.5.2")
    assert cfg.knobs["cuda"] == "cuda13.0"  # kit's own axes are kept, not interpreted


@pytest.mark.parametrize(("argv", "env"), [
    (["--hidden", "200"], {}), (["--path", "sm100"], {}), (["--topk", "9"], {}),
    ([], {"KIT_KNOBS": "tokens=many"}), (["--bogus", "1"], {}),
])
def test_bad_knobs_are_refused(probe: ModuleType, argv: list[str], env: dict[str, str]) -> None:
    with pytest.raises(probe.ConfigError):
        probe.load_config(argv, env)


def test_paths_follow_the_arch_and_the_gpu(probe: ModuleType) -> None:
    assert probe.path_for_arch("sm_90a") == "sm90"
    assert [probe.path_for_arch(a) for a in ("sm_100a", "sm_120a", "sm_121a")] == ["mxfp4"] * 3
    assert probe.path_for_arch("sm_89") is None
    assert probe.path_runs_on("sm90", (9, 0))[0] and not probe.path_runs_on("sm90", (12, 1))[0]
    assert probe.path_runs_on("mxfp4", (12, 1))[0] and not probe.path_runs_on("mxfp4", (9, 0))[0]
    assert not probe.arch_runs_on("sm_121a", (12, 0)) and probe.arch_runs_on("sm_120f", (12, 1))
    cfg = probe.load_config([], {"KIT_ARCH": "sm_121a"})
    assert probe.resolve_path(cfg, (9, 0)) == "mxfp4"  # then main reports skipped_arch


# ------------------------------------------------------------------ the one line, and kit


def _line(out: str) -> dict[str, Any]:
    lines = [ln for ln in out.splitlines() if ln.startswith("KIT_RESULT ")]
    assert len(lines) == 1
    data: dict[str, Any] = json.loads(lines[0][len("KIT_RESULT "):])
    return data


def test_main_without_a_gpu_prints_one_line_and_returns_0(
        probe: ModuleType, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("KIT_KNOBS", "path=sm90")
    assert probe.main([]) == 0
    data = _line(capsys.readouterr().out)
    assert data["stage"] == "device" and data["cuda_error"]["name"] == "cudaErrorNoDevice"
    assert data["knobs"] == {"path": "sm90"} and data["versions"]["torch"] == torch.__version__
    assert classify.run_result(0, "KIT_RESULT " + json.dumps(data), False, 60).outcome \
        is Outcome.NO_GPU


def test_main_reports_a_refused_knob_as_configure(
        probe: ModuleType, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("KIT_KNOBS", raising=False)
    assert probe.main(["--inter", "100"]) == 0
    data = _line(capsys.readouterr().out)
    assert data["stage"] == "configure" and "inter=100" in data["note"]


@pytest.mark.parametrize(("text", "outcome"), [
    ("[TensorRT-LLM][ERROR] Assertion failed: Failed to initialize cutlass TMA WS grouped gemm. "
     "Error: Error Internal (/x.inl:612)", Outcome.INIT_ERROR_INTERNAL),
    ("[TensorRT-LLM][ERROR] Assertion failed: Grouped GEMM kernel will fail for params. Error: "
     "Error Not Supported (/x.inl:607)", Outcome.CAN_IMPLEMENT_FAILED),
    ("CUDA error: an illegal memory access was encountered", Outcome.RUN_FAILED),
])
def test_kit_classifies_the_probes_line(probe: ModuleType, text: str, outcome: Outcome) -> None:
    report = probe.Report()
    report.fail(probe.classify_exception(text), "RuntimeError", text)
    verdict = classify.run_result(0, "FlashInfer chatter\n" + report.line() + "\n", False, 60)
    assert verdict.outcome is outcome
    assert verdict.kit_result is not None and text.splitlines()[0] in \
        verdict.kit_result["error"]["message"]


def test_kit_reads_a_verified_and_a_wrong_result(probe: ModuleType) -> None:
    report = probe.Report(stage="done", status="Success", status_code=0)
    report.verify = {"ran": True, "passed": True, "max_abs_error": 0.0, "tolerance": 0.06}
    assert classify.run_result(0, report.line(), False, 60).outcome is Outcome.OK
    report.stage = "verify"
    report.verify = {"ran": True, "passed": False, "max_abs_error": 2.2, "tolerance": 0.06}
    assert classify.run_result(0, report.line(), False, 60).outcome is Outcome.WRONG_RESULT

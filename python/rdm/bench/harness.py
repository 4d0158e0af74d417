"""The benchmark machinery: case model, correctness gate, timing, table and JSON.

Op modules under rdm.bench.cases describe *what* to run (inputs, implementations,
cost); this module decides *how*: which implementations apply to a device, checks each
against a high-precision reference run before timing it, times it, and reports.
"""
from __future__ import annotations

import dataclasses
import datetime
import importlib
import importlib.metadata
import importlib.util
import json
import math
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional, Sequence, TextIO, Union

import numpy as np
import torch

from rdm.bench import counters as simt_counters
from rdm.bench.roofline import Cost, GpuPeaks, detect_gpu, floor_seconds

# ----------------------------------------------------------------------------- case model

# An implementation is either a callable or "package.module:function". The string form
# keeps the compiled library out of `import rdm.bench`: it is imported when a case runs.
Target = Union[str, Callable[..., Any]]

FWD = "fwd"
FWD_BWD = "fwd+bwd"

DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
DTYPE_NAMES: dict[torch.dtype, str] = {dtype: name for name, dtype in DTYPES.items()}


@dataclass(frozen=True)
class Tolerance:
    """Elementwise bound |out - golden| <= atol + rtol * |golden| (as torch.allclose)."""

    rtol: float
    atol: float


# Keyed by the benchmark dtype. Outputs stored in bf16/fp16 carry its rounding error
# (2^-8 and 2^-11 relative), allowed four times over; fp32 allows for long reductions
# summed in another order than the float64 oracle's.
DEFAULT_TOLERANCES: Mapping[torch.dtype, Tolerance] = MappingProxyType({
    torch.bfloat16: Tolerance(rtol=1.6e-2, atol=1e-2),
    torch.float16: Tolerance(rtol=2e-3, atol=1e-3),
    torch.float32: Tolerance(rtol=1e-4, atol=1e-4),
})


@dataclass
class CaseInputs:
    """Arguments passed positionally to every implementation of a case.

    For fwd+bwd cases the factory sets requires_grad on the tensors to differentiate,
    and `grad_outputs` holds one upstream gradient per output of the op.
    """

    args: tuple
    grad_outputs: tuple = ()


@dataclass(frozen=True)
class Peer:
    """Another library's implementation of the same computation (mamba_ssm, fla, ...)."""

    name: str
    target: Target  # usually an adapter in the case module that imports the library lazily
    available: Callable[[], bool]  # e.g. importable("mamba_ssm"); a peer not available has no row
    dtypes: Optional[tuple[torch.dtype, ...]] = None  # None: every dtype
    devices: tuple[str, ...] = ("cuda",)


@dataclass(frozen=True)
class Case:
    op: str  # name of the rdm op, e.g. "act_accumulate"
    label: str  # model config and token shape, e.g. "1B b8x2048"
    shape: str  # printable input shape
    mode: str  # FWD or FWD_BWD
    make_inputs: Callable[[torch.device, torch.dtype, bool], CaseInputs]  # (device, dtype, requires_grad)
    cost: Callable[[torch.dtype], Cost]  # floor work for the benchmark dtype (bytes: the compulsory bytes)
    kernel: Target  # rdm.ops.<op>: runs the CUDA kernel on CUDA tensors
    reference: Target  # rdm.reference.<op>: also the correctness oracle
    naive: Optional[Target] = None  # the unfused PyTorch a user would otherwise write
    compile_naive: bool = True  # False where compiling would unroll long Python loops
    peers: tuple[Peer, ...] = ()
    simt: Optional[Target] = None  # torch.ops.rdm_simt.<op>; set on tiny cases only (it is slow)
    # Useful tensor-core FLOPs of the case for the benchmark dtype (e.g. 2*M*N*K of a GEMM),
    # compared with what the emulated mma instructions execute; None: no tensor-core work.
    tensor_flops: Optional[Callable[[torch.dtype], int]] = None
    golden_dtype: torch.dtype = torch.float64  # the reference runs in this to produce the oracle
    # Names in mismatch reports; positions ("out0", "grad(arg0)") where not given.
    output_names: tuple[str, ...] = ()
    arg_names: tuple[str, ...] = ()
    # keyed by benchmark dtype (a dataclass default must be hashable, hence the factory)
    tolerances: Mapping[torch.dtype, Tolerance] = field(default_factory=lambda: DEFAULT_TOLERANCES)


def matmul_flops(cost: Callable[[torch.dtype], Cost]) -> Callable[[torch.dtype], int]:
    """Case.tensor_flops of an op whose floor FLOPs are all matrix products (tensor-core work)."""
    return lambda dtype: cost(dtype).flops


def importable(module_name: str) -> Callable[[], bool]:
    """Availability test of a peer library that finds it without importing it."""
    return lambda: importlib.util.find_spec(module_name) is not None


def resolve(target: Target) -> Callable[..., Any]:
    if callable(target):
        return target
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def simt_op(name: str) -> Callable[..., Any]:
    """Lazy handle on torch.ops.rdm_simt.<name> (the CUDA kernel emulated on the CPU)."""

    def call(*args):
        rdm = importlib.import_module("rdm")  # loads the op libraries and their autograd formulas
        if not rdm.HAS_SIMT:
            raise RuntimeError("this rdm build has no SIMT emulation (_simt.so)")
        return getattr(torch.ops.rdm_simt, name)(*args)

    call.__qualname__ = call.__name__ = f"rdm_simt.{name}"
    return call


# ----------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class RunConfig:
    device: torch.device
    dtypes: tuple[torch.dtype, ...]
    compile: bool
    simt: bool
    repeats: int
    warmup: int


SIMT_IMPL = "rdm_simt"  # the row of the emulated CUDA kernels


@dataclass(frozen=True)
class Impl:
    name: str
    target: Target
    compiled: bool = False


def plan_implementations(case: Case, dtype: torch.dtype, config: RunConfig) -> list[Impl]:
    """The implementations of `case` worth timing on the configured device."""
    on_cuda = config.device.type == "cuda"
    impls = []
    # On the CPU rdm.ops dispatches to the reference, so the kernel only has its own row on CUDA.
    if on_cuda:
        impls.append(Impl("rdm", case.kernel))
    if config.simt and case.simt is not None and not on_cuda:
        impls.append(Impl(SIMT_IMPL, case.simt))
    impls.append(Impl("reference", case.reference))
    if config.compile:
        impls.append(Impl("reference+compile", case.reference, compiled=True))
    if case.naive is not None:
        impls.append(Impl("naive", case.naive))
        if config.compile and case.compile_naive:
            impls.append(Impl("naive+compile", case.naive, compiled=True))
    for peer in case.peers:
        if (
            config.device.type in peer.devices
            and (peer.dtypes is None or dtype in peer.dtypes)
            and peer.available()
        ):
            impls.append(Impl(peer.name, peer.target))
    return impls


# ----------------------------------------------------------------------------- calling and checking


def _tensors(value: Any) -> list[Optional[torch.Tensor]]:
    """Flattens an op's return value (tensor or nested tuple) to its tensors, in order."""
    if value is None or isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [tensor for item in value for tensor in _tensors(item)]
    return []


def call(fn: Callable[..., Any], inputs: CaseInputs, mode: str) -> list[Optional[torch.Tensor]]:
    """Runs one forward (and for fwd+bwd, its backward): the outputs, then the input grads."""
    outputs = _tensors(fn(*inputs.args))
    if mode == FWD:
        return outputs
    leaves = [arg for arg in inputs.args if isinstance(arg, torch.Tensor) and arg.requires_grad]
    differentiable = [
        (output, grad)
        for output, grad in zip(outputs, inputs.grad_outputs)
        if output is not None and output.requires_grad
    ]
    # autograd.grad rather than .backward(): nothing accumulates in .grad between repeats.
    grads = torch.autograd.grad(
        [output for output, _ in differentiable],
        leaves,
        [grad for _, grad in differentiable],
        allow_unused=True,
    )
    return outputs + list(grads)


def _result_names(case: Case, inputs: CaseInputs, count: int) -> list[str]:
    """Names of the tensors `call` returns: outputs, then gradients of the inputs."""
    grad_names = [
        f"grad({case.arg_names[index] if index < len(case.arg_names) else f'arg{index}'})"
        for index, arg in enumerate(inputs.args)
        if case.mode == FWD_BWD and isinstance(arg, torch.Tensor) and arg.requires_grad
    ]
    output_count = count - len(grad_names)
    output_names = list(case.output_names[:output_count])
    output_names += [f"out{index}" for index in range(len(output_names), output_count)]
    return output_names + grad_names


def cast_inputs(inputs: CaseInputs, dtype: torch.dtype) -> CaseInputs:
    """A copy with every floating tensor in `dtype`, keeping which ones require grad."""

    def cast(value):
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            return value.detach().to(dtype).requires_grad_(value.requires_grad)
        return value

    return CaseInputs(tuple(cast(arg) for arg in inputs.args), tuple(cast(grad) for grad in inputs.grad_outputs))


def compare(
    outputs: Sequence[Optional[torch.Tensor]],
    golden: Sequence[Optional[torch.Tensor]],
    names: Sequence[str],
    tolerance: Tolerance,
) -> tuple[dict[str, Optional[float]], Optional[str]]:
    """Max abs error per output, and a description of the first violation (None if all pass)."""
    if len(outputs) != len(golden):
        return {}, f"{len(outputs)} outputs where the reference has {len(golden)}"
    errors: dict[str, Optional[float]] = {}
    failure = None
    for name, output, expected in zip(names, outputs, golden):
        if output is None or expected is None:
            if (output is None) != (expected is None):
                failure = failure or f"{name}: present in only one of output and reference"
            continue
        if output.shape != expected.shape:
            failure = failure or f"{name}: shape {tuple(output.shape)} != reference {tuple(expected.shape)}"
            continue
        if output.numel() == 0:
            continue
        expected64 = expected.detach().double()
        difference = (output.detach().double() - expected64).abs()
        allowed = tolerance.atol + tolerance.rtol * expected64.abs()
        outside = ~(difference <= allowed)  # written so that NaN counts as outside
        largest = float(difference.nan_to_num(nan=math.inf).max())
        errors[name] = largest if math.isfinite(largest) else None  # JSON has no inf/NaN
        if outside.any():
            failure = failure or (
                f"{name}: {int(outside.sum())} of {output.numel()} elements outside "
                f"rtol={tolerance.rtol:g} atol={tolerance.atol:g} (max abs err {largest:.3g})"
            )
    return errors, failure


# ----------------------------------------------------------------------------- timing


@dataclass(frozen=True)
class Timing:
    median_ms: float
    min_ms: float
    p10_ms: float
    p25_ms: float
    p75_ms: float
    p90_ms: float
    max_ms: float
    samples_ms: tuple[float, ...]

    @classmethod
    def of(cls, samples_ms: Sequence[float]) -> "Timing":
        p10, p25, median, p75, p90 = np.percentile(samples_ms, [10, 25, 50, 75, 90])
        return cls(
            float(median), float(min(samples_ms)), float(p10), float(p25), float(p75), float(p90),
            float(max(samples_ms)), tuple(float(sample) for sample in samples_ms),
        )


# Rewriting a buffer larger than any L2 (50 MB on H100) before each timed run makes the
# run read its inputs from HBM, as the roofline floor assumes, rather than from a cache
# left warm by the previous repeat (decode-sized inputs fit in L2 entirely).
_L2_FLUSH_BYTES = 256 * 2**20


def time_cuda(fn: Callable[[], Any], warmup: int, repeats: int, device: torch.device) -> list[float]:
    flush = torch.empty(_L2_FLUSH_BYTES, dtype=torch.uint8, device=device)
    for _ in range(warmup):
        fn()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
    for start, end in zip(starts, ends):
        flush.zero_()
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize(device)
    return [start.elapsed_time(end) for start, end in zip(starts, ends)]


def time_cpu(fn: Callable[[], Any], warmup: int, repeats: int) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


# ----------------------------------------------------------------------------- running

OK, MISMATCH, ERROR = "ok", "mismatch", "error"


@dataclass
class Result:
    op: str
    case: str
    mode: str
    impl: str
    dtype: str
    shape: str
    status: str  # OK, MISMATCH or ERROR; only OK rows are timed
    detail: str  # why a row failed; empty when ok
    max_abs_error: dict[str, Optional[float]]  # None where not finite
    bytes_moved: int
    flops: int
    floor_ms: Optional[float]  # None without a known GPU
    timing: Optional[Timing] = None
    gb_per_s: Optional[float] = None  # floor bytes / median time: effective bandwidth
    tflop_per_s: Optional[float] = None
    fraction_of_floor: Optional[float] = None  # floor time / median time
    speedup_vs_reference: Optional[float] = None  # reference median / this median
    simt_counters: Optional[simt_counters.SimtCounters] = None  # rdm_simt rows: what the emulated kernels did

    @property
    def failed(self) -> bool:
        return self.status != OK


def _error_text(exc: BaseException) -> str:
    """Exception type and first message line: torch's messages run on for pages."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _prepare(impl: Impl) -> Callable[..., Any]:
    fn = resolve(impl.target)
    if not impl.compiled:
        return fn
    # Dynamo caches per code object and falls back to eager after 8 recompiles; every
    # case has new shapes, so start from a clean cache to really time compiled code.
    import torch._dynamo

    torch._dynamo.reset()
    return torch.compile(fn, dynamic=False)


def run_case(case: Case, dtype: torch.dtype, config: RunConfig, gpu: Optional[GpuPeaks]) -> list[Result]:
    """Checks, then times, every planned implementation of one case in one dtype."""
    cost = case.cost(dtype)
    floor_ms = None
    if gpu is not None:
        floor_ms = floor_seconds(gpu, cost, dtype, torch.backends.cuda.matmul.allow_tf32) * 1e3

    def result(impl: Impl, status: str, detail: str = "", errors: Optional[dict] = None) -> Result:
        return Result(
            case.op, case.label, case.mode, impl.name, DTYPE_NAMES[dtype], case.shape, status, detail,
            errors or {}, cost.bytes_moved, cost.flops, floor_ms,
        )

    impls = plan_implementations(case, dtype, config)
    step = "building inputs"
    try:
        inputs = case.make_inputs(config.device, dtype, case.mode == FWD_BWD)
        step = f"reference in {case.golden_dtype}"
        golden = call(resolve(case.reference), cast_inputs(inputs, case.golden_dtype), case.mode)
    except Exception as exc:  # without inputs or the oracle, no row can be checked
        return [result(impl, ERROR, f"{step} failed: {_error_text(exc)}") for impl in impls]
    names = _result_names(case, inputs, len(golden))
    tolerance = case.tolerances[dtype]

    results = []
    for impl in impls:
        counted = None
        try:
            fn = _prepare(impl)
            if impl.name == SIMT_IMPL:  # the correctness run also counts what the emulated kernels do
                captured = []
                launches = simt_counters.collect(lambda: captured.append(call(fn, inputs, case.mode)))
                outputs = captured[0]
                useful = None if case.tensor_flops is None else case.tensor_flops(dtype)
                counted = simt_counters.summarise(launches, cost.bytes_moved, useful)
            else:
                outputs = call(fn, inputs, case.mode)  # also triggers compilation, outside the timing
            _synchronize(config.device)
        except Exception as exc:
            results.append(result(impl, ERROR, _error_text(exc)))
            continue
        errors, failure = compare(outputs, golden, names, tolerance)
        del outputs
        if failure is not None:
            results.append(result(impl, MISMATCH, failure, errors))
            continue
        row = result(impl, OK, errors=errors)
        row.simt_counters = counted
        try:
            row.timing = Timing.of(_time(lambda: call(fn, inputs, case.mode), config))
        except Exception as exc:
            row.status, row.detail = ERROR, f"while timing: {_error_text(exc)}"
        results.append(row)

    _add_rates(results)
    return results


def _time(fn: Callable[[], Any], config: RunConfig) -> list[float]:
    if config.device.type == "cuda":
        return time_cuda(fn, config.warmup, config.repeats, config.device)
    return time_cpu(fn, config.warmup, config.repeats)


def _add_rates(results: list[Result]) -> None:
    reference = next((row for row in results if row.impl == "reference" and row.timing), None)
    for row in results:
        if row.timing is None:
            continue
        seconds = row.timing.median_ms * 1e-3
        row.gb_per_s = row.bytes_moved / seconds / 1e9
        row.tflop_per_s = row.flops / seconds / 1e12
        if row.floor_ms is not None:
            row.fraction_of_floor = row.floor_ms / row.timing.median_ms
        if reference is not None:
            row.speedup_vs_reference = reference.timing.median_ms / row.timing.median_ms


def run_cases(cases: Sequence[Case], config: RunConfig, progress: Optional[TextIO] = None,
              on_case: Optional[Callable[[list[Result]], None]] = None) -> list[Result]:
    """Runs every case in every configured dtype, logging a line per case start and end
    to `progress` (default: sys.stderr as it is at call time); `on_case` gets the results
    so far after each case (rdm-bench --out rewrites its JSON, so a killed run keeps them)."""
    progress = progress or sys.stderr
    gpu = _detected_gpu(config.device)
    jobs = [(case, dtype) for case in cases for dtype in config.dtypes]
    results: list[Result] = []
    for index, (case, dtype) in enumerate(jobs, start=1):
        tag = f"[{index}/{len(jobs)}] {case.op} | {case.label} | {case.mode} | {DTYPE_NAMES[dtype]}"
        print(f"{tag} ...", file=progress, flush=True)
        started = time.perf_counter()
        rows = run_case(case, dtype, config, gpu)
        failed = sum(row.failed for row in rows)
        print(
            f"{tag} done in {time.perf_counter() - started:.1f}s: {len(rows) - failed} ok, {failed} failed",
            file=progress, flush=True,
        )
        results.extend(rows)
        if on_case is not None:
            on_case(results)
        if config.device.type == "cuda":
            torch.cuda.empty_cache()  # the next case may need the memory this one's inputs held
    return results


# ----------------------------------------------------------------------------- reporting


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:  # platform.processor() is empty on most Linux systems
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def _detected_gpu(device: torch.device) -> Optional[GpuPeaks]:
    return detect_gpu(device_name(device)) if device.type == "cuda" else None


def roofline_note(device: torch.device) -> str:
    if device.type != "cuda":
        return "no roofline fraction: CPU run (floors are defined for GPUs only)"
    gpu = _detected_gpu(device)
    if gpu is None:
        return f"no roofline fraction: unknown GPU {device_name(device)!r} (add it to rdm/bench/roofline.py)"
    return (
        f"roofline: {gpu.name} peaks {gpu.hbm_bytes_per_s / 1e12:.2f} TB/s, "
        f"{gpu.bf16_flops_per_s / 1e12:.0f} TFLOP/s bf16, {gpu.fp32_flops_per_s / 1e12:.0f} TFLOP/s fp32; "
        "% floor = floor time / measured time"
    )


def _significant(value: float, digits: int) -> str:
    """`digits` significant digits in fixed point (no exponent, no dangling '.'), for times."""
    if value <= 0:
        return "0"
    decimals = max(digits - 1 - math.floor(math.log10(value)), 0)
    return f"{value:.{decimals}f}"


def _number(value: Optional[float], spec: str) -> str:
    return "-" if value is None else format(value, spec)


_COLUMNS = (
    "op", "case", "pass", "impl", "dtype", "shape", "status",
    "median ms", "p10-p90 ms", "GB/s", "TFLOP/s", "% floor", "vs ref",
)


def _cells(row: Result) -> tuple[str, ...]:
    timing = row.timing
    return (
        row.op, row.case, row.mode, row.impl, row.dtype, row.shape,
        row.status.upper() if row.failed else row.status,  # failures stand out in a long table
        "-" if timing is None else _significant(timing.median_ms, 4),
        "-" if timing is None else f"{_significant(timing.p10_ms, 3)}-{_significant(timing.p90_ms, 3)}",
        _number(row.gb_per_s, ".1f"),
        _number(row.tflop_per_s, ".3g"),
        "-" if row.fraction_of_floor is None else f"{row.fraction_of_floor * 100:.1f}",
        "-" if row.speedup_vs_reference is None else f"{row.speedup_vs_reference:.2f}x",
    )


def format_columns(header: Sequence[str], rows: Sequence[Sequence[str]], first_numeric: int) -> list[str]:
    """Fixed-width lines: text columns left-aligned, columns from `first_numeric` on right-aligned."""
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]

    def line(cells):
        return "  ".join(
            cell.rjust(width) if column >= first_numeric else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(cells, widths))
        ).rstrip()

    return [line(header), line(["-" * width for width in widths])] + [line(cells) for cells in rows]


def format_table(results: Sequence[Result], note: str = "") -> str:
    """The results table; failures are listed with their reason underneath."""
    lines = format_columns(_COLUMNS, [_cells(row) for row in results], _COLUMNS.index("median ms"))
    if note:
        lines.append(note)
    failures = [row for row in results if row.failed]
    if failures:
        lines.append(f"{len(failures)} failed (not timed):")
        lines += [f"  {row.op} | {row.case} | {row.mode} | {row.impl} | {row.dtype}: {row.detail}" for row in failures]
    return "\n".join(lines)


def _build_info() -> dict[str, Any]:
    """The git commit and build options the installed rdm was built from."""
    try:
        from .. import _build_info as info
    except ImportError:  # running from a source tree without a build
        return {"git_commit": "unknown", "git_dirty": None}
    return {
        "git_commit": info.GIT_COMMIT,
        "git_dirty": info.GIT_DIRTY,
        "built_with_torch": info.TORCH_VERSION,
        "cuda_archs": info.CUDA_ARCHS,
        "with_simt": info.WITH_SIMT,
    }


def environment(device: torch.device) -> dict[str, Any]:
    try:
        rdm_version = importlib.metadata.version("rdm")
    except importlib.metadata.PackageNotFoundError:
        rdm_version = "not installed"
    gpu = _detected_gpu(device)
    return {
        "device": str(device),
        "device_name": device_name(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_threads": torch.get_num_threads(),
        "rdm_version": rdm_version,
        **_build_info(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "roofline": roofline_note(device),
        "gpu_peaks": None if gpu is None else dataclasses.asdict(gpu),
    }


def write_json(
    path: Union[str, Path], config: RunConfig, results: Sequence[Result], simt_estimates: Sequence[dict] = ()
) -> None:
    """Every figure and the environment; `simt_estimates`: rows of counters.estimates (--simt)."""
    payload = {
        "environment": environment(config.device),
        "config": {
            "device": str(config.device),
            "dtypes": [DTYPE_NAMES[dtype] for dtype in config.dtypes],
            "compile": config.compile,
            "simt": config.simt,
            "repeats": config.repeats,
            "warmup": config.warmup,
        },
        "results": [dataclasses.asdict(row) for row in results],
        **({"simt_estimates": list(simt_estimates)} if config.simt else {}),
    }
    partial = Path(f"{path}.partial")  # then renamed: a run killed mid-write keeps the previous file
    partial.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    partial.replace(path)

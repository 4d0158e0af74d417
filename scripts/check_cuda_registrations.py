"""Assert that every op of the rdm library has a CUDA kernel in the given _C.so.

Usage: python check_cuda_registrations.py PATH/TO/_C.so   (needs a CUDA torch, no GPU)

Ops with a CompositeExplicitAutograd kernel (input checks that only read metadata) serve
every device and count as covered, and so do CompositeImplicitAutograd ops (a public op that
calls its internal companion, e.g. act_accumulate -> _act_accumulate_fwd): they run the
kernels of the ops they call, which are checked themselves. The only other exceptions are the ops listed in csrc/registration/pending_cuda_kernels.txt:
declared ops whose hand-written kernel has not landed yet (they run their reference on
CUDA tensors). A listed op that has a kernel is reported too, so the list cannot go stale.
"""
import os
import sys

import torch

PENDING = os.path.join(os.path.dirname(__file__), "..", "csrc", "registration", "pending_cuda_kernels.txt")


def pending_ops():
    if not os.path.exists(PENDING):
        return set()
    with open(PENDING) as f:
        return {line.split("#")[0].strip() for line in f} - {""}


def main(path):
    assert torch.version.cuda, f"a CUDA torch is needed, got {torch.__version__}"
    torch.ops.load_library(path)
    ops = sorted(n for n in torch._C._dispatch_get_all_op_names() if n.startswith("rdm::"))
    assert ops, f"no rdm ops registered by {path}"
    pending = pending_ops()
    unknown = pending - set(ops)
    generic = {
        n
        for n in ops
        for key in ("CompositeExplicitAutograd", "CompositeImplicitAutograd")
        if torch._C._dispatch_has_kernel_for_dispatch_key(n, key)
    }
    has_kernel = {n: n in generic or torch._C._dispatch_has_kernel_for_dispatch_key(n, "CUDA") for n in ops}
    missing = [n for n in ops if not has_kernel[n] and n not in pending]
    stale = [n for n in ops if has_kernel[n] and n in pending]
    for name in ops:
        status = "generic" if name in generic else "ok     " if has_kernel[name] else ("pending" if name in pending else "MISSING")
        print(f"{status} {name}")
    problems = []
    if missing:
        problems.append(f"{len(missing)} rdm op(s) without a CUDA kernel: {', '.join(missing)}")
    if stale or unknown:
        problems.append(f"pending_cuda_kernels.txt lists ops that have a kernel or do not exist: {', '.join(stale + sorted(unknown))}")
    if problems:
        sys.exit("\n".join(problems))
    kernels = len(ops) - len(pending) - len(generic)
    print(f"{kernels} rdm ops have a CUDA kernel, {len(generic)} are device-generic (checks, composites), {len(pending)} pending (reference path on CUDA)")


if __name__ == "__main__":
    main(sys.argv[1])

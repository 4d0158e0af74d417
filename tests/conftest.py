import os

import pytest
import torch

# Keep compiled-graph caches inside the work tree (CI points this somewhere it can clean).
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".torchinductor-cache"))

HAS_CUDA = torch.cuda.is_available()


@pytest.fixture(autouse=True, scope="session")
def simt_checks():
    """Every emulated kernel launch of the session runs racecheck and initcheck of shared
    memory (docs/kernels.md): a missing barrier or a read of unwritten shared memory fails
    the launch. Set in-process rather than through RDM_SIMT_CHECKS, so that the SIMT
    self-test program (run as a subprocess) keeps choosing its checks per case."""
    try:
        import rdm.simt
    except ImportError:  # no built rdm: the tests that need it report that themselves
        yield
        return
    if not rdm.simt.HAS_SIMT:
        yield
        return
    with rdm.simt.checks(*rdm.simt.CHECKS):
        yield


@pytest.fixture
def poison_empty():
    """Fill every torch.empty allocation with NaN (integers: their max) while the test runs,
    so an output element a kernel forgets to write cannot pass by being zero."""
    det = torch.are_deterministic_algorithms_enabled()
    fill = torch.utils.deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = True
    yield
    torch.use_deterministic_algorithms(det)
    torch.utils.deterministic.fill_uninitialized_memory = fill


def pytest_collection_modifyitems(config, items):
    skip_cuda = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords and not HAS_CUDA:
            item.add_marker(skip_cuda)

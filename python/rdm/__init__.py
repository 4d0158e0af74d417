"""rdm: CUDA kernels and a recurrent-depth model layer for hybrid language models.

Ops are `torch.library` custom ops (`torch.ops.rdm.<name>`) with typed wrappers in
`rdm.ops`; their reference implementations (the CPU path and test oracle) are in
`rdm.reference`. `torch.ops.rdm_simt.<name>` runs the CUDA kernels on the CPU through the
SIMT emulation (see docs/kernels.md) when the package was built with it. `rdm.models` is a
recurrent-depth causal LM built from these ops. `rdm.debug_checks(True)` (or
RDM_DEBUG_CHECKS=1) makes the ops raise for bad index values their CUDA kernels report.
"""
from . import _loader
from ._loader import HAS_SIMT
from ._debug import debug_checks
from . import reference
from . import ops
from . import models

__version__ = "0.1.0"
__all__ = ["ops", "reference", "models", "debug_checks", "HAS_SIMT", "__version__"]

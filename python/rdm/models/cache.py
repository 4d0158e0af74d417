"""RDMCache: the decode state of a whole model, bounded by the attention window."""
import dataclasses
from dataclasses import dataclass

from torch import Tensor


@dataclass
class RDMCache:
    """Decode state of ``RDMForCausalLM`` (make one with ``model.new_cache``).

    ``prelude`` and ``coda`` hold one mixer state per block; ``core`` one state of the core
    mixer per loop depth (a forward may use at most ``len(core)`` loops with this cache).
    Mamba keeps its convolution and scan states, GLA its K×V state, attention the keys and
    values of the tokens seen up to its window, so the cache never holds more than the
    context needs and stops growing at the window.
    ``position`` counts the tokens seen; attention rotates new tokens from there on.
    """

    prelude: list
    core: list
    coda: list
    position: int = 0

    @property
    def max_loops(self) -> int:
        return len(self.core)

    def nbytes(self) -> int:
        """Bytes held by the cache's tensors."""
        return sum(
            value.nbytes
            for state in (*self.prelude, *self.core, *self.coda)
            for value in (getattr(state, field.name) for field in dataclasses.fields(state))
            if isinstance(value, Tensor)
        )

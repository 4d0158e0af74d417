"""RDMCache: the constant-size decode state of a whole model."""
import dataclasses
from dataclasses import dataclass

from torch import Tensor


@dataclass
class RDMCache:
    """Decode state of ``RDMForCausalLM`` (make one with ``model.new_cache``).

    ``prelude`` and ``coda`` hold one mixer state per block; ``core`` one state of the core
    mixer per loop depth (a forward may use at most ``len(core)`` loops with this cache).
    Mamba keeps its convolution and scan states, GLA its K×V state, attention a fixed
    window of keys and values, so the cache does not grow with the tokens processed.
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

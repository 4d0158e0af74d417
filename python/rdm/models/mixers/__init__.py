"""Token mixers. Each maps (B, T, d_model) → (B, T, d_model) causally and, given its decode
state (``new_state``), continues from it and updates it, so that a sequence fed in pieces
gives the same outputs as fed at once."""
from .gla import GLAMixer, GLAState
from .mamba import MambaMixer, MambaState
from .swa import SWAMixer, SWAState

MIXER_CLASSES = {"mamba": MambaMixer, "gla": GLAMixer, "swa": SWAMixer}

__all__ = ["MIXER_CLASSES", "GLAMixer", "GLAState", "MambaMixer", "MambaState", "SWAMixer", "SWAState"]

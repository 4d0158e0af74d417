"""Saving and loading models: a JSON config and safetensors weights in one directory."""
from pathlib import Path

from .config import RDMConfig

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def save_pretrained(model, directory) -> None:
    """Writes ``config.json`` and ``model.safetensors`` (tied weights stored once, router
    biases included) into ``directory``, creating it if needed."""
    from safetensors.torch import save_model  # optional dependency (extra "models")

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).write_text(model.config.to_json())
    save_model(model, str(directory / WEIGHTS_FILE))


def load_pretrained(model_class, directory, device=None):
    """Builds ``model_class`` from ``directory``'s config and loads its weights (on
    ``device``, default CPU)."""
    from safetensors.torch import load_model

    directory = Path(directory)
    config = RDMConfig.from_json((directory / CONFIG_FILE).read_text())
    model = model_class(config)
    load_model(model, str(directory / WEIGHTS_FILE), device=str(device or "cpu"))
    return model.to(device) if device is not None else model

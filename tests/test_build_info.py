"""`import rdm` refuses compiled libraries built against another torch (version with its
local tag, CPU or CUDA) before loading them, naming both torches and the rebuild command."""
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

import rdm
from rdm import _build_info, _loader


def fake_build_info(version, cuda):
    return types.SimpleNamespace(TORCH_VERSION=version, TORCH_CUDA=cuda)


def test_installed_build_matches_running_torch():
    assert _build_info.TORCH_VERSION == torch.__version__
    assert (_build_info.TORCH_CUDA or None) == torch.version.cuda
    _loader.check_built_against_running_torch(_build_info)


@pytest.mark.parametrize("version, cuda, built", [
    ("2.0.0+cpu", "", "torch 2.0.0+cpu (CPU)"),  # another release
    (torch.__version__, "99.0", "(CUDA 99.0)"),  # same version string, other CUDA (or CPU vs CUDA)
])
def test_mismatch_names_both_torches_and_the_rebuild(version, cuda, built):
    with pytest.raises(ImportError) as info:
        _loader.check_built_against_running_torch(fake_build_info(version, cuda))
    message = str(info.value)
    running = f"torch {torch.__version__} ({f'CUDA {torch.version.cuda}' if torch.version.cuda else 'CPU'})"
    assert built in message and running in message
    assert "pip install --no-build-isolation ." in message


def _import_copy(tmp_path, build_torch=None):
    """Imports a copy of the installed package in a fresh interpreter, with its build info
    naming `build_torch` (None: unchanged); returns what the interpreter printed."""
    package = Path(rdm.__file__).parent
    copy = tmp_path / "rdm"
    copy.mkdir()
    for path in package.rglob("*"):
        target = copy / path.relative_to(package)
        if path.is_dir():
            target.mkdir(exist_ok=True)
        elif path.suffix == ".so":
            os.symlink(path, target)
        elif "__pycache__" not in path.parts:
            target.write_bytes(path.read_bytes())
    if build_torch is not None:
        info = (copy / "_build_info.py").read_text()
        changed = info.replace(f'TORCH_VERSION = "{torch.__version__}"', f'TORCH_VERSION = "{build_torch}"')
        assert changed != info
        (copy / "_build_info.py").write_text(changed)
    probe = (
        "import torch\n"
        "try:\n"
        "    import rdm\n"
        "except ImportError as e:\n"
        "    print('ImportError:', e)\n"
        "print('loaded:', sorted(p for p in torch.ops.loaded_libraries if 'rdm' in p))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    return subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True,
                          check=True).stdout


def test_matching_copy_loads_its_libraries(tmp_path):
    out = _import_copy(tmp_path)
    assert "ImportError" not in out and "_C.so" in out, out


def test_mismatching_copy_fails_before_loading_its_libraries(tmp_path):
    out = _import_copy(tmp_path, build_torch="1.0.0+other")
    assert "ImportError: rdm's compiled libraries" in out and "torch 1.0.0+other" in out, out
    assert "loaded: []" in out, out

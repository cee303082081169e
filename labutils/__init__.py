"""labutils: the tested helpers behind the RNN Music Lab notebooks.

`import labutils` is cheap; each submodule loads on first use, so `labutils.data.load_training_data()`
works as the lab notes' `mdl.lab1.load_training_data()` does.
"""
import importlib

__version__ = "0.1.0"

SUBMODULES = ("batches", "checkpoints", "checks", "cli", "data", "device", "grading", "jobs", "model", "music",
              "notebooks", "params", "pretrained", "runs", "sampling", "text", "tracking", "trainer", "training")


def __getattr__(name: str):
    """Import a submodule on first access (`labutils.music`, `labutils.data`, ...)."""
    if name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'labutils' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *SUBMODULES])

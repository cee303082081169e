"""labutils: the tested helpers behind the RNN Music Lab notebooks.

`import labutils` is cheap; each submodule loads on first use, so `labutils.data.load_training_data()`
works as the lab notes' `mdl.lab1.load_training_data()` does.
"""
import importlib

__version__ = "0.1.0"

SUBMODULES = ("authoring", "batches", "checkpoints", "checks", "cli", "corpus", "data", "device", "exercises",
              "extra_tunes", "files", "grading", "guided", "jobs", "lookback", "messages", "model", "music", "ngram",
              "notebooks", "params", "pretrained", "runs", "sampling", "schedule", "text", "threads", "tracking",
              "training", "training_loop")


def submodule_loader(package: str, names):
    """`__getattr__` and `__dir__` for a package whose submodules `names` load on first access."""

    def __getattr__(name: str):
        if name in names:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted([*vars(importlib.import_module(package)), *names])

    return __getattr__, __dir__


__getattr__, __dir__ = submodule_loader(__name__, SUBMODULES)

"""The lab's six exercises as the notebook checks (labutils.checks) and the grader (labutils.grading) see them.

For each exercise: fresh random inputs (inputs.py); a probe that runs the student's code on them and
returns plain data (probes.py, one self-contained file that the grader's probe process loads as
text); a judge that compares that data with labutils' reference and says [PASS] or [FAIL] with a
hint (judges.py). The checks and the grader use the same three, so what passes a check in the
notebook passes the grader. texts.py holds the English of every message, keyed for translation.
"""
from labutils import submodule_loader

# exercise -> (module, name) of labutils' reference implementation, in the order of the lab
REFERENCES = {"vectorize_string": ("labutils.text", "vectorize_string"), "get_batch": ("labutils.batches", "get_batch"),
              "LSTMModel": ("labutils.model", "LSTMModel"), "compute_loss": ("labutils.training", "compute_loss"),
              "train_step": ("labutils.training", "train_step"),
              "generate_text": ("labutils.sampling", "generate_text")}
EXERCISES = tuple(REFERENCES)

MODULES = ("inputs", "judges", "probes", "texts")
__getattr__, __dir__ = submodule_loader(__name__, MODULES)

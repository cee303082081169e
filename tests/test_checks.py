"""labutils.checks: every solution passes, untouched TODOs say so, each usual mistake is caught with a hint."""
import re

import numpy as np
import pytest
import torch
import yaml
from student_code import (
    MISTAKES,
    SOLUTIONS,
    SONGS,
    UntouchedModel,
    char2idx,
    generate_text,
    get_batch,
    idx2char,
    sample,
    step_no_zero_grad,
    untouched,
)

from labutils import checks, messages
from labutils.exercises import texts


def run(name, student, seed=None):
    """Run the check for exercise `name` on `student`; return the [PASS] line or the [FAIL] message."""
    call = {"vectorize_string": lambda: checks.check_vectorize_string(student, char2idx, seed=seed),
            "get_batch": lambda: checks.check_get_batch(student, SONGS, seed=seed),
            "LSTMModel": lambda: checks.check_lstm_model(student, seed=seed),
            "compute_loss": lambda: checks.check_compute_loss(student, seed=seed),
            "train_step": lambda: checks.check_train_step(student, seed=seed),
            "generate_text": lambda: checks.check_generate_text(student, seed=seed)}[name]
    try:
        call()
    except checks.CheckFailed as failure:
        return str(failure)
    return "[PASS]"


@pytest.mark.parametrize("name", list(SOLUTIONS))
@pytest.mark.parametrize("seed", [None, 1, 2])
def test_solutions_pass(name, seed, capsys):
    assert run(name, SOLUTIONS[name], seed) == "[PASS]"
    assert capsys.readouterr().out.startswith(f"[PASS] {name}")


def test_the_labs_own_code_passes_and_checks_do_not_disturb_the_random_state(capsys):
    np.random.seed(5)
    torch.manual_seed(5)
    expected = (np.random.rand(), torch.rand(1).item())
    np.random.seed(5)
    torch.manual_seed(5)
    checks.check_get_batch(get_batch, SONGS)
    checks.check_generate_text(generate_text)
    assert (np.random.rand(), torch.rand(1).item()) == expected


@pytest.mark.parametrize("name", list(SOLUTIONS))
def test_untouched_todo_says_not_implemented(name):
    message = run(name, UntouchedModel if name == "LSTMModel" else untouched)
    assert message.startswith(f"[FAIL] {name} is not implemented yet") and "TODO cell" in message


def test_labutils_reference_counts_as_not_implemented():
    from labutils import batches, model

    assert "labutils' reference" in run("LSTMModel", model.LSTMModel)
    assert "labutils' reference" in run("get_batch", lambda v, s, b: batches.get_batch(v, s, b))

    class Subclass(model.LSTMModel):
        pass

    assert "labutils' reference" in run("LSTMModel", Subclass)


# ---------------------------------------------------------------- the usual mistakes

@pytest.mark.parametrize("name, student, expected, hint", MISTAKES, ids=[m[1].__name__ for m in MISTAKES])
@pytest.mark.parametrize("seed", [None, 3])
def test_each_usual_mistake_is_caught_with_its_hint(name, student, expected, hint, seed):
    message = run(name, student, seed)
    assert message.startswith("[FAIL] ") and " — hint: " in message, message
    assert expected in message, message
    assert messages.template_regex(texts.HINTS[hint]).fullmatch(message.partition(" — hint: ")[2]), (hint, message)


def _hints_the_judges_give():
    """Every hint key judges.py can give: the keys it names, and each exercise's recipe."""
    import ast
    import inspect

    from labutils.exercises import EXERCISES, judges

    named = {node.value for node in ast.walk(ast.parse(inspect.getsource(judges)))
             if isinstance(node, ast.Constant) and node.value in texts.HINTS}
    return named | {f"{name}.recipe" for name in EXERCISES}


# Hints only the grader gives, with the test that triggers each in a grading run
GRADER_HINTS = {"missing": "test_grading.py::test_patching_checks_rubric_or_reference_in_the_notebook_earns_nothing",
                "timeout": "test_sandbox.py::test_a_hanging_cell_and_a_probe_that_runs_too_long_are_reported_as_such"}


def test_every_hint_a_judge_gives_has_a_wrong_solution_that_triggers_it():
    from student_variants import GRADER_MISTAKES

    triggered = {m[3] for m in MISTAKES} | {m[4] for m in GRADER_MISTAKES} | set(GRADER_HINTS)
    assert sorted(_hints_the_judges_give() - triggered) == []


def test_failure_is_an_assertion_error_so_nbval_and_graders_see_it():
    with pytest.raises(AssertionError, match=r"^\[FAIL\] .* — hint: "):
        checks.check_train_step(step_no_zero_grad)


def test_a_correct_but_unusual_generate_text_passes():
    def regenerate_everything(model, start_string, generation_length=1000):
        text = start_string
        for _ in range(generation_length):  # no carried state: the whole text again each step (slow but right)
            logits = model(torch.tensor([[char2idx[c] for c in text]]))
            text += idx2char[sample(logits[0, -1]).item()]
        return text

    assert run("generate_text", regenerate_everything) == "[PASS]"


# ---------------------------------------------------------------- every message in every language

SLOT = re.compile(r"\{(\w+)\}")
TRANSLATED = [language for language in messages.languages() if language != "en"]
KEYS = [("whats", key) for key in texts.WHATS] + [("hints", key) for key in texts.HINTS]


def _catalog(language):
    return yaml.safe_load((messages.LOCALES / language / "checks.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_has_a_translation_of_its_current_english(language):
    """A key of exercises/texts.py without a translation, or whose English changed since, fails here."""
    catalog = _catalog(language)
    for kind, english in (("whats", texts.WHATS), ("hints", texts.HINTS)):
        entries = catalog[kind]
        assert [key for key in english if not (entries.get(key) or {}).get(language)] == [], "untranslated"
        assert [key for key in english if entries[key]["en"] != english[key]] == [], "English changed since"
        assert sorted(set(entries) - set(english)) == [], "keys texts.py no longer has"
        unknown_slots = [key for key in english if set(SLOT.findall(entries[key][language])) - set(SLOT.findall(english[key]))]
        assert unknown_slots == [], "slots the English does not have"


@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.parametrize("kind, key", KEYS, ids=[f"{kind}-{key}" for kind, key in KEYS])
def test_each_message_is_shown_in_its_own_translation(kind, key, language):
    """The English of each key, with made-up parts, comes out as that key's translation with the same parts."""
    slots = {name: f"<{name}>" for name in SLOT.findall(getattr(texts, kind.upper())[key])}
    catalog = _catalog(language)
    translated = SLOT.sub(lambda slot: slots[slot.group(1)], catalog[kind][key][language])
    frame = catalog["frame"]
    if kind == "whats":
        message, expected = texts.fail_message(key, **slots), f"{frame['fail']} {translated}"
    else:
        message = texts.fail_message("not_implemented", key, **{"name": "<name>", **slots})
        expected = f"{frame['fail']} {messages.translate_part('<name> is not implemented yet', 'whats', language)}"
        expected += f"{frame['hint']}{translated}"
    assert messages.localize(message, language) == expected


# ---------------------------------------------------------------- other people's code: the notes, upstream, variants

def _defined(source, name):
    """`name` as a notebook defines it: the exercise's context, then the pasted source, run as __main__."""
    from student_variants import CONTEXT

    namespace = {"__name__": "__main__"}
    exec(compile(CONTEXT + source, "<cell>", "exec"), namespace)
    return namespace[name]


@pytest.mark.parametrize("name", list(SOLUTIONS))
def test_the_lab_notes_code_pasted_at_the_todos_passes(name):
    from student_variants import notes_source

    assert run(name, _defined(notes_source(name), name)) == "[PASS]"


@pytest.mark.parametrize("name", [n for n in SOLUTIONS if n != "generate_text"])
def test_the_upstream_solution_adapted_to_the_labs_signatures_passes(name):
    from student_variants import UPSTREAM

    assert run(name, _defined(UPSTREAM[name], name)) == "[PASS]"


def test_upstream_generate_text_fails_only_from_a_longer_start_with_the_hint_for_it():
    from student_variants import UPSTREAM

    message = run("generate_text", _defined(UPSTREAM["generate_text"], "generate_text"))
    assert message.startswith("[FAIL] generate_text works from a one-character start string, but from the start "
                              "string"), message
    assert "predictions[0, -1, :]" in message.partition(" — hint: ")[2], message


def test_upstream_train_step_that_reads_globals_is_told_the_labs_signature():
    from student_variants import UPSTREAM_UNADAPTED_TRAIN_STEP

    message = run("train_step", _defined(UPSTREAM_UNADAPTED_TRAIN_STEP, "train_step"))
    assert "raised TypeError" in message and "train_step(model, optimizer, x_batch, y_batch)" in message, message


def _variant_id(variant):
    return f"{variant[0]}-{variant[1]}"


@pytest.mark.parametrize("name, _, source", __import__("student_variants").VARIANTS,
                         ids=[_variant_id(v) for v in __import__("student_variants").VARIANTS])
@pytest.mark.parametrize("seed", [None, 4])
def test_common_correct_variants_pass(name, _, source, seed):
    assert run(name, _defined(source, name), seed) == "[PASS]"


def test_pytorchs_own_not_implemented_is_an_error_in_the_code_not_an_untouched_todo():
    def compute_loss(labels, logits):  # arguments swapped: "not implemented for 'Long'"
        return torch.nn.functional.cross_entropy(labels.reshape(-1), logits.reshape(-1, logits.size(-1)))

    message = run("compute_loss", compute_loss)
    assert message.startswith("[FAIL] compute_loss raised NotImplementedError while calling compute_loss"), message
    assert "not implemented yet" not in message and "flatten logits" in message


def test_the_judges_plain_sgd_steps_as_torch_optim_sgd_does():
    """The judges step their tiny model without torch.optim: the same losses and parameters, exactly."""
    from labutils.exercises.probes import TinyCharModel
    from labutils.exercises.sgd import PlainSGD
    from labutils.training import train_step as reference_train_step

    for seed in range(5):
        ours, theirs = TinyCharModel(20, seed), TinyCharModel(20, seed)
        plain, real = PlainSGD(ours.parameters(), lr=0.5), torch.optim.SGD(theirs.parameters(), lr=0.5)
        for _ in range(3):
            x, y = torch.randint(0, 20, (4, 7)), torch.randint(0, 20, (4, 7))
            assert reference_train_step(ours, plain, x, y) == reference_train_step(theirs, real, x, y)
        assert all(torch.equal(a, b) for a, b in zip(ours.parameters(), theirs.parameters()))


def test_sampling_from_the_first_position_never_passes_by_chance():
    """The judge's counting model would predict the same character after a start string's first and last
    characters for about one start in 80; the inputs avoid such starts, so this mistake fails for every seed."""
    from student_code import generate_first_position

    seeds = [118, 148, 278, 328] + list(range(20))  # (the first four drew such starts before)
    messages_seen = {run("generate_text", generate_first_position, seed) for seed in seeds}
    assert all(m.startswith("[FAIL] ") and "does not follow the model's predictions" in m for m in messages_seen), \
        messages_seen

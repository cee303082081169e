"""The Chinese edition: built from the English solutions and translations/zh/, in step with them, and the
check messages in Chinese when a notebook asks for it."""
import io
import re
import shutil
import tokenize
from pathlib import Path

import nbformat
import pytest
import yaml
from student_code import MISTAKES, char2idx, untouched

from labutils import checks, messages, notebooks
from labutils.authoring import build, editions, translation

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
STUDENT = ROOT / "notebooks"
CATALOGS = ROOT / "translations" / "zh"
NAMES = sorted(p.name for p in SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))
CJK = re.compile(r"[\u4e00-\u9fff]")


def read(path):
    return nbformat.read(path, as_version=4)


def code_tokens(source, drop_todo_strings=False):
    """The cell's tokens without comments and blank lines (and without NotImplementedError messages)."""
    tokens = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL):
            continue
        if drop_todo_strings and tok.type == tokenize.STRING and tok.string.strip("'\"").startswith("TODO: "):
            tokens.append((tok.type, "TODO"))
            continue
        tokens.append((tok.type, tok.string))
    return tokens


def comments(source):
    return [tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT]


@pytest.fixture
def tree(tmp_path):
    """A copy of solutions/, notebooks/ and translations/ to change."""
    for folder in ("solutions", "notebooks", "translations"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


# --- what the build makes ----------------------------------------------------------------------


def test_every_notebook_has_a_chinese_edition_and_a_catalog():
    assert NAMES and sorted(p.name for p in (SOLUTIONS / "zh").glob("*.ipynb")) == NAMES
    assert sorted(p.name for p in (STUDENT / "zh").glob("*.ipynb")) == NAMES
    assert sorted(p.stem for p in CATALOGS.glob("[0-9][0-9]_*.yaml")) == [Path(n).stem for n in NAMES]


def test_the_catalogs_are_complete_and_the_editions_up_to_date():
    assert editions.catalog_problems(SOLUTIONS) == []
    assert [line for line in build.check_notebooks(SOLUTIONS, STUDENT) if "/zh/" in line] == []


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("role", ["solutions", "notebooks"])
def test_code_cells_are_the_english_code_with_translated_comments(name, role):
    english, chinese = read(ROOT / role / name), read(ROOT / role / "zh" / name)
    kept = [c for c in chinese.cells if editions.LANGUAGE_TAG not in c.metadata.get("tags", [])]
    assert [c.cell_type for c in english.cells] == [c.cell_type for c in kept]
    translated = 0
    for en_cell, zh_cell in zip(english.cells, kept):
        if en_cell.cell_type != "code":
            continue
        # the code is token for token the English one (student TODO messages are the translated hints)
        assert code_tokens(zh_cell.source, role == "notebooks") == code_tokens(en_cell.source, role == "notebooks")
        if en_cell.source == zh_cell.source:
            continue
        translated += 1
        assert comments(en_cell.source) != comments(zh_cell.source)
        assert any(CJK.search(c) for c in comments(zh_cell.source))
        if role == "solutions":
            assert zh_cell.outputs == en_cell.outputs  # the same code gives the same outputs, for nbval
    if any(comments(c.source) for c in english.cells if c.cell_type == "code" and "colab-setup" not in
           c.metadata.get("tags", [])):
        assert translated, f"{name}: no comment was translated"


@pytest.mark.parametrize("name", NAMES)
def test_chinese_notebook_reads_in_chinese_with_its_own_badge_and_language_cell(name):
    nb = read(STUDENT / "zh" / name)
    first = nb.cells[0].source
    assert notebooks.badge_markdown(f"notebooks/zh/{name}") in first and first.startswith("# ")
    assert CJK.search(first.split("\n")[0]), "the title is translated"
    assert nb.cells[1].source == notebooks.setup_cell_source()
    assert nb.cells[2].metadata["tags"] == [editions.LANGUAGE_TAG]
    assert 'labutils.checks.set_language("zh")' in nb.cells[2].source
    assert messages.notebook_language(nb) == "zh" and nb.metadata["labutils"]["language"] == "zh"
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    assert all(CJK.search(c.source) for c in markdown), "every markdown cell is in Chinese"
    raises = re.findall(r'raise NotImplementedError\("TODO: ([^"]+)"\)', "\n".join(c.source for c in nb.cells))
    assert all(CJK.search(hint) for hint in raises), raises
    solution = read(SOLUTIONS / "zh" / name)
    assert notebooks.badge_markdown(f"solutions/zh/{name}") in solution.cells[0].source


def test_markdown_keeps_code_and_structure():
    for name in NAMES:
        english = [c.source for c in read(SOLUTIONS / name).cells if c.cell_type == "markdown"]
        chinese = [c.source for c in read(SOLUTIONS / "zh" / name).cells if c.cell_type == "markdown"]
        for en, zh in zip(english, chinese):
            assert [line.split(" ")[0] for line in en.split("\n") if line.startswith("#")] == \
                   [line.split(" ")[0] for line in zh.split("\n") if line.startswith("#")], f"{name}: headings\n{zh}"
            assert len(translation.paragraphs(en)) == len(translation.paragraphs(zh)), f"{name}: paragraphs\n{zh}"


# --- drift: the English changes, the check says which entry -------------------------------------------


def test_changing_one_english_sentence_fails_the_check_and_names_the_entry(tree, capsys):
    solution = tree / "solutions" / "02_vectorization.ipynb"
    nb = read(solution)
    old, new = "newline gets 0, the space 1", "newline gets index 0, the space index 1"
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and old in c.source)
    cell.source = cell.source.replace(old, new)
    nbformat.write(nb, solution)
    out = tree / "notebooks"
    assert build.main(["--solutions", str(tree / "solutions"), "--out", str(out)]) == 0  # the build still works
    capsys.readouterr()
    assert build.main(["--check", "--solutions", str(tree / "solutions"), "--out", str(out)]) == 1
    report = capsys.readouterr().out
    entry = next(line for line in report.splitlines() if "02_vectorization.yaml" in line and "has no entry" in line)
    assert "'Because the vocabulary is sorted" in entry and "English changed" in entry
    assert "translations update" in report
    # meanwhile the edition shows the new English there, and the rest stays Chinese
    zh = read(out / "zh" / "02_vectorization.ipynb")
    assert any(new in c.source for c in zh.cells)
    assert CJK.search(zh.cells[0].source)


def test_update_marks_the_changed_entry_fuzzy_and_a_translation_makes_the_check_pass(tree, capsys):
    solution = tree / "solutions" / "03_batches.ipynb"
    text = solution.read_text(encoding="utf-8")
    assert "## Look at a batch" in text
    solution.write_text(text.replace("## Look at a batch", "## A look at one batch"), encoding="utf-8")
    catalog_path = tree / "translations" / "zh" / "03_batches.yaml"
    assert editions.main(["update", "--solutions", str(tree / "solutions")]) == 0
    entry = next(e for e in yaml.safe_load(catalog_path.read_text(encoding="utf-8"))["entries"]
                 if e["en"] == "## A look at one batch")
    assert entry["fuzzy"] is True and entry["en_before"] == "## Look at a batch" and entry["zh"]
    assert entry["fp"] == translation.fingerprint("## A look at one batch")
    problems = editions.catalog_problems(tree / "solutions")
    assert len(problems) == 1 and "fuzzy" in problems[0]
    capsys.readouterr()
    assert editions.main(["check", "--solutions", str(tree / "solutions")]) == 1
    catalog_path.write_text(catalog_path.read_text(encoding="utf-8").replace("  fuzzy: true\n", ""), encoding="utf-8")
    assert editions.catalog_problems(tree / "solutions") == []


def test_a_new_todo_hint_without_translation_stays_english_in_the_student_edition(tree):
    solution = tree / "solutions" / "02_vectorization.ipynb"
    text = solution.read_text(encoding="utf-8")
    hint = "look up each character of `string` in char2idx and return the indices as an np.int64 array"
    assert hint in text
    solution.write_text(text.replace(hint, "return the char2idx index of every character as np.int64"),
                        encoding="utf-8")
    build.build_notebooks(tree / "solutions", tree / "notebooks")
    student = (tree / "notebooks" / "zh" / "02_vectorization.ipynb").read_text(encoding="utf-8")
    assert "TODO: return the char2idx index of every character as np.int64" in student
    assert any("has no entry" in line and "todo" in line for line in editions.catalog_problems(tree / "solutions"))


def test_a_hand_edited_english_text_in_a_catalog_is_reported(tree):
    path = tree / "translations" / "zh" / "01_data.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("## Load the tunes", "## Load all the tunes", 1), encoding="utf-8")
    assert any("not the fingerprint" in line for line in editions.catalog_problems(tree / "solutions"))


def test_a_broken_catalog_is_a_clear_error(tree, capsys):
    (tree / "translations" / "zh" / "04_model.yaml").write_text("entries: [unclosed", encoding="utf-8")
    assert build.main(["--check", "--solutions", str(tree / "solutions"), "--out", str(tree / "notebooks")]) == 2
    assert "04_model.yaml: not valid YAML" in capsys.readouterr().out


def test_removed_edition_notebooks_are_reported_and_removed(tree, capsys):
    (tree / "solutions" / "08_experiments.ipynb").unlink()
    (tree / "translations" / "zh" / "08_experiments.yaml").unlink()
    problems = build.check_notebooks(tree / "solutions", tree / "notebooks")
    assert any("zh/08_experiments.ipynb: generated from a solution that no longer exists" in p for p in problems)
    build.build_notebooks(tree / "solutions", tree / "notebooks")
    assert not (tree / "notebooks" / "zh" / "08_experiments.ipynb").exists()
    assert not (tree / "solutions" / "zh" / "08_experiments.ipynb").exists()


def test_translate_code_changes_only_comments():
    source = ('x = "# not a comment"  # a trailing comment\n'
              "    # a block of\n    # two lines\n"
              "# TODO: a hint\n### BEGIN SOLUTION\ny = 1\n### END SOLUTION\n# NBVAL_CHECK_OUTPUT")
    table = {"a trailing comment": "行尾注释", "a block of\ntwo lines": "两行的\n注释块", "a hint": "提示"}
    out = translation.translate_code(source, lambda unit: table.get(unit.en))
    assert out == ('x = "# not a comment"  # 行尾注释\n    # 两行的\n    # 注释块\n# TODO: 提示\n'
                   "### BEGIN SOLUTION\ny = 1\n### END SOLUTION\n# NBVAL_CHECK_OUTPUT")
    assert translation.translate_code(source, lambda unit: None) == source


# --- the glossary ---------------------------------------------------------------------------------


def glossary():
    return yaml.safe_load((CATALOGS / "glossary.yaml").read_text(encoding="utf-8"))


def catalog_entries():
    for path in sorted(CATALOGS.glob("[0-9][0-9]_*.yaml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["entries"]:
            yield path.name, entry


def test_glossary_has_the_standard_terms():
    terms = {t["en"]: t["zh"] for t in glossary()}
    assert {"recurrent neural network": "循环神经网络", "LSTM": "长短期记忆网络", "embedding layer": "嵌入层",
            "cross-entropy loss": "交叉熵损失", "sampling": "采样", "temperature": "温度", "batch": "批量",
            "hidden state": "隐藏状态", "checkpoint": "检查点"}.items() <= terms.items()


def test_catalogs_follow_the_glossary():
    """Where an entry's English uses a glossary term (outside `code`), its Chinese uses the Chinese term."""
    terms = [(re.compile(rf"(?<![\w.-]){re.escape(t['en'])}(s|es)?(?![\w-])", re.I), [t["zh"], *t.get("also", [])])
             for t in glossary()]
    offenders = []
    for name, entry in catalog_entries():
        zh = entry.get("zh") or ""
        if not zh or zh == entry["en"]:
            continue
        english = re.sub(r"`[^`]*`", "", entry["en"])  # inline code, then shapes such as (batch*seq, vocab)
        english = re.sub(r"\((?:[\w*+\-]+,\s*)*[\w*+\-]*,?\)", "", english)
        for pattern, chinese in terms:
            if pattern.search(english) and not any(c in zh for c in chinese):
                offenders.append(f"{name}: {pattern.pattern} -> {chinese[0]}: {entry['zh'][:60]!r}")
    assert offenders == []


# --- the check messages --------------------------------------------------------------------------


@pytest.fixture
def chinese():
    checks.set_language("zh")
    yield
    checks.set_language(None)


def test_check_messages_are_english_by_default(capsys):
    checks.check_vectorize_string(lambda s: __import__("numpy").array([char2idx[c] for c in s]), char2idx)
    assert capsys.readouterr().out.startswith("[PASS] vectorize_string maps")


def test_check_messages_in_chinese_when_set(chinese, capsys):
    import numpy as np

    checks.check_vectorize_string(lambda s: np.array([char2idx[c] for c in s]), char2idx)
    assert capsys.readouterr().out.startswith("[通过] vectorize_string 把每个字符映射为")
    with pytest.raises(checks.CheckFailed) as failure:
        checks.check_vectorize_string(untouched, char2idx)
    assert str(failure.value) == "[未通过] vectorize_string 还没有实现 —— 提示：补全上面的 TODO 单元格并运行它，然后再运行一次检查"


def test_the_environment_variable_sets_the_language(monkeypatch):
    monkeypatch.setenv(messages.LANGUAGE_ENV, "zh")
    assert checks.get_language() == "zh"
    monkeypatch.setenv(messages.LANGUAGE_ENV, "xx")
    assert checks.get_language() == "en"
    with pytest.raises(ValueError, match="Known languages: en, zh"):
        checks.set_language("xx")


@pytest.mark.parametrize("name, student, expected, hint", MISTAKES, ids=[m[1].__name__ for m in MISTAKES])
def test_each_usual_mistake_gets_a_chinese_message(name, student, expected, hint, chinese):
    from test_checks import run

    message = run(name, student)
    what, _, hint = message.partition(" —— 提示：")
    assert what.startswith("[未通过] ") and hint, message
    assert CJK.search(what) and CJK.search(hint), message


@pytest.mark.parametrize("result", [
    {"error": "missing", "meta": {}}, {"error": "missing", "meta": {"module": "labutils.text"}},
    {"error": "not_implemented"}, {"error": "reference"}, {"error": "reference", "how": "call", "message": "x"},
    {"error": "crashed", "stage": "calling it"}, {"error": "timeout", "stage": "calling it"},
    {"error": "exception", "type": "KeyError", "stage": "calling it", "message": "'a'"},
    {"error": "exception", "type": "TypeError", "stage": "calling it", "message": "x", "arguments": True},
    {"error": "unrebuilt", "missing": "rng", "cell": 3, "why": "not_rerun"},
    {"error": "unrebuilt", "missing": "rng", "cell": 3, "why": "failed", "type": "OSError", "message": "x"},
    {"error": "unrebuilt", "missing": "rng", "cell": 3, "why": "slow", "seconds": 10},
], ids=lambda r: "-".join(str(v) for v in r.values())[:40])
def test_what_the_judge_says_itself_is_in_chinese(result):
    from labutils.exercises.judges import judge

    message = messages.localize(judge("vectorize_string", {}, result).message, "zh")
    what, _, hint = message.partition(" —— 提示：")
    assert what.startswith("[未通过] ") and CJK.search(what) and CJK.search(hint), message


def test_a_missing_translation_falls_back_to_english():
    message = "[FAIL] something new went wrong (3 times) — hint: a hint nobody translated"
    assert messages.localize(message, "zh") == "[未通过] something new went wrong (3 times) —— 提示：a hint nobody translated"
    assert messages.localize(message, "en") == message
    assert messages.localize("not a check message", "zh") == "not a check message"


def test_templates_carry_the_dynamic_parts_in_chinese_order():
    message = ("[FAIL] train_step returned loss 2.0000 at step 2, but the batch's loss before the update is 1.5000 — "
               "hint: call optimizer.zero_grad() before loss.backward()")
    assert messages.localize(message, "zh") == ("[未通过] 第 2 步时 train_step 返回的损失是 2.0000，但这个批量在更新之前"
                                                "的损失是 1.5000 —— 提示：在 loss.backward() 之前调用 optimizer.zero_grad()")


def test_grader_feedback_follows_the_notebook_language():
    from labutils.grading.report import feedback_text

    grade = {"student": "li", "total": 0, "max": 1, "status": "ok", "language": "zh",
             "exercises": {"vectorize_string": {"points": 0, "max": 1, "notebook": "02_vectorization.ipynb",
                                                "message": "[FAIL] vectorize_string is not implemented yet — hint: "
                                                           "fill in the TODO cell above, run it, then run the check again"}}}
    text = feedback_text(grade)
    assert "li: 0/1 分" in text and "[未通过] vectorize_string 还没有实现" in text
    assert "[FAIL] vectorize_string is not implemented yet" in feedback_text({**grade, "language": "en"})
    from labutils.grading.gradescope import results_for

    assert results_for(grade, [], 1.0)["tests"][0]["output"].startswith("[未通过] vectorize_string 还没有实现")
    english = read(STUDENT / "02_vectorization.ipynb")
    assert messages.notebook_language(english) == "en"
    english.metadata.pop("labutils")
    english.cells.insert(2, nbformat.v4.new_code_cell('labutils.checks.set_language("zh")'))
    assert messages.notebook_language(english) == "zh"  # metadata lost (e.g. in Colab): the call still counts


def test_untouched_chinese_notebook_speaks_chinese(tmp_path, monkeypatch):
    """What a student sees on opening notebooks/zh/02 and running every cell: the TODO and the check in Chinese."""
    from nbclient import NotebookClient

    monkeypatch.setenv("LABUTILS_SMALL", "1")
    nb = read(STUDENT / "zh" / "02_vectorization.ipynb")
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [(cell.source, out) for cell in nb.cells if cell.cell_type == "code"
              for out in cell.outputs if out.output_type == "error"]
    todo = [out for source, out in errors if out.ename == "NotImplementedError"]
    check = [out for source, out in errors if "labutils.checks.check_" in source]
    assert len(todo) == 1 and CJK.search(todo[0].evalue) and todo[0].evalue.startswith("TODO: ")
    assert len(check) == 1 and check[0].ename == "CheckFailed"
    assert check[0].evalue.startswith("[未通过] vectorize_string 还没有实现 —— 提示：")


def test_grading_a_chinese_notebook_writes_chinese_feedback(tmp_path):
    from labutils import grading
    from labutils.grading.report import feedback_text

    grade = grading.grade_student("li", [STUDENT / "zh" / "02_vectorization.ipynb"], 0, cell_timeout=300, timeout=600)
    assert grade["language"] == "zh" and grade["total"] == 0
    text = feedback_text(grade)
    assert "[未通过] vectorize_string 还没有实现" in text and "分" in text.splitlines()[0]
    assert "[未通过] 在所有笔记本里都没有找到 get_batch" in text  # the exercises of other notebooks


def test_readme_zh_links_every_chinese_notebook_and_its_colab_badge():
    readme = (ROOT / "README.zh.md").read_text(encoding="utf-8")
    for name in NAMES:
        assert f"](notebooks/zh/{name})" in readme
        assert f"]({notebooks.colab_url(f'notebooks/zh/{name}')})" in readme
    for target in re.findall(r"\]\(((?:notebooks|solutions|translations|labutils)/[^)#]+)\)", readme):
        assert (ROOT / target).exists(), target


def test_a_students_edited_chinese_notebook_is_kept_like_an_english_one(tree, capsys):
    edited = tree / "notebooks" / "zh" / "03_batches.ipynb"
    nb = read(edited)
    nb.cells.append(nbformat.v4.new_markdown_cell("我的笔记"))
    nbformat.write(nb, edited)
    mine = edited.read_bytes()
    assert build.main(["--solutions", str(tree / "solutions"), "--out", str(tree / "notebooks")]) == 0
    assert edited.read_bytes() == mine and f"kept {edited}" in capsys.readouterr().out
    build.main(["--force", "--solutions", str(tree / "solutions"), "--out", str(tree / "notebooks")])
    assert edited.read_bytes() == (STUDENT / "zh" / "03_batches.ipynb").read_bytes()

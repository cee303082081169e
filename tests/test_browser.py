"""Notebook 07 as a student sees it: a real JupyterLab server, headless chromium, Run All from the menu.

`make test-browser` installs what it needs (scripts/setup-browser.sh) and runs this file. The
notebook runs from a temporary copy of notebooks/ with LABUTILS_SMALL=1; screenshots of the page
after the run (and on a failure) go to build/browser/."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "07_playback.ipynb"
SCREENSHOTS = ROOT / "build" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
SERVER_START_S = 90  # the server answers /api/status
NOTEBOOK_OPEN_S = 120  # the notebook is shown and its kernel is idle
RUN_ALL_S = 420  # every cell has run (small settings; a busy two-core machine takes the longest)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test-browser installs it)"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: make test-browser")

# Settings of the test's own JupyterLab user: no prompt about Jupyter news over the notebook.
LAB_SETTINGS = {"@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"}}


def student_copy(folder: Path) -> Path:
    """Copy notebooks/ into folder; a TODO cell of notebook 07 gets the solution's code (cells are 1:1)."""
    shutil.copytree(ROOT / "notebooks", folder, ignore=shutil.ignore_patterns("zh"))
    student = nbformat.read(folder / NOTEBOOK, as_version=4)
    solution = nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4)
    assert len(student.cells) == len(solution.cells), "notebooks/ is out of date: make notebooks"
    for cell, solved in zip(student.cells, solution.cells):
        if cell.cell_type == "code" and 'NotImplementedError("TODO' in cell.source:
            cell.source = solved.source
    nbformat.write(student, folder / NOTEBOOK)
    return folder / NOTEBOOK


def free_port() -> int:
    """A localhost port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_server(url: str, server: subprocess.Popen, log: Path) -> None:
    """Return once the server answers url; fail with its log when it exits or takes too long."""
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer in {SERVER_START_S} s:\n{log.read_text()[-3000:]}")


def stop(server: subprocess.Popen) -> None:
    """End the server and its kernels (its own process group): SIGTERM, then SIGKILL after 15 s."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free localhost port, serving a copy of notebooks/; yields its URL of notebook 07."""
    work = tmp_path_factory.mktemp("lab")
    student_copy(work / "notebooks")
    settings = work / "settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values), encoding="utf-8")
    port, token = free_port(), os.urandom(16).hex()
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={work / 'notebooks'}", f"--LabApp.user_settings_dir={settings}",
               f"--LabApp.workspaces_dir={work / 'workspaces'}"] + (["--allow-root"] if AS_ROOT else [])
    env = {**os.environ, "LABUTILS_SMALL": "1", "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    log = work / "jupyter.log"
    with open(log, "wb") as log_file:
        server = subprocess.Popen(command, cwd=work, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_server(f"{base}/api/status?token={token}", server, log)
        yield f"{base}/lab/tree/{NOTEBOOK}?token={token}"
    finally:
        stop(server)


@pytest.fixture(scope="module")
def page():
    """A headless chromium page (Debian's chromium driven by Playwright; it downloads no browser)."""
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, timeout=60_000,
                                         args=["--no-sandbox"] if AS_ROOT else [])
        try:
            browser_page = browser.new_page(viewport={"width": 1280, "height": 1000})
            browser_page.set_default_timeout(30_000)
            yield browser_page
        finally:
            browser.close()


# Every code cell's prompt: "[*]:" while queued or running, "[3]:" once run, "[ ]:" never run.
RUN_FINISHED = """() => {
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
    .map((prompt) => prompt.textContent.trim());
  if (prompts.length === 0 || prompts.some((prompt) => prompt.includes('*'))) return false;
  const stderr = [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output[data-mime-type$="stderr"]')];
  return prompts.every((prompt) => /\\[\\d+\\]/.test(prompt))
    || stderr.some((output) => /Traceback|Error\\b/.test(output.textContent));  // Run All stops at an error
}"""

# What the student's browser makes of one player: its metadata, and its sound decoded by Web Audio.
AUDIO_PLAYED = """async (audio) => {
  const settled = new Promise((resolve) => {
    audio.addEventListener('loadedmetadata', resolve, {once: true});
    audio.addEventListener('error', resolve, {once: true});
    audio.querySelectorAll('source').forEach((source) => source.addEventListener('error', resolve, {once: true}));
    setTimeout(resolve, 20000);
  });
  audio.preload = 'auto';
  audio.load();
  await settled;
  const src = audio.currentSrc || audio.src;
  const result = {src: src.slice(0, 40), duration: audio.duration, error: audio.error && audio.error.code};
  try {
    const bytes = await (await fetch(src)).arrayBuffer();
    const sound = await new OfflineAudioContext(1, 1, 44100).decodeAudioData(bytes);
    let peak = 0;
    for (let channel = 0; channel < sound.numberOfChannels; channel++) {
      for (const sample of sound.getChannelData(channel)) peak = Math.max(peak, Math.abs(sample));
    }
    Object.assign(result, {decodedSeconds: sound.duration, peak});
  } catch (error) {
    result.decodeError = String(error);
  }
  return result;
}"""

# The sheet music as drawn: its size on the page and its SVG markup (inline, or the <img> JupyterLab makes of it).
SHEETS = """() => [...document.querySelectorAll('.jp-Notebook .jp-RenderedSVG')].map((host) => {
  const inline = host.querySelector('svg');
  const img = host.querySelector('img');
  const shown = inline || img;
  const box = shown ? shown.getBoundingClientRect() : {width: 0, height: 0};
  const markup = inline ? inline.outerHTML
    : img ? decodeURIComponent(img.src.replace(/^data:image\\/svg\\+xml(;[^,]*)?,/, '')) : '';
  return {width: box.width, height: box.height, loaded: inline ? true : !!(img && img.complete && img.naturalWidth),
          markup};
})"""

OUTPUT_TEXTS = """(mime) => [...document.querySelectorAll(
  `.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.${mime}"]`)]
  .map((output) => output.textContent)"""


# The notebook's kernel as the server knows it: started and idle.
KERNEL_IDLE = """async ([name, token]) => {
  const sessions = await (await fetch(`/api/sessions?token=${token}`)).json();
  return sessions.some((session) => session.path.endsWith(name) && session.kernel
                       && session.kernel.execution_state === 'idle');
}"""

RUN_STARTED = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
  .some((prompt) => /\\[[*\\d]/.test(prompt.textContent))"""


def accept_dialog(page) -> bool:
    """Click an open dialog's default button, as a student would ("Select" on Select Kernel); False if none."""
    accept = page.query_selector(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    if accept is None:
        return False
    print(f"A dialog asked: {page.inner_text('.jp-Dialog')!r}; clicked its default button")
    accept.click()
    return True


def wait_for_idle_kernel(page, token: str) -> None:
    """Wait until the server and the page both say the notebook's kernel is idle, with no dialog for 3 s."""
    deadline = time.monotonic() + NOTEBOOK_OPEN_S
    quiet_since = None
    while time.monotonic() < deadline:
        if accept_dialog(page) or not page.evaluate(KERNEL_IDLE, [NOTEBOOK, token]) \
                or page.query_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]') is None:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 3:
            return
        page.wait_for_timeout(500)
    pytest.fail(f"the notebook's kernel was not idle after {NOTEBOOK_OPEN_S} s")


def click_run_all(page) -> bool:
    """Run > Run All Cells: True once a cell is queued, False when JupyterLab asked for a kernel instead."""
    page.click('.lm-MenuBar-itemLabel:text-is("Run")')
    page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if accept_dialog(page):
            return False
        if page.evaluate(RUN_STARTED):
            return True
        page.wait_for_timeout(250)
    pytest.fail("Run All Cells started no cell in 60 s")


def run_all_cells(page, url: str) -> None:
    """Open the notebook, wait for an idle kernel, Run > Run All Cells, wait until every cell has run."""
    token = parse_qs(urlparse(url).query)["token"][0]
    page.goto(url, timeout=NOTEBOOK_OPEN_S * 1000)
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=NOTEBOOK_OPEN_S * 1000)
    for _ in range(3):  # a kernel still starting on a busy machine makes JupyterLab ask for one: then again
        wait_for_idle_kernel(page, token)
        if click_run_all(page):
            break
    else:
        pytest.fail("JupyterLab asked for a kernel at each of three Run All Cells")
    page.wait_for_function(RUN_FINISHED, timeout=RUN_ALL_S * 1000, polling=1000)


def screenshot_whole_notebook(page, path: Path) -> None:
    """A screenshot of the whole notebook: the window is made as tall as the notebook first."""
    height = page.evaluate("() => { const scroller = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');"
                           " return scroller ? scroller.scrollHeight : 0; }")
    page.set_viewport_size({"width": 1280, "height": min(max(height + 200, 1000), 16000)})
    page.wait_for_timeout(1500)  # JupyterLab lays the cells out again
    page.evaluate("() => document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer')?.scrollTo(0, 0)")
    page.wait_for_timeout(1000)
    page.screenshot(path=str(path), full_page=True, timeout=60_000)


def printed_tune_rows(stdout_texts):
    """Indices of the tune list's rows: a line that starts with a tune's number and says clean or not clean."""
    rows = []
    for text in stdout_texts:
        rows += [int(match) for match in re.findall(r"^\s*(\d+)\s+\S.*\bclean\b", text, flags=re.MULTILINE)]
    return rows


def check_what_the_student_sees(page) -> None:
    """The assertions: every cell ran without error, players that play sound, sheet music, the tune list."""
    prompts = page.eval_on_selector_all(".jp-Notebook .jp-CodeCell .jp-InputPrompt",
                                        "(prompts) => prompts.map((prompt) => prompt.textContent.trim())")
    stderr = page.evaluate(OUTPUT_TEXTS, "stderr")
    errors = [text for text in stderr if "Traceback" in text or re.search(r"\b\w*Error\b", text)]
    assert not errors, f"error output in the notebook:\n{errors[0][-3000:]}"
    assert all(re.fullmatch(r"\[\d+\]:", prompt) for prompt in prompts), f"cells left unrun: {prompts}"

    players = page.query_selector_all(".jp-Notebook .jp-OutputArea-output audio")
    assert players, "no audio player in the notebook"
    for player in players:
        heard = player.evaluate(AUDIO_PLAYED)
        assert heard["error"] is None and "decodeError" not in heard, f"the player's source does not decode: {heard}"
        assert heard["duration"] > 1 and heard["decodedSeconds"] > 1, f"a player shorter than a second: {heard}"
        assert heard["peak"] > 0.01, f"a silent player: {heard}"

    sheets = page.evaluate(SHEETS)
    assert sheets, "no sheet music (SVG) in the notebook"
    for sheet in sheets:
        assert sheet["loaded"] and sheet["width"] >= 300 and sheet["height"] >= 80, f"sheet music too small: {sheet}"
        staff_lines = re.findall(r'd="m[\d.]+ [\d.]+\s+h[\d.]+(?:\s+M[\d.]+ [\d.]+\s+h[\d.]+){4}', sheet["markup"])
        note_heads = re.findall(r'href="#(?:hd|Hd|HD)"', sheet["markup"])
        assert staff_lines and len(note_heads) >= 8, f"no staff or notes drawn: {sheet['markup'][:500]}"

    stdout = page.evaluate(OUTPUT_TEXTS, "stdout")
    rows = printed_tune_rows(stdout)
    assert rows and rows == list(range(len(rows))), f"no tune list (one numbered row per tune): {stdout}"
    assert any(re.search(r"^X:\s*\d+$", text, re.MULTILINE) and "K:" in text for text in stdout), \
        "no generated tune's ABC text printed"


def test_notebook_07_runs_in_jupyterlab_and_a_student_hears_and_sees_the_tunes(lab, page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "07_playback-failure.png").unlink(missing_ok=True)  # a failure's picture is this run's only
    try:
        run_all_cells(page, lab)
        screenshot_whole_notebook(page, SCREENSHOTS / "07_playback.png")
        check_what_the_student_sees(page)
    except Exception:
        page.screenshot(path=str(SCREENSHOTS / "07_playback-failure.png"), full_page=True, timeout=60_000)
        raise

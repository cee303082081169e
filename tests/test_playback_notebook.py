"""Notebook 07, executed as a student runs it (LABUTILS_SMALL=1): what its prose says about the outputs holds."""
import base64
import re

import pytest
from executed_notebooks import SOLUTIONS, errors, printed, run_cells, shows_progress

SOLUTION = SOLUTIONS / "07_playback.ipynb"
ROW = re.compile(r"^\s*(\d+)  (.{30})  bad bars=\s*(\d+)  notes=\s*\d+\s+([\d.]+) s  longest=\s*\d+  (clean|not clean)",
                 re.M)
AUDIO = re.compile(r'<source src="data:(audio/[\w-]+);base64,([^"]+)"')
MAGIC = {"audio/ogg": b"OggS", "audio/wav": b"RIFF", "audio/x-wav": b"RIFF", "audio/flac": b"fLaC"}


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    """{cell id: cell} of the whole notebook's code cells, run under LABUTILS_SMALL=1 from a temporary folder."""
    return {cell.get("id"): cell for cell in run_cells(tmp_path_factory, lambda source: True, SOLUTION)}


def quality_rows(cells) -> dict:
    """{title: (tune number, bad bars, seconds, clean)} from the table of tune_quality's rows."""
    return {title.strip(): (int(number), int(bad), float(seconds), verdict == "clean")
            for number, title, bad, seconds, verdict in ROW.findall(printed(cells["s07-09"]))}


def test_every_cell_runs_and_the_small_settings_say_how_many_tunes(cells):
    """No error output; the small settings are announced; the generation shows progress and makes that many."""
    assert errors(cells.values()) == []
    announced = re.search(r"LABUTILS_SMALL=1: (\d+) tunes", printed(cells["s07-06b"]))
    assert announced, printed(cells["s07-06b"])
    assert shows_progress(cells["s07-07"])
    assert f"{announced.group(1)} complete tunes" in printed(cells["s07-07"])
    assert len(quality_rows(cells)) == int(announced.group(1))


def test_with_the_guide_nearly_every_tune_is_clean(cells):
    """'with the guide nearly every tune should be clean': the summary line, the rows and the player cell agree."""
    clean, count = map(int, re.search(r"tunes_clean\s+(\d+) of (\d+)", printed(cells["s07-09"])).groups())
    rows = quality_rows(cells).values()
    assert count == len(rows) and clean == sum(row[3] for row in rows)
    assert clean >= 0.75 * count
    assert printed(cells["s07-11"]).startswith(f"{clean} of {count} tunes are clean")


def test_the_best_three_play_and_their_sound_decodes(cells):
    """'best_tunes picks the three best: clean, not copying, the longest music first': three players that play."""
    cell = cells["s07-11"]
    assert "playing the best 3." in printed(cell)
    sources = [AUDIO.search(out.data["text/html"]) for out in cell.outputs if "text/html" in out.get("data", {})]
    assert len(sources) == 3 and all(sources), cell.outputs
    for source in sources:
        mime, data = source.groups()
        assert base64.b64decode(data)[:4] == MAGIC[mime], mime
    rows = quality_rows(cells)
    played = [rows[title.strip()[:30].strip()] for title in re.findall(r"^T:(.*)$", printed(cell), re.M)]
    assert len(played) == 3 and all(row[3] for row in played)
    assert [row[2] for row in played] == sorted((row[2] for row in rows.values() if row[3]), reverse=True)[:3]


def test_one_audio_file_per_tune_and_the_abc_beside_them(cells):
    """'write_audio writes one audio file per playable tune ... (and says why a tune was skipped):
    Ogg Vorbis ... where the soundfile package is installed' (a dependency of labutils)."""
    lines = printed(cells["s07-13"]).splitlines()
    files = [line for line in lines if re.match(r"tune +\d+: (\S+\.ogg|skipped: .+)$", line)]
    assert len(files) == len(quality_rows(cells)) and any(line.endswith(".ogg") for line in files), lines
    assert lines[-1] == "ABC text: runs/07_playback/tunes.abc"


def test_sheet_music_and_the_piano_roll_are_drawn(cells):
    """The score (SVG from abcm2ps, or a piano roll without it) and the piano roll picture."""
    sheet = [out for out in cells["s07-15"].outputs if {"image/svg+xml", "image/png"} & set(out.get("data", {}))]
    roll = [out for out in cells["s07-17"].outputs if "image/png" in out.get("data", {})]
    assert len(sheet) == 1 and len(roll) == 1


def test_the_guides_share_of_the_form_and_the_layout_of_the_first_tune(cells):
    """The guide's rules and the model's returning phrases in the table; the tune heard first laid out in its parts."""
    rows = {}
    for line in printed(cells["s07-f2"]).splitlines():
        fields = [field.strip() for field in line.strip().strip("|").split("|")]
        if len(fields) == 3 and fields[2].endswith("%"):
            rows[fields[0]] = float(fields[1].rstrip("%")), float(fields[2].rstrip("%"))
    assert rows["tunes with one part only"][1] == 0
    assert rows["every part ends on the tonic"][1] >= rows["every part ends on the tonic"][0]
    for label in ("8-bar parts whose bar 5 or 6 restates bar 1 or 2", "bars that repeat an earlier bar of the tune"):
        real, yours = rows[label]
        assert yours >= real / 2, label  # 'the pretrained model ... restates its phrases about as often'
    layout = printed(cells["s07-f4"])
    first_played = re.search(r"Generated tune 0:\n(.*?)\n\n", printed(cells["s07-11"]), re.S).group(1)
    assert re.search(r"^A: \d+ bars", layout, re.M) and re.search(r"^B: \d+ bars", layout, re.M), layout
    bars = re.search(r"K:[^\n]*\n(.{20})", first_played).group(1)  # the first notes heard
    assert bars.split("|")[0].strip() in layout

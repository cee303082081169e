"""labutils.music.played: tunes written as played (repeats written out, endings resolved), and the
training option that adds such copies (params["played_share"], labutils.corpus)."""
import re

import numpy as np
import pytest

from labutils import corpus
from labutils.data import load_training_data
from labutils.music.bars import read_bars
from labutils.music.form import play_order, tune_form
from labutils.music.played import played_copies, write_as_played
from labutils.params import CPU_PARAMS, TRAINING_DEFAULTS, check_params, with_defaults
from labutils.text import decode

HEAD = "X:1\nT:Test\nR:{kind}\nM:{meter}\nL:1/8\nK:{key}\n"
REEL = HEAD.format(kind="reel", meter="C|", key="D") + "|:A|d2fd AdFA|G2BG FGAB|c2ec dcBA|d2f2 d3:|]"
REPEAT_SIGNS = re.compile(r":\||\|:|::|\|\d|\[\d")


def test_a_repeated_part_is_written_twice():
    tune = HEAD.format(kind="polka", meter="2/4", key="G") + "|:GA Bc|d2 B2:|\n|:ef ge|d2 G2:|\n"
    played = write_as_played(tune)
    assert played == HEAD.format(kind="polka", meter="2/4", key="G") + (
        "GA Bc|d2 B2|\nGA Bc|d2 B2|\nef ge|d2 G2|\nef ge|d2 G2|]\n")
    assert tune_form(played).bars_played == tune_form(tune).bars_played == 8
    assert not any(tune_form(played).repeated)


def test_first_and_second_endings_are_resolved():
    head = HEAD.format(kind="jig", meter="6/8", key="D")
    tune = head + "D|FAF GBG|[1 FED D2:|[2 FED D3||\nK:A\nc|ecA ecA|1 ABc e2:|2 ABc A3|]\n"
    played = write_as_played(tune)
    # the first part goes back to the tune's start; the second, with no '|:', to its own start,
    # taking its K: line with it
    assert played == head + ("D|FAF GBG| FED D2| D|FAF GBG| FED D3||\n"
                             "K:A\nc|ecA ecA| ABc e2| \nK:A\nc|ecA ecA| ABc A3|]\n")
    assert not REPEAT_SIGNS.search(played)
    bars = read_bars(tune)
    assert [bar.notes for bar in read_bars(played)] == [bars[i].notes for i in play_order(bars)]


def test_a_tune_without_repeats_is_unchanged():
    tune = HEAD.format(kind="waltz", meter="3/4", key="Am") + "A2 B2 c2|e4 d2|\nc2 B2 A2|E6|]\n"
    assert write_as_played(tune) == tune
    assert write_as_played("X:1\nT:No music\n") == "X:1\nT:No music\n"


def test_the_collection_as_played_reads_as_form_plays_it():
    songs = load_training_data()
    differing = 0
    for tune in songs:
        played = write_as_played(tune)
        bars = read_bars(tune)
        if [bar.notes for bar in read_bars(played)] != [bars[i].notes for i in play_order(bars)]:
            differing += 1  # a music line the reader takes for an M: field ('M:6/8 Ddd e3|...') is kept as written
        assert set(played) <= set(tune) | {"]", "\n"}
    assert differing <= 1
    assert sum(bool(REPEAT_SIGNS.search(write_as_played(tune))) for tune in songs) <= 2


def test_played_copies_are_a_seeded_share_of_the_tunes_with_repeats():
    songs = load_training_data()[:100]
    copies = played_copies(songs, 0.3, seed=0)
    assert copies == played_copies(songs, 0.3, seed=0) and copies != played_copies(songs, 0.3, seed=1)
    assert 20 <= len(copies) <= 30 and not set(copies) & set(songs)
    assert all(write_as_played(copy) == copy for copy in copies)  # no repeats left to write out
    assert played_copies(songs, 0.0) == []
    no_repeats = HEAD.format(kind="waltz", meter="3/4", key="Am") + "A2 B2 c2|e4 d2|]\n"
    assert played_copies([no_repeats] * 5, 1.0) == []


def test_the_option_is_off_by_default(tmp_path):
    assert TRAINING_DEFAULTS["played_share"] == 0.0 and "played_share" not in CPU_PARAMS
    assert with_defaults(CPU_PARAMS)["played_share"] == 0.0
    tunes = load_training_data()[:10]
    (tmp_path / "tunes.abc").write_text("\n\n".join(tunes) + "\n", encoding="utf-8")
    plain = corpus.training_corpus({}, str(tmp_path / "tunes.abc"))
    assert "played_songs" not in plain
    played = corpus.training_corpus({"played_share": 1.0}, str(tmp_path / "tunes.abc"))  # what `run` reads
    assert "]" not in plain["vocab"] and played["played_songs"] == []  # '|]' is not in these tunes' vocabulary
    (tmp_path / "tunes.abc").write_text("\n\n".join(tunes + [REEL]) + "\n", encoding="utf-8")
    played = corpus.training_corpus({"played_share": 1.0}, str(tmp_path / "tunes.abc"))
    assert len(played["played_songs"]) >= 7 and len(played["train"]) > 1.5 * len(plain["train"])


def test_the_option_adds_played_copies_to_the_training_text_only():
    songs = load_training_data()
    plain = corpus.prepare_corpus(songs, 0.1, seed=0, transpose="tradition")
    played = corpus.prepare_corpus(songs, 0.1, seed=0, transpose="tradition", played_share=0.3)
    assert np.array_equal(played["val"], plain["val"]) and played["val_songs"] == plain["val_songs"]
    assert 0.25 * 724 <= len(played["played_songs"]) <= 0.3 * 724
    assert played["transposed_tunes"] == plain["transposed_tunes"]  # copies of the tunes as written only
    as_written = decode(played["train_as_written"], played["idx2char"])  # read before the copies start
    assert played["played_songs"][0] in as_written and played["played_songs"][-1] in as_written
    assert len(played["train"]) - len(plain["train"]) == len(played["train_as_written"]) - len(plain["train_as_written"])


def test_the_share_is_checked():
    params = with_defaults(CPU_PARAMS)
    check_params({**params, "played_share": 0.3})
    with pytest.raises(ValueError, match="played_share must be a share of the training tunes in \\[0, 1\\], got 1.5"):
        check_params({**params, "played_share": 1.5})


def test_the_share_out_of_range_is_refused_by_the_cli(tmp_path, capsys):
    from labutils.cli import main

    assert main(["train", "--preset", "small", "--played-share", "1.5",
                 "--runs-dir", str(tmp_path), "--comet", "disabled", "--quiet"]) == 2
    assert not list(tmp_path.iterdir())
    assert "--played-share must be a share of the training tunes in [0, 1], got 1.5" in capsys.readouterr().err


def test_a_resumed_run_keeps_its_share(tmp_path, capsys):
    from labutils.cli import main

    common = ["--runs-dir", str(tmp_path), "--comet", "disabled", "--quiet"]
    assert main(["train", "--preset", "small", "--extra-tunes", "none", "--name", "r", *common]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "r"), "--played-share", "0.3", *common]) == 2
    assert "--played-share 0.3 (the run has 0.0) cannot change in a resumed run" in capsys.readouterr().err

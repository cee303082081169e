"""labutils.extra_tunes: music21's collections in the lab's format, minus the lab's own tunes."""
import pytest

from labutils.corpus import lab_vocab, prepare_corpus
from labutils.data import load_training_data
from labutils.extra_tunes import (
    COLLECTIONS,
    body_key,
    load_extra_tunes,
    normalise_key,
    normalise_tune,
    parse_names,
    title_key,
)

VOCAB = set(lab_vocab()[0])
COLLECTION_TUNE = """X: 12
T: THE HUMOURS OF GLEN -- REEL
R: reel
M: C|
L: 1/8
N: "collected by J. O'Neill"
Z: "Transcribed by someone"
K:Ador
% a comment line
{g}A2 ~B2 !trill!c2 d2 | uefg a2 ! g2 \\
fe dc |]
W: words for readers
"""


def test_a_collection_tune_is_rewritten_in_the_lab_format():
    tune, reason = normalise_tune(COLLECTION_TUNE, "oneills", VOCAB)
    assert reason is None
    assert tune.split("\n") == [
        "X:12", "T:The Humours Of Glen", "Z: id:oneills-reel-12", "M:C|", "L:1/8", "K:A Dorian",
        "A2 B2 c2 d2|efg a2!", "g2 fe dc|]!"]
    assert set(tune) <= VOCAB


def test_the_collections_habits_are_written_as_the_lab_writes_them():
    tune = COLLECTION_TUNE.replace("fe dc |]", '"Am"(fe) d/2c3/2 .B HA |1 c2 :|2 (3cBA |]')
    body = normalise_tune(tune, "oneills", VOCAB)[0].split("\n")[-1]
    # chord symbol, slur, staccato and fermata gone; A/2 as A/; 3/2 and the triplet kept; no spaces
    # at bar lines; endings written "[1 "
    assert body == "g2 fe d/c3/2 B A|[1 c2:|[2 (3cBA|]!"


@pytest.mark.parametrize("change, reason", [
    (("L: 1/8", "L: 1/16"), "L: is not 1/8"),
    (("K:Ador", "K:HP"), "a key the lab does not write"),
    (("T: THE HUMOURS OF GLEN -- REEL\n", ""), "no T field"),
    (("dc |]", "dc |] $"), "characters outside the vocabulary"),
    (("W: words", "V:2\nW: words"), "voices"),
])
def test_tunes_the_lab_cannot_use_are_dropped_with_a_reason(change, reason):
    tune, why = normalise_tune(COLLECTION_TUNE.replace(*change), "oneills", VOCAB)
    assert tune is None and reason in why


def test_missing_length_defaults_by_the_meter():
    tune, _ = normalise_tune(COLLECTION_TUNE.replace("L: 1/8\n", ""), "x", VOCAB)
    assert "L:1/8" in tune.split("\n")
    tune, why = normalise_tune(COLLECTION_TUNE.replace("L: 1/8\n", "").replace("M: C|", "M: 2/4"), "x", VOCAB)
    assert tune is None and "no L field" in why


def test_keys_titles_and_bodies_normalise_for_comparison():
    assert normalise_key("Gm") == "G Minor" and normalise_key(" D") == "D Major"
    assert normalise_key("F#mix") == "F# Mixolydian" and normalise_key("Ephr") is None
    assert title_key("The Blackbird") == title_key("BLACKBIRD -- HORNPIPE") == "blackbird"
    assert title_key("Butcher's March") == title_key("The Butchers' March")
    assert body_key("X:1\nT:a\nK:G\n|:\"Am\"A2B c/d/e|") == "abcde"


def test_unknown_collection_lists_the_known_ones():
    with pytest.raises(ValueError, match="Unknown extra tune collection.*nottingham.*Known: oneills"):
        parse_names("oneills,nottingham")
    assert parse_names("ryans, oneills,ryans") == ["ryans", "oneills"]


@pytest.fixture(scope="module")
def lab_songs():
    return load_training_data()


@pytest.mark.parametrize("name", sorted(COLLECTIONS))
def test_music21_collections_load_without_the_labs_tunes(name, lab_songs):
    extra = load_extra_tunes(name, lab_songs=lab_songs)
    assert len(extra.tunes) > 100 and extra.read == len(extra.tunes) + sum(extra.dropped.values())
    assert all(set(t) <= VOCAB for t in extra.tunes)
    for tune in extra.tunes[:: max(1, len(extra.tunes) // 50)]:
        fields = [line[:2] for line in tune.split("\n")[:6]]
        assert fields == ["X:", "T:", "Z:", "M:", "L:", "K:"]
        assert tune.split("\n")[6].endswith("!")
    lab_titles = {title_key(line[2:]) for s in lab_songs for line in s.split("\n") if line.startswith("T:")}
    lab_bodies = {body_key(s) for s in lab_songs}
    assert not any(title_key(t.split("\n")[1][2:]) in lab_titles for t in extra.tunes)
    assert not any(body_key(t) in lab_bodies for t in extra.tunes)


def test_oneills_and_ryans_share_tunes_with_the_lab(lab_songs):
    extra = load_extra_tunes(["oneills", "ryans"], lab_songs=lab_songs)
    by_title = extra.dropped["already in the lab's tunes (same title)"]
    by_notes = extra.dropped["already in the lab's tunes (same first notes)"]
    removed = by_title + by_notes
    print(f"{removed} of {extra.read} removed as already among the lab's 804 ({by_title} by title, "
          f"{by_notes} by first notes only); e.g. {extra.duplicate_examples}")
    assert removed > 50 and by_notes > 0  # both collections hold well-known Irish tunes that the lab's 804 have too
    assert len(extra.duplicate_examples) == 5 and extra.dropped["twice in the extra collections"] > 0
    assert set(extra.per_collection) == {"oneills", "ryans"}


def test_extra_tunes_join_the_training_half_only(lab_songs):
    plain = prepare_corpus(lab_songs)
    extra = load_extra_tunes("ryans", lab_songs=lab_songs).tunes
    more = prepare_corpus(lab_songs, extra_train_songs=extra)
    assert more["val_songs"] == plain["val_songs"] and (more["val"] == plain["val"]).all()
    assert more["vocab"] == plain["vocab"] and len(more["vocab"]) == 83
    assert more["train_songs"] == plain["train_songs"] and (more["train"] == plain["train"]).all()
    assert more["extra_songs"] == extra and more["extra_tunes"] == len(extra)
    assert more["extra"] is not None and len(more["extra"]) > 100_000 and plain["extra"] is None
    with pytest.raises(ValueError, match="not in the vocabulary"):
        prepare_corpus(lab_songs, extra_train_songs=["X:1\nT:a\nK:G\nabc$"])


def test_cli_flag_parses_names_and_rejects_unknown_ones(capsys):
    from labutils.cli import build_parser, main

    args = build_parser().parse_args(["train", "--extra-tunes", "oneills,ryans", "--threads", "1"])
    assert args.extra_tunes == ["oneills", "ryans"] and args.threads == 1
    assert build_parser().parse_args(["train", "--extra-tunes", "none"]).extra_tunes == []
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--extra-tunes", "oneils"])
    assert exit_info.value.code == 2
    assert "Unknown extra tune collection(s): oneils. Known: oneills" in capsys.readouterr().err


def test_resume_keeps_the_extra_tunes(tmp_path, capsys):
    import json

    from labutils.cli import main

    flags = ["--preset", "small", "--iterations", "2", "--eval-every", "2", "--checkpoint-every", "2",
             "--runs-dir", str(tmp_path), "--name", "r", "--comet", "disabled", "--quiet"]
    assert main(["train", "--extra-tunes", "ryans", *flags]) == 0
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["params"]["extra_tunes"] == ["ryans"] and config["extra_tunes"] > 100
    assert config["val_tunes"] == 80 and config["train_tunes"] == 724
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "r"), "--iterations", "4", "--quiet", "--comet", "disabled"]) == 0
    assert "extra tunes: read 1059" in capsys.readouterr().out


def test_batches_mix_the_extra_tunes_at_their_share_until_their_step():
    import numpy as np

    from labutils.schedule import training_batch

    lab, extra = np.zeros(1000, dtype=np.int64), np.ones(1000, dtype=np.int64)
    params = {"batch_size": 8, "seq_length": 16, "extra_share": 0.25, "extra_from": 10, "extra_until": 100}
    rng = np.random.default_rng(0)
    x, _ = training_batch(9, lab, None, extra, params, rng)  # before extra_from: the lab's tunes only
    assert int(x.sum()) == 0
    x, y = training_batch(10, lab, None, extra, params, rng)
    assert x.shape == (8, 16) and x.sum(dim=1).tolist() == [0] * 6 + [16] * 2
    x, _ = training_batch(100, lab, None, extra, params, rng)  # from extra_until on: the lab's tunes only
    assert int(x.sum()) == 0
    x, _ = training_batch(50, lab, None, extra, {**params, "extra_share": 1.0}, rng)
    assert int(x.sum()) == 8 * 16
    # no extra tunes: the same windows as get_batch with the same random state
    from labutils.batches import get_batch

    text = np.arange(1000, dtype=np.int64)
    a, _ = training_batch(0, text, None, None, params, np.random.default_rng(3))
    b, _ = get_batch(text, 16, 8, np.random.default_rng(3))
    assert (a == b).all()


def test_extra_share_out_of_range_is_refused(tmp_path, capsys):
    from labutils.cli import main

    assert main(["train", "--preset", "small", "--extra-tunes", "ryans", "--extra-share", "1.5",
                 "--runs-dir", str(tmp_path), "--comet", "disabled", "--quiet"]) == 2
    assert not list(tmp_path.iterdir())  # no run folder left behind
    assert "--extra-share must be a share of the batch in [0, 1], got 1.5" in capsys.readouterr().err


def test_the_loss_plot_marks_where_the_training_text_changes(tmp_path):
    from labutils.params import CPU_PARAMS, with_defaults
    from labutils.runs import loss_figure, save_loss_plot, training_phases

    params = with_defaults(CPU_PARAMS)
    assert training_phases(params, extra_tunes=1873) == [(300, "+ transposed copies, + extra tunes"),
                                                         (1100, "extra tunes end")]
    assert training_phases(params, extra_tunes=0) == [(300, "+ transposed copies")]
    assert training_phases({**params, "transpose": [], "extra_share": 0.0}, extra_tunes=1873) == []
    history = [{"step": s, "loss": 2.0 - s / 2000, "val_bpc": None if s % 100 else 1.5} for s in range(1, 2201)]
    fig = loss_figure(history, phases=training_phases(params, 1873))
    labels = [text.get_text() for text in fig.axes[0].texts]
    assert labels == ["+ transposed copies, + extra tunes", "extra tunes end"]
    assert save_loss_plot(history, tmp_path / "loss.png", phases=training_phases(params, 1873)).stat().st_size > 10_000

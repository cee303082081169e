"""`python -m labutils <command>`: run (the main job), train, generate, and the other tools."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import List, Optional

from labutils.extra_tunes import COLLECTIONS as EXTRA_COLLECTIONS
from labutils.extra_tunes import parse_names

# Commands that live in their own module, each with a main(argv) -> int.
DELEGATED = {
    "play": ("labutils.music.play", "Play or convert an ABC tune to WAV."),
    "build-notebooks": ("labutils.authoring.build", "Write notebooks/ from solutions/ (or --check)."),
    "grade": ("labutils.grading.cli", "Grade student notebooks against the solutions."),
    "autograder": ("labutils.grading.gradescope", "Write a Gradescope autograder zip (setup.sh, run_autograder)."),
    "translations": ("labutils.authoring.editions", "Update or check the translation catalogs (translations/<lang>/)."),
}


def _collection_names(value: str) -> List[str]:
    """--extra-tunes "oneills,ryans" -> ["oneills", "ryans"]; an unknown name is a usage error."""
    try:
        return parse_names(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class _TransposeAction(argparse.Action):
    """--transpose -2 2 -> [-2, 2]; --transpose tradition -> "tradition"; --transpose alone -> []."""

    def __call__(self, parser, namespace, values, option_string=None):
        if values == ["tradition"]:
            setattr(namespace, self.dest, "tradition")
            return
        try:
            setattr(namespace, self.dest, [int(value) for value in values])
        except ValueError:
            parser.error(f"{option_string} takes semitones (e.g. -2 2) or the word tradition, got {' '.join(values)}")


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """--preset and the flags that each override one of its settings (dest: the setting's key in params)."""
    parser.add_argument("--preset", choices=["auto", "notes", "cpu", "small"], default="auto",
                        help="hyperparameters: the lab notes' (notes), the CPU default (cpu), tiny (small); "
                             "auto = notes on a GPU, cpu on a CPU, small when LABUTILS_SMALL=1")
    settings = parser.add_argument_group("settings", "each flag overrides one setting of the preset")
    flags = [
        settings.add_argument("--iterations", dest="num_training_iterations", type=int, metavar="ITERATIONS",
                              help="override num_training_iterations"),
        settings.add_argument("--batch-size", type=int, help="override batch_size"),
        settings.add_argument("--seq-length", type=int, help="override seq_length"),
        settings.add_argument("--learning-rate", type=float, help="override learning_rate"),
        settings.add_argument("--embedding-dim", type=int, help="override embedding_dim"),
        settings.add_argument("--hidden-size", type=int, help="override hidden_size"),
        settings.add_argument("--num-layers", type=int, help="recurrent layers (default 1)"),
        settings.add_argument("--dropout", type=float, help="dropout before the output layer (and between layers)"),
        settings.add_argument("--cell", choices=["lstm", "gru"], help="recurrent cell (default lstm)"),
        settings.add_argument("--lookback-bars", type=int, metavar="BARS",
                              help="also read the character at the same place this many bars back "
                                   "(labutils.lookback; 0: off)"),
        settings.add_argument("--grad-clip", type=float, help="clip the gradient norm to this value"),
        settings.add_argument("--eval-every", type=int, help="held-out evaluation every N steps"),
        settings.add_argument("--checkpoint-every", type=int, help="write a checkpoint every N steps"),
        settings.add_argument("--seed", type=int, help="random seed (default 0)"),
        settings.add_argument("--transpose", nargs="*", action=_TransposeAction, metavar="SEMITONES",
                              help="also train on each tune moved by these semitones, e.g. --transpose -2 2, "
                                   "or into the keys the tradition plays (--transpose tradition; "
                                   "--transpose alone: none)"),
        settings.add_argument("--played-share", type=float, metavar="SHARE",
                              help="also train on this share of the tunes written as played, repeats written "
                                   "out (default 0)"),
        settings.add_argument("--extra-tunes", type=_collection_names, metavar="NAMES",
                              help="also train on music21's collections, comma-separated: "
                                   f"{', '.join(EXTRA_COLLECTIONS)}, or none (the held-out tunes stay the lab's)"),
        settings.add_argument("--extra-share", type=float, metavar="SHARE",
                              help="share of each batch read from the extra tunes (default 0.25)"),
        settings.add_argument("--extra-from", type=int, metavar="STEP", help="read the extra tunes from this step on"),
        settings.add_argument("--extra-until", type=int, metavar="STEP",
                              help="read the extra tunes only before this step (none: to the end)"),
        settings.add_argument("--threads", type=int, help="CPU threads for training (default: chosen by timing "
                                                          "steps at 1 and 2 threads, again during the run)"),
    ]
    # The jobs read the settings given (args.<setting> not None) and name them by their flags in errors.
    parser.set_defaults(setting_flags={flag.dest: flag.option_strings[0] for flag in flags})


def _add_training_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of `run` and `train`: the settings, the data, the run folder, tracking."""
    _add_setting_flags(parser)
    parser.add_argument("--data", help="an ABC file or folder instead of the lab's tune collection")
    parser.add_argument("--runs-dir", default="runs", help="where run folders go (default: runs/)")
    parser.add_argument("--name", help="run folder name (default: a timestamp)")
    parser.add_argument("--resume", metavar="RUN_DIR",
                        help="continue the run in RUN_DIR from its last checkpoint")
    parser.add_argument("--comet", choices=["auto", "online", "offline", "disabled"], default="auto",
                        help="Comet ML tracking: online with COMET_API_KEY, else an offline zip in the run "
                             "folder (auto); disabled logs nothing")
    parser.add_argument("--require-gpu", action="store_true", help="fail when no GPU is available")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_generation_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of `run` and `generate` that say how tunes are sampled and written."""
    parser.add_argument("--start", default="X", help="start string (default 'X', the start of a tune)")
    parser.add_argument("--num-tunes", type=int, default=32, help="complete tunes to generate (default 32)")
    parser.add_argument("--plain", action="store_true",
                        help="plain sampling: switch off the guide that keeps every bar the meter's length")
    parser.add_argument("--length", type=int, default=2000,
                        help="most characters of one tune (a longer one is dropped and sampled again; at most 100,000)")
    parser.add_argument("--num-samples", type=int, default=32,
                        help="tunes sampled at once in one batch (default 32)")
    parser.add_argument("--temperature", type=float, default=None, help="sampling temperature")
    parser.add_argument("--header-temperature", type=float, default=None,
                        help="temperature of a guided tune's header (title, meter, key); default 1.0")
    parser.add_argument("--top-k", type=int, default=None, help="sample only among the k likeliest characters")
    parser.add_argument("--sample-seed", type=int, default=0, help="seed of the sampler")
    parser.add_argument("--no-audio", action="store_true", help="do not write audio files")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m labutils`."""
    parser = argparse.ArgumentParser(allow_abbrev=False, prog="python -m labutils", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", allow_abbrev=False, help="Train, generate tunes and write a run folder (make run).",
                         description="Train on the tune collection, generate tunes, write runs/<name>/.")
    _add_training_flags(run)
    _add_generation_flags(run)
    train = sub.add_parser("train", allow_abbrev=False, help="Train only and write a run folder with a checkpoint.",
                           description="Train on the tune collection and write runs/<name>/.")
    _add_training_flags(train)
    gen = sub.add_parser("generate", allow_abbrev=False, help="Generate tunes from a checkpoint (or the shipped model).",
                         description="Generate text from a checkpoint, extract tunes, write ABC and audio files.")
    gen.add_argument("--checkpoint", help="a checkpoint.pt or a run folder (default: the model shipped "
                                          "with labutils)")
    gen.add_argument("--out", help="folder for generated.txt, tunes/ and audio/ (default: print only)")
    gen.add_argument("--force", action="store_true", help="replace earlier results in --out")
    _add_generation_flags(gen)
    export = sub.add_parser("export-model", allow_abbrev=False,
                            help="Write a small float16 copy of a checkpoint (labutils/weights/lstm_small.pt).",
                            description="Strip the optimizer and random state from a checkpoint and store the "
                                        "weights as float16: the file the notebooks load as the pretrained model.")
    export.add_argument("checkpoint", help="a checkpoint.pt / best.pt written by `python -m labutils run`")
    export.add_argument("out", nargs="?", help="where to write it (default: labutils/weights/lstm_small.pt)")
    export.add_argument("--force", action="store_true", help="replace an existing file (the shipped model included)")
    for name, (_, help_text) in DELEGATED.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of `python -m labutils`; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:
        module = importlib.import_module(DELEGATED[argv[0]][0])
        return module.main(argv[1:])
    args = build_parser().parse_args(argv)
    from labutils import jobs, threads

    threads.speak_to("cli")  # thread messages name the --threads flag

    try:
        if args.command == "run":
            return jobs.run_job(args, generate=True)
        if args.command == "train":
            return jobs.run_job(args, generate=False)
        if args.command == "export-model":
            from labutils.pretrained import PRETRAINED_PATH, export_model

            print(f"Wrote {export_model(args.checkpoint, args.out or PRETRAINED_PATH, overwrite=args.force)}")
            return 0
        return jobs.generate_job(args)
    except KeyboardInterrupt:
        print("Stopped by Ctrl-C.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stdout = open(os.devnull, "w")
        return 0
    except (OSError, ValueError) as error:  # OSError: missing, existing or unwritable files, a full disk
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

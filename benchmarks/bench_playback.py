"""Time playback per (parser, synthesizer) and the clean rate per parser on the tune collection.

    python benchmarks/bench_playback.py [--tunes 41]

Prints the median seconds to render one tune to audio (parse + synthesize, no WAV write)
for each route this machine has, and the share of clean tunes (check_tune) per parser.
"""
import argparse
import json
import os
import statistics
import time

from labutils import music
from labutils.data import load_training_data


def median_playback_seconds(songs, backend="auto", synth="numpy"):
    """Median wall time (s) to render one tune to audio with music.render_song."""
    times = []
    for song in songs:
        start = time.perf_counter()
        try:
            music.render_song(song, backend=backend, synth=synth)
        except music.SongError:
            pass
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tunes", type=int, default=41, help="tunes spread over the collection to time")
    parser.add_argument("--clean-all", action="store_true", help="clean rate on all tunes, not the sample")
    args = parser.parse_args()
    songs = load_training_data()
    sample = songs[:: max(1, len(songs) // args.tunes)][: args.tunes]
    tools = music.available_tools()
    backends = (["abc2midi"] if tools["abc2midi"] else []) + ["music21"]
    synths = (["timidity"] if tools["timidity"] else []) + ["numpy"]
    music.render_song(sample[0], backend="music21", synth="numpy")  # warm-up: imports
    result = {"tools": tools, "tunes_timed": len(sample), "load_at_start": os.getloadavg()[0],
              "median_seconds": {}, "clean_rate": {}}
    for backend in backends:
        for synth in synths:
            result["median_seconds"][f"{backend}+{synth}"] = round(
                median_playback_seconds(sample, backend, synth), 4)
        corpus = songs if args.clean_all else sample
        result["clean_rate"][backend] = {"tunes": len(corpus),
                                         "rate": round(music.clean_rate(corpus, backend), 4)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

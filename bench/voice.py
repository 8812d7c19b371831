"""Speak your answer, measured: `.venv/bin/python bench/voice.py` (add `--quick` to skip the grid).

A synthetic ~2 minute answer (tests/voice_helpers.LONG: espeak-ng, 140 wpm, scripted fillers and
four pauses over 2 s) goes through the coach's own path: load_audio -> LocalWhisper -> measure.
Everything runs offline in this process; the first section is the first model load of the process.

Figures printed:
* model load: `import faster_whisper` + WhisperModel(bundled tiny.en, cpu, int8), cold in this process;
* real-time factor (transcription seconds / audio seconds, target <= 0.2) of the shipped settings;
* end of speech -> transcript: what a user waits after stopping a recording: the samples checked
  (from_samples), transcribed and measured, with the model already loaded (the CLI can load it while
  the user speaks) and cold;
* the settings grid: initial prompt with fillers (on/off) x beam size (1/5) x VAD (on/off):
  time, filler recall (scripted fillers counted by `delivery.measure`, as hits / scripted), extra
  fillers counted, content recall (scripted words found in the transcript), pauses found and the
  worst error of their start;
* silence threshold: the same answer attenuated, whether Whisper still recognises it.

`voice_bench(quick=False) -> str` returns the markdown (for bench/run.py); main() prints it.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:  # run as a script from anywhere
        sys.path.insert(0, str(extra))

import numpy as np
import voice_helpers as vh

from coach.voice import audio, delivery, transcribe

TARGET_RTF = 0.2


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))


def content_recall(script: list[tuple[str, float]], transcript: transcribe.Transcript) -> float:
    """Share of the script's words (fillers and 1-2 letter words aside) found in the transcript."""
    fillers = {"um", "uh", "er", "like", "so", "basically", "actually"}
    wanted = [w for text, _ in script for w in words_of(text) if len(w) > 2 and w not in fillers]
    heard = set(words_of(transcript.text))
    return sum(w in heard for w in wanted) / len(wanted)


def filler_score(truth: dict[str, int], found: dict[str, int]) -> tuple[int, int, int]:
    hits = sum(min(found.get(k, 0), n) for k, n in truth.items())
    extra = sum(max(n - truth.get(k, 0), 0) for k, n in found.items())
    return hits, sum(truth.values()), extra


def pause_errors(speech: vh.Speech, result: delivery.Delivery) -> tuple[int, int, float]:
    """(scripted pauses over 2 s found, scripted, worst |start error| of the found ones)."""
    truth = [p for p in speech.pauses if p[1] > delivery.PAUSE_S]
    found, worst = 0, 0.0
    for start, _ in truth:
        near = [abs(s - start) for s, _ in result.pauses if abs(s - start) < 1.5]
        if near:
            found += 1
            worst = max(worst, min(near))
    return found, len(truth), worst


def voice_bench(quick: bool = False) -> str:
    missing = audio.voice_missing()
    if missing:
        raise RuntimeError(missing)
    binary = vh.espeak()
    if not binary:
        raise RuntimeError(vh.INSTALL_HINT)
    parts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="coach-voice-bench-") as scratch:
        speech = vh.synthesise(Path(scratch) / "long.wav", vh.LONG, binary=binary)
        truth = speech.fillers()

        started = time.perf_counter()
        import faster_whisper  # noqa: F401 - timed: the import is part of a cold start

        imported = time.perf_counter() - started
        whisper = transcribe.LocalWhisper()
        whisper.load()
        loaded = time.perf_counter() - started
        parts += [
            "### Model load (cold, this process)",
            "",
            table(
                ["step", "seconds"],
                [
                    ["import faster_whisper", f"{imported:.2f}"],
                    ["+ load bundled tiny.en (int8)", f"{loaded:.2f}"],
                ],
            ),
        ]

        sound = audio.load_audio(speech.path)
        started = time.perf_counter()
        transcript = transcribe.transcribe(sound, whisper)
        elapsed = time.perf_counter() - started
        rtf = elapsed / sound.duration_s
        result = delivery.measure(transcript, budget_s=120)
        hits, total, extra = filler_score(truth, result.fillers)
        found, scripted, worst = pause_errors(speech, result)

        # end of speech -> transcript: samples as the recorder hands them over (16 kHz float32)
        started = time.perf_counter()
        checked = audio.from_samples(sound.samples.copy(), audio.RATE)
        delivery.measure(transcribe.transcribe(checked, whisper), budget_s=120)
        warm_wait = time.perf_counter() - started
        transcribe._models.clear()
        started = time.perf_counter()
        delivery.measure(transcribe.transcribe(checked, transcribe.LocalWhisper()), budget_s=120)
        cold_wait = time.perf_counter() - started

        parts += [
            "",
            f"### Shipped settings on a {sound.duration_s:.0f} s answer ({speech.words} scripted words)",
            "",
            table(
                ["figure", "value", "target"],
                [
                    [
                        "real-time factor",
                        f"{rtf:.3f} ({elapsed:.1f} s)",
                        f"<= {TARGET_RTF}" + (" met" if rtf <= TARGET_RTF else " MISSED"),
                    ],
                    [
                        "one pass after the end (no live transcription), model loaded",
                        f"{warm_wait:.1f} s",
                        "-",
                    ],
                    ["one pass after the end, model loaded then", f"{cold_wait:.1f} s", "-"],
                    ["filler recall (scripted fillers counted)", f"{hits}/{total}", "-"],
                    ["extra fillers counted", extra, "-"],
                    [
                        "content words recovered",
                        f"{content_recall(speech.script, transcript):.0%}",
                        "-",
                    ],
                    [
                        "pauses over 2 s found",
                        f"{found}/{scripted}, worst start error {worst:.2f} s",
                        "-",
                    ],
                    [
                        "wpm measured / scripted",
                        f"{result.wpm:.0f} / {speech.words / (speech.spans[-1][1] - speech.spans[0][0]) * 60:.0f}",
                        "-",
                    ],
                ],
            ),
            "",
            "Notes the coach would show:",
            "",
            *[f"* {line}" for line in result.notes()],
        ]

        grid = [(p, b, v) for p in (True, False) for b in (1, 5) for v in (True, False)]
        if quick:
            grid = [(True, 1, True), (False, 1, True)]
        rows = []
        for prompt, beam, vad in grid:
            variant = transcribe.LocalWhisper(
                prompt=transcribe.PROMPT if prompt else None, beam_size=beam, vad=vad
            )
            started = time.perf_counter()
            heard = transcribe.transcribe(sound, variant)
            seconds = time.perf_counter() - started
            measured = delivery.measure(heard, budget_s=120)
            h, t, x = filler_score(truth, measured.fillers)
            f, s, w = pause_errors(speech, measured)
            rows.append(
                [
                    "on" if prompt else "off", beam, "on" if vad else "off",
                    f"{seconds / sound.duration_s:.3f}", f"{h}/{t}", x,
                    f"{content_recall(speech.script, heard):.0%}", f"{f}/{s}", f"{w:.2f}",
                ]
            )  # fmt: skip
        parts += [
            "",
            "### Settings grid (shipped: prompt on, beam 1, VAD on)",
            "",
            table(
                [
                    "filler prompt",
                    "beam",
                    "VAD",
                    "RTF",
                    "filler recall",
                    "extra fillers",
                    "content words",
                    "pauses found",
                    "worst start error s",
                ],
                rows,
            ),
        ]

        level_rows = []
        for attenuation in (0, 20, 40, 60):
            quiet = np.round(sound.samples * 10 ** (-attenuation / 20) * 32768) / 32768
            level = audio.loudest_dbfs(quiet.astype(np.float32))
            try:
                heard = transcribe.transcribe(
                    audio.Audio(quiet.astype(np.float32), sound.duration_s, "bench"), whisper
                )
                recall = f"{content_recall(speech.script, heard):.0%}"
            except audio.AudioError:
                recall = "no speech recognised"
            refused = "refused as silent" if level < audio.SILENCE_DBFS else "accepted"
            level_rows.append([f"-{attenuation} dB", f"{level:.0f} dBFS", recall, refused])
        parts += [
            "",
            f"### Silence threshold ({audio.SILENCE_DBFS:.0f} dBFS, loudest 0.5 s window)",
            "",
            table(["attenuation", "loudest window", "content words", "load_audio"], level_rows),
        ]
        parts += ["", live_to_grade(sound, speech, whisper)]
    return "\n".join(parts) + "\n"


TARGET_WAIT_S = 5.0
BLOCK = 1600  # 0.1 s at 16 kHz, what the recorder hands over


def live_to_grade(sound, speech, whisper) -> str:
    """End of speech -> grade on screen for the ~2-minute answer, as `practice --voice` does it: the
    blocks are fed at real-time pace (so this takes as long as the answer), the transcription runs
    while they arrive (LiveTranscription), and after the last block the coach finishes the
    transcript, measures delivery, saves the attempt and grades it offline in a scratch COACH_HOME.
    The first grade of a session loads the grader's models; a later one does not."""
    import os

    from coach.app import Coach
    from coach.config import load_settings

    rows = []
    with tempfile.TemporaryDirectory(prefix="coach-voice-home-") as home:
        os.environ.pop("COACH_CHROMA_URL", None)
        coach = Coach(load_settings(coach_home=Path(home), coach_grader="offline"))
        coach.ensure_ingested()
        question_id = (
            "r2-position-bias"  # any technical question: the grade's cost is what is measured
        )
        for label in ("first answer of a session (grader loads)", "a later answer"):
            live = transcribe.LiveTranscription(whisper)
            started = time.perf_counter()
            for i in range(0, sound.samples.size, BLOCK):
                live.feed(sound.samples[i : i + BLOCK])
                delay = started + (i + BLOCK) / audio.RATE - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            ended = time.perf_counter()
            checked = audio.from_samples(sound.samples.copy(), audio.RATE)
            answer = coach.spoken_answer(checked, 180.0, live)
            heard = time.perf_counter() - ended
            outcome = coach.answer(question_id, answer)
            graded = time.perf_counter() - ended
            recall = content_recall(speech.script, transcribe.Transcript(answer.text))
            rows.append([label, f"{heard:.2f} s", f"{graded:.2f} s", f"{recall:.0%}",
                         f"{outcome.grade.score:.1f}" if outcome.grade else outcome.error])  # fmt: skip
        coach.close()
    ok = all(float(r[2].split()[0]) <= TARGET_WAIT_S for r in rows)
    heading = (
        f"### End of speech -> grade on screen, {sound.duration_s:.0f} s answer fed at real-time pace "
        f"(target <= {TARGET_WAIT_S:g} s: {'met' if ok else 'MISSED'})"
    )
    return "\n".join(
        [
            heading,
            "",
            table(
                [
                    "answer",
                    "-> transcript + delivery",
                    "-> graded (saved first)",
                    "content words",
                    "score",
                ],
                rows,
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="only the prompt on/off pair of the grid"
    )
    args = parser.parse_args(argv)
    print(voice_bench(quick=args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())

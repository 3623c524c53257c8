"""SIGKILL ``avseq run`` 20 times over the same job, then let it finish: same outputs as one clean run.

The runs are forked by ``kill_driver.py`` (torch imported once, not 20 times) and killed while
starting or at a random moment after their next results line.

Between kills, nothing under a final name may be partial: each ``OUTDIR/<id>/`` holds every output
(they appear by one rename), ``summary.json`` parses, and ``results.jsonl`` has at most a torn last line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from avseq.cli import main
from avseq.io.audio import decode_audio
from tests.pipeline.pipeline_helpers import (
    full_pipeline,
    hidden_leftovers,
    make_clip,
    output_files,
    read_results,
)

ROOT = Path(__file__).resolve().parents[2]
KILLS = 20
CLIPS = 24
DRIVER = Path(__file__).with_name("kill_driver.py")
NAMES = {"caption.vtt", "caption.srt", "caption.json", "sound.wav", "features.safetensors", "with_sound.mp4"}


def _check_nothing_partial(out: Path) -> None:
    for folder in {p.parent for p in out.rglob("*") if p.is_file()} - {out}:
        rel = folder.relative_to(out).as_posix()
        if rel.startswith(".staging"):
            continue
        assert {p.name for p in folder.iterdir()} == NAMES, f"partial output folder {rel}"
        assert decode_audio(folder / "sound.wav").wave.shape[1] > 0
        json.loads((folder / "caption.json").read_text())
    if (out / "summary.json").exists():
        json.loads((out / "summary.json").read_text())
    lines = (out / "results.jsonl").read_text().splitlines() if (out / "results.jsonl").exists() else []
    for line in lines[:-1]:
        json.loads(line)


@pytest.mark.slow
def test_twenty_kills_then_finish_equals_an_uninterrupted_run(tmp_path, bundles):
    folder = tmp_path / "in"
    for i in range(CLIPS):
        make_clip(folder / f"c{i:02d}.mp4", seconds=0.5 + 0.25 * (i % 3), seed=i)
    pipeline = full_pipeline(tmp_path, bundles, mux=True)
    args = ["run", str(pipeline), "-i", str(folder), "--batch-size", "2", "--workers", "1", "--quiet"]
    ref, out = tmp_path / "ref", tmp_path / "out"
    assert CliRunner().invoke(main, [*args, "-o", str(ref)]).exit_code == 0
    driver = subprocess.Popen(
        [sys.executable, str(DRIVER), "8", str(out), "--", *args, "-o", str(out)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    where = []
    for _ in range(KILLS):  # the driver forks a run and SIGKILLs it; check the folder between kills
        driver.stdin.write("go\n")
        driver.stdin.flush()
        where.append(json.loads(driver.stdout.readline())["where"])
        _check_nothing_partial(out)
    driver.stdin.close()
    assert driver.wait() == 0
    # Each kill while working lets a file or more finish; under load more finish per round, so
    # ask only for a fair share of kills landing mid-run (rounds after the job ended are no kills).
    assert where.count("working") >= 6, where
    assert CliRunner().invoke(main, [*args, "-o", str(out)]).exit_code == 0
    final = read_results(out)
    assert sorted(r["id"] for r in final) == [f"c{i:02d}" for i in range(CLIPS)]
    assert output_files(out) == output_files(ref) and not hidden_leftovers(out)
    expected = {r["id"]: r for r in read_results(ref)}
    for r in final:
        assert r["captions"] == expected[r["id"]]["captions"]
        for key in ("caption_vtt", "caption_srt"):
            assert (out / r["outputs"][key]).read_text() == (ref / r["outputs"][key]).read_text()
        a, b = (decode_audio(d / r["outputs"]["sound_wav"]).wave for d in (out, ref))
        assert a.shape == b.shape and float((a - b).abs().max()) < 1e-3
    print(f"kills: {len(where)} ({', '.join(f'{k} {where.count(k)}' for k in sorted(set(where)))})")

"""``avseq run`` / ``avseq validate`` in process: exit codes, bad inputs, timeouts, kill + resume."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pipeline.pipeline_helpers import (
    PIPELINES,
    bundle_overrides,
    bundles,  # noqa: F401  (fixture)
    clips,  # noqa: F401  (fixture)
    full_pipeline,
    hidden_leftovers,
    make_clip,
    output_files,
    read_results,
)

ROOT = Path(__file__).resolve().parents[2]


def bad_inputs(folder: Path, good: Path) -> None:
    """Zero bytes, random bytes, a truncated copy of ``good`` and an audio-only file."""
    import torch

    from avseq.io.audio import write_audio

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zero.mp4").write_bytes(b"")
    (folder / "random.mp4").write_bytes(os.urandom(3000))
    data = good.read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    write_audio(folder / "audio_only.wav", torch.zeros(1, 4000), 8000)


def test_validate_prints_the_resolved_graph(invoke, bundles):  # noqa: F811
    sets = [a for o in bundle_overrides(bundles, "caption.yaml") for a in ("--set", o)]
    result = invoke(
        "validate", PIPELINES / "caption.yaml", *sets, "--set", "stages.caption.params.beam_size=5"
    )
    assert result.exit_code == 0, result.output
    assert "caption [caption, batch] <- frames -> text" in result.output
    assert "beam_size=5" in result.output and "fps=4.0" in result.output


def test_bad_pipeline_and_bad_input_exit_2(invoke, tmp_path, bundles, clips):  # noqa: F811
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nstages: [{id: a, type: nope}]\n")
    result = invoke("validate", bad)
    assert result.exit_code == 2 and "stages[0].type: unknown stage type 'nope'; known:" in result.output
    pipeline = full_pipeline(tmp_path, bundles)
    result = invoke("run", pipeline, "-i", tmp_path / "missing", "-o", tmp_path / "out", "--quiet")
    assert result.exit_code == 2 and "no such file, folder" in result.output
    assert not (tmp_path / "out").exists()


def test_address_needs_the_ray_executor(invoke, tmp_path, bundles, clips):  # noqa: F811
    # runs on Ray are tested in tests/pipeline/test_ray_executor.py
    pipeline = full_pipeline(tmp_path, bundles)
    result = invoke("run", pipeline, "-i", clips[0], "-o", tmp_path / "out", "--address", "auto")
    assert result.exit_code == 2 and "--address 'auto' is for --executor ray" in result.output
    assert not (tmp_path / "out").exists()


def test_mixed_good_and_bad_inputs(invoke, tmp_path, bundles, clips):  # noqa: F811
    folder = tmp_path / "in"
    for c in clips:
        (folder / c.name).parent.mkdir(parents=True, exist_ok=True)
        (folder / c.name).write_bytes(c.read_bytes())
    bad_inputs(folder / "bad", clips[2])
    out = tmp_path / "out"
    result = invoke("run", full_pipeline(tmp_path, bundles), "-i", folder, "-o", out, "--quiet")
    assert result.exit_code == 1
    lines = {r["id"]: r for r in read_results(out)}
    assert len(read_results(out)) == 7
    assert {i for i, r in lines.items() if r["status"] == "ok"} == {"clip0", "clip1", "clip2"}
    for name in ("zero", "random", "truncated", "audio_only"):
        r = lines[f"bad/{name}"]
        assert r["status"] == "failed" and r["outputs"] == {}
        assert (
            r["error"]["type"].endswith("Error")
            and r["error"]["message"]
            and "\n" not in r["error"]["message"]
        )
    assert lines["bad/audio_only"]["error"]["type"] == "NoStreamError"
    assert lines["bad/zero"]["error"]["type"] == "NotMediaError"
    assert {p.split("/")[0] for p in output_files(out)} == {"clip0", "clip1", "clip2"}
    assert not hidden_leftovers(out)
    assert json.loads((out / "summary.json").read_text())["counts"]["failed"] == 4


def test_hanging_decode_times_out_and_the_run_goes_on(invoke, tmp_path, bundles, clips, monkeypatch):  # noqa: F811
    from avseq.pipeline.stages.decode import DecodeVideo

    original = DecodeVideo.windows

    def hang(self, path):
        while "hang" in path.name:  # the forked decode workers inherit this patch
            time.sleep(1)
        return original(self, path)

    monkeypatch.setattr(DecodeVideo, "windows", hang)
    folder = tmp_path / "in"
    for name in ("a_hang.mp4", "b.mp4"):
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(clips[0].read_bytes())
    out = tmp_path / "out"
    start = time.monotonic()
    result = invoke(
        "run", full_pipeline(tmp_path, bundles), "-i", folder, "-o", out, "--timeout", "1.5", "--quiet"
    )
    assert time.monotonic() - start < 20
    assert result.exit_code == 1
    lines = {r["id"]: r for r in read_results(out)}
    assert (
        lines["a_hang"]["error"]["type"] == "TimeoutError" and "1.5 s" in lines["a_hang"]["error"]["message"]
    )
    assert lines["b"]["status"] == "ok"


def test_fail_fast_stops_at_the_first_failure(invoke, tmp_path, bundles, clips):  # noqa: F811
    folder = tmp_path / "in"
    bad_inputs(folder, clips[0])
    for i in range(4):
        (folder / f"z{i}.mp4").write_bytes(clips[0].read_bytes())
    out = tmp_path / "out"
    pipeline = full_pipeline(tmp_path, bundles)
    result = invoke("run", pipeline, "-i", folder, "-o", out, "--fail-fast", "--workers", "1", "--quiet")
    assert result.exit_code == 1
    assert any(r["status"] == "failed" for r in read_results(out)) and len(read_results(out)) < 8


def test_limit_and_progress_bar(invoke, tmp_path, bundles, clips):  # noqa: F811
    out = tmp_path / "out"
    result = invoke("run", full_pipeline(tmp_path, bundles), "-i", clips[0].parent, "-o", out, "--limit", "2")
    assert result.exit_code == 0
    assert [r["id"] for r in read_results(out)] == ["clip0", "clip1"]
    assert "2 ok, 0 failed, 0 skipped of 2" in result.output and "file/s" in result.output


def test_a_run_removes_what_a_killed_run_was_writing_and_keeps_the_rest(invoke, tmp_path, bundles, clips):  # noqa: F811
    out = tmp_path / "out"
    args = [
        "run",
        full_pipeline(tmp_path, bundles),
        "-i",
        clips[0].parent,
        "-o",
        out,
        "--limit",
        "1",
        "--quiet",
    ]
    assert invoke(*args).exit_code == 0
    # What a SIGKILL leaves: temporaries of the results/summary rewrite and a staged input folder.
    leftovers = [
        out / ".results.k1ll3d.jsonl",
        out / ".summary.k1ll3d.json",
        out / ".staging" / "ab" / "x.wav",
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("partial")
    mine = [out / ".keep", out / ".results.notes.txt"]
    for path in mine:
        path.write_text("the user's")
    assert invoke(*args).exit_code == 0
    assert not [p for p in leftovers if p.exists()] and not (out / ".staging").exists()
    assert all(p.read_text() == "the user's" for p in mine)


@pytest.mark.slow
def test_kill_and_resume_equals_an_uninterrupted_run(invoke, tmp_path, bundles):  # noqa: F811
    from avseq.io.audio import decode_audio

    folder = tmp_path / "in"
    for i in range(20):
        make_clip(folder / f"c{i:02d}.mp4", seconds=0.5 + 0.25 * (i % 3), seed=i)
    pipeline = full_pipeline(tmp_path, bundles)
    ref, out = tmp_path / "ref", tmp_path / "out"
    args = ["run", pipeline, "-i", folder, "--batch-size", "2", "--workers", "1", "--quiet"]
    assert invoke(*args, "-o", ref).exit_code == 0
    cmd = [sys.executable, "-m", "avseq", *map(str, args), "-o", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_lines(out)) < 4:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {r["id"] for r in _lines(out) if r["status"] == "ok"}
    assert 4 <= len(done_before) < 20
    assert invoke(*args, "-o", out).exit_code == 0
    final = read_results(out)
    assert len(final) == 20 and len({r["id"] for r in final}) == 20
    assert {r["id"] for r in final if r["status"] == "skipped"} == done_before
    assert output_files(out) == output_files(ref)
    expected = {r["id"]: r["captions"] for r in read_results(ref)}
    assert {r["id"]: r["captions"] for r in final} == expected
    for r in final:
        assert (out / r["outputs"]["caption_vtt"]).read_text() == (
            ref / r["outputs"]["caption_vtt"]
        ).read_text()
        a, b = (
            decode_audio(out / r["outputs"]["sound_wav"]).wave,
            decode_audio(ref / r["outputs"]["sound_wav"]).wave,
        )
        assert a.shape == b.shape and float((a - b).abs().max()) < 1e-3


def _lines(out: Path) -> list[dict]:
    path = out / "results.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            rows.append(json.loads(line))
    return rows


def test_hostile_names_stay_inside_outdir(invoke, tmp_path, bundles, clips):  # noqa: F811
    folder = tmp_path / "in"
    names = ["ünï cødé.mp4", "x" * 200 + ".mp4", "semi;colon&$(rm).mp4", ".hidden.mp4", "results.mp4"]
    ids = ["../../evil", "/etc/passwd", "nul\x00id", "ünï cødé"]
    for name in names + [f"m{i}.mp4" for i in range(len(ids))]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(clips[0].read_bytes())
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        "".join(json.dumps({"path": f"in/m{i}.mp4", "id": x}) + "\n" for i, x in enumerate(ids))
    )
    out = tmp_path / "deep" / "out"
    args = ["-i", folder / names[0], "-i", folder / names[1], "-i", str(folder / "[!m]*.mp4")]
    args += ["-i", folder / ".hidden.mp4", "-i", manifest]  # globs skip dot files
    result = invoke("run", full_pipeline(tmp_path, bundles), *args, "-o", out, "--quiet")
    assert result.exit_code == 0, result.output
    lines = read_results(out)
    assert len(lines) == len(names) + len(ids)
    for r in lines:
        assert r["status"] == "ok"
        for p in r["outputs"].values():
            assert (out / p).resolve().is_relative_to(out.resolve()) and (out / p).is_file()
    got = [r["id"] for r in lines]
    assert got[0] == "ünï_cødé" and len(got[1]) <= 80 and got[1].startswith("x" * 60)
    assert got[-4:-1] == ["__/__/evil", "etc/passwd", "nul_id"] and got[-1].startswith("ünï_cødé-")
    assert "_hidden" in got and len(set(got)) == len(got)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "full.yaml", "in", "m.jsonl"]

"""The 50-file version of tools/fuzz_media.py: mutated and hand-made media through ``avseq run``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pipeline.pipeline_helpers import hidden_leftovers
from tools.fuzz_media import fuzz
from tools.fuzzing.corpus import build_corpus
from tools.fuzzing.harness import run_avseq
from tools.fuzzing.headers import set_field


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory) -> tuple[dict, dict[str, dict], Path]:
    """(summary line, results by id, output folder) of one 50-input fuzz run."""
    folder = tmp_path_factory.mktemp("fuzz")
    summary = fuzz(50, seed=7, folder=folder, timeout=60.0, workers=2)
    out = folder / "out"
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    return summary, {r["id"]: r for r in lines}, out


def test_nothing_crashes_hangs_or_goes_unrecorded(fuzzed):
    summary, results, _ = fuzzed
    assert summary["inputs"] == 50 and summary["results_lines"] == 50 and len(results) == 50
    bad = {k: summary[k] for k in ("crashed", "hung", "unclear")}
    assert bad == {"crashed": 0, "hung": 0, "unclear": 0}, summary["examples"]
    assert not summary["run_crashed"] and summary["run_exit_code"] == 1
    assert summary["ok"] >= 4 and summary["failed"] >= 15
    assert summary["ok"] + summary["failed"] == 50
    assert 0 < summary["peak_rss_mb"] < 2048


def test_valid_seeds_work_and_hand_made_cases_fail_with_the_right_error(fuzzed):
    _, results, _ = fuzzed
    for name in ("h264_aac.mp4", "vp9_opus.webm", "h264_flac.mkv", "mpeg4_mp3.avi"):
        assert results[f"seed/{name}"]["status"] == "ok"
    expected = {
        "seed/pcm.wav": ("NoStreamError", "no video stream"),
        "hand/zero_bytes.mp4": ("NotMediaError", "empty"),
        "hand/text_file.mp4": ("NotMediaError", "not a readable media file"),
        "hand/fifo.mp4": ("NotMediaError", "not a regular file"),
        "hand/dev_zero.mp4": ("NotMediaError", "not a regular file"),
        "hand/directory.mp4": ("NotMediaError", "is a directory"),
        "hand/symlink_loop.mp4": ("NotMediaError", "file not found"),
        "hand/huge_duration.mkv": ("ResourceLimitError", "max_duration=14400 s"),
        "hand/huge_resolution_real.mp4": ("ResourceLimitError", "max_pixels=33177600"),
    }
    for case_id, (kind, text) in expected.items():
        error = results[case_id]["error"]
        assert error["type"] == kind and text in error["message"], (case_id, error)
    assert "--set limits.max_duration=" in results["hand/huge_duration.mkv"]["error"]["message"]


def test_only_ok_inputs_have_outputs_and_nothing_is_left_half_written(fuzzed):
    _, results, out = fuzzed
    ok = {i for i, r in results.items() if r["status"] == "ok"}
    written = {p.parent.relative_to(out).as_posix() for p in out.rglob("caption.vtt")}
    assert written == ok
    assert not hidden_leftovers(out)  # no staging or temp names
    for i in ok:
        assert all((out / p).stat().st_size > 0 for p in results[i]["outputs"].values())


def test_the_corpus_is_reproducible_from_its_seed(tmp_path):
    from tools.fuzzing.seeds import make_seeds

    seeds = make_seeds(tmp_path / "seeds")
    a = build_corpus(tmp_path / "a", 30, seed=3, big_frame=False, seeds=seeds)
    b = build_corpus(tmp_path / "b", 30, seed=3, big_frame=False, seeds=seeds)
    assert [c.how for c in a] == [c.how for c in b]
    mutants = [(x, y) for x, y in zip(a, b, strict=True) if x.id.startswith("mut/")]
    assert len(mutants) >= 5 and all(x.path.read_bytes() == y.path.read_bytes() for x, y in mutants)
    hows = " ".join(c.how for c in build_corpus(tmp_path / "c", 80, seed=4, big_frame=False, seeds=seeds))
    for kind in ("bit_flips", "overwrite_range", "truncate", "duplicate_chunk", "drop_chunk", "header "):
        assert kind in hows


def test_header_fields_land_where_the_demuxer_reads_them(tmp_path):
    from avseq.io import probe
    from tools.fuzzing.seeds import make_seeds

    seeds = {p.suffix: p for p in make_seeds(tmp_path / "s")}
    wav = tmp_path / "rate.wav"
    wav.write_bytes(set_field(seeds[".wav"].read_bytes(), ".wav", "fmt.sample_rate", 12345))
    assert probe(wav).audio[0].sample_rate == 12345
    mkv = tmp_path / "long.mkv"
    mkv.write_bytes(set_field(seeds[".mkv"].read_bytes(), ".mkv", "Duration", 7.2e6))  # ms
    assert probe(mkv).duration == pytest.approx(7200.0)
    with pytest.raises(ValueError, match="field 'nope' not found in this .mp4 file; known: avc1.height"):
        set_field(seeds[".mp4"].read_bytes(), ".mp4", "nope", 1)


def test_the_runs_peak_rss_is_its_own_not_its_parents(tmp_path):
    """The fuzz summary's peak RSS is the ``avseq`` child's own (VmHWM, which starts afresh at exec).
    ``ru_maxrss`` reported the spawning process's size instead: 2052 MB for a 0.05 s child of a
    large pytest process, failing the fuzz test's 2 GB bound in the full suite."""
    ballast = bytearray(1 << 30)
    ballast[::4096] = b"x" * (len(ballast) // 4096)  # this process now holds 1 GiB more
    args = ["synth", "-o", str(tmp_path / "clips"), "--n", "1"]
    outcome = run_avseq(args, deadline=120.0, log=tmp_path / "stderr.txt")
    del ballast
    assert outcome.returncode == 0 and not outcome.killed, outcome.stderr
    assert 0 < outcome.peak_rss_mb < 1000, outcome.peak_rss_mb

"""Nothing is written outside the output folder: symlinks planted inside it are not followed."""

from __future__ import annotations

import json

from tests.pipeline.pipeline_helpers import full_pipeline, read_results


def tree(folder):
    """Every path under ``folder`` with its bytes (None for folders), to prove it was not touched."""
    return {p: (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def test_symlinks_planted_in_the_output_folder_are_not_followed(invoke, tmp_path, bundles, clips):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious\n")
    before = tree(victim)
    folder = tmp_path / "in"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "b.mp4").write_bytes(clips[0].read_bytes())
    (folder / "c.mp4").write_bytes(clips[1].read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    (out / "a").symlink_to(victim)  # the id a/b would land in victim/b
    (out / "c").symlink_to(victim)  # replacing out/c must replace the link, not empty victim
    (out / ".staging").symlink_to(victim)  # staging inside victim, then renamed away
    (out / "results.jsonl").symlink_to(victim / "keep.txt")  # appending would write into victim
    result = invoke("run", full_pipeline(tmp_path, bundles), "-i", folder, "-o", out, "--quiet")
    assert tree(victim) == before
    lines = {r["id"]: r for r in read_results(out)}
    assert set(lines) == {"a/b", "c"}
    assert lines["c"]["status"] == "ok" and (out / "c").is_dir() and not (out / "c").is_symlink()
    assert lines["a/b"]["status"] == "failed", lines["a/b"]
    error = lines["a/b"]["error"]
    assert "symlink" in error["message"] and str(out / "a") in error["message"], error
    assert result.exit_code == 1
    assert json.loads((out / "summary.json").read_text())["counts"]["ok"] == 1
    assert not (out / "results.jsonl").is_symlink()

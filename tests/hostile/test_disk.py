"""Full disks and unwritable output folders: the affected files fail clearly, nothing earlier is damaged.

The failures are injected (ENOSPC, EROFS): tests never mount a file system.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from tests.pipeline.pipeline_helpers import full_pipeline, hidden_leftovers, read_results


def copy_clips(clips, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for c in clips:
        (folder / c.name).write_bytes(c.read_bytes())
    return folder


def test_an_unwritable_output_folder_is_one_clear_line(invoke, tmp_path, bundles, clips, monkeypatch):
    """A read-only file system under OUTDIR, injected (tests never mount one): one line, exit 2."""
    inputs = copy_clips(clips[:1], tmp_path / "in")
    ro = tmp_path / "ro"
    ro.mkdir()
    real_mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):
        if self == ro or ro in self.parents:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    for out in (ro, ro / "sub"):
        result = invoke("run", full_pipeline(tmp_path, bundles), "-i", inputs, "-o", out, "--quiet")
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "cannot write to the output folder" in lines[0], result.output
        assert "Read-only file system" in lines[0] and "Traceback" not in result.output


def test_enospc_in_one_sink_fails_that_file_only(invoke, tmp_path, bundles, clips, monkeypatch):
    from avseq.pipeline.stages.sinks import WriteCaptions

    real = WriteCaptions.write

    def full_for_clip1(self, folder, inputs, info):
        if Path(info.path).stem == "clip1":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "caption.vtt"))
        return real(self, folder, inputs, info)

    monkeypatch.setattr(WriteCaptions, "write", full_for_clip1)
    out = tmp_path / "out"
    result = invoke(
        "run",
        full_pipeline(tmp_path, bundles),
        "-i",
        copy_clips(clips, tmp_path / "in"),
        "-o",
        out,
        "--quiet",
    )
    assert result.exit_code == 1
    lines = {r["id"]: r for r in read_results(out)}
    assert [lines[i]["status"] for i in ("clip0", "clip1", "clip2")] == ["ok", "failed", "ok"]
    error = lines["clip1"]["error"]
    assert error["type"] == "MediaError" and "No space left on device" in error["message"]
    assert str(out / "clip1") in error["message"]
    assert not (out / "clip1").exists() and not hidden_leftovers(out)


def test_results_stay_complete_when_the_final_rewrite_hits_a_full_disk(
    invoke, tmp_path, bundles, clips, monkeypatch
):
    import avseq.pipeline.results as results

    def no_space(path, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(results, "write_text_atomic", no_space)
    out = tmp_path / "out"
    result = invoke(
        "run",
        full_pipeline(tmp_path, bundles),
        "-i",
        copy_clips(clips, tmp_path / "in"),
        "-o",
        out,
        "--quiet",
    )
    assert {r["id"] for r in read_results(out) if r["status"] == "ok"} == {"clip0", "clip1", "clip2"}
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1].startswith("error: ")
    assert "summary.json" in result.output and "No space left on device" in result.output


def test_a_full_disk_under_results_jsonl_stops_the_run_in_one_line(
    invoke, tmp_path, bundles, clips, monkeypatch
):
    from avseq.pipeline.results import ResultLog

    real, calls = ResultLog.append, []

    def full_on_second(self, result):
        calls.append(result.id)
        if len(calls) == 2:
            self._file.write = lambda text: (_ for _ in ()).throw(
                OSError(errno.ENOSPC, "No space left on device")
            )
        return real(self, result)

    monkeypatch.setattr(ResultLog, "append", full_on_second)
    out = tmp_path / "out"
    inputs = copy_clips(clips, tmp_path / "in")
    result = invoke(
        "run", full_pipeline(tmp_path, bundles), "-i", inputs, "-o", out, "--quiet", "--workers", "1"
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"error: {out / 'results.jsonl'}: cannot record the result of ")
    assert "No space left on device" in line
    first = read_results(out)[0]  # the result recorded before the disk filled up is intact
    assert first["id"] == calls[0] and first["status"] == "ok"
    assert all((out / p).is_file() for p in first["outputs"].values())

"""``avseq run`` on files whose damage only shows while decoding."""

from __future__ import annotations

from click.testing import CliRunner

from avseq.cli import main
from tests.pipeline.pipeline_helpers import full_pipeline, read_results


def test_a_video_that_decodes_to_no_frame_fails_as_corrupt(tmp_path, bundles, clips, monkeypatch):
    # A fuzzed MP4 (damaged codec parameters) demuxed fine but decoded to zero frames, and the
    # sinks then raised a raw ValueError; the decode workers inherit this patch (fork).
    from avseq.pipeline.stages.decode import DecodeVideo

    real = DecodeVideo.windows

    def nothing_for_b(self, path):
        return iter(()) if path.stem == "b" else real(self, path)

    monkeypatch.setattr(DecodeVideo, "windows", nothing_for_b)
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.mp4", "b.mp4"):
        (folder / name).write_bytes(clips[0].read_bytes())
    out = tmp_path / "out"
    args = ["run", full_pipeline(tmp_path, bundles, window=30), "-i", folder, "-o", out, "--quiet"]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 1
    lines = {r["id"]: r for r in read_results(out)}
    assert lines["a"]["status"] == "ok"
    assert lines["b"]["error"] == {
        "type": "CorruptMediaError",
        "message": f"{folder / 'b.mp4'}: no video frame could be decoded",
    }

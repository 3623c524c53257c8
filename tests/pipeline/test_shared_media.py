"""The full pipeline over the real sample clips in ../shared/media (skips when absent)."""

from __future__ import annotations

import pytest

from avseq.pipeline import expand_inputs, load_pipeline, run_pipeline
from tests.pipeline.pipeline_helpers import full_pipeline, read_results


@pytest.mark.media
def test_every_real_video_works_and_every_bad_file_fails_clearly(tmp_path, bundles, shared_media):
    spec = load_pipeline(full_pipeline(tmp_path, bundles, mux=True, window=8.0), ["workers=2", "timeout=120"])
    inputs = expand_inputs([shared_media])
    out = tmp_path / "out"
    result = run_pipeline(spec, inputs, out, progress=False)
    lines = {r["id"]: r for r in read_results(out)}
    assert len(lines) == len(inputs)
    for item in inputs:
        r = lines[item.id]
        if item.id.startswith("bad/"):
            assert r["status"] == "failed", item.id
            assert r["error"]["type"].endswith("Error") and "\n" not in r["error"]["message"]
            assert not (out / item.id).exists()
        else:
            assert r["status"] == "ok", (item.id, r["error"])
            assert all((out / p).is_file() for p in r["outputs"].values())
            assert r["captions"] and r["duration"] > 1
    assert (
        lines["bad/trunc30__video_features__sample_v_GGSY1Qvo990"]["error"]["type"] == "TruncatedMediaError"
    )
    assert result.counts["failed"] == sum(i.id.startswith("bad/") for i in inputs)

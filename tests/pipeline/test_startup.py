"""A run's start-up never waits for torch: loading and planning a pipeline file are torch-free,
and the decode workers fork before the main process imports torch and never import it.

Each check runs in a fresh interpreter (the test process has torch loaded already).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.pipeline.pipeline_helpers import PIPELINES, SHIPPED_PIPELINES, bundle_overrides

ROOT = Path(__file__).resolve().parents[2]

# Any import of torch fails, naming the avseq lines that led to it.
BLOCK_TORCH = textwrap.dedent(
    """
    import sys, traceback

    class BlockTorch:
        def find_spec(self, name, path, target=None):
            if name == "torch" or name.startswith("torch."):
                stack = traceback.extract_stack()
                chain = [f"{f.filename}:{f.lineno}" for f in stack if "avseq" in f.filename]
                raise ImportError("torch imported via " + " <- ".join(reversed(chain)))

    sys.meta_path.insert(0, BlockTorch())
    """
)


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", SHIPPED_PIPELINES)
def test_loading_planning_and_decoding_never_import_torch(name, bundles, clips, tmp_path):
    overrides = bundle_overrides(bundles, name)
    code = BLOCK_TORCH + textwrap.dedent(
        f"""
        from avseq.pipeline import load_pipeline, describe
        from avseq.pipeline.plan import build_plan
        from avseq.pipeline.stages import make_decoder
        from avseq.pipeline.workers import Window

        spec = load_pipeline({str(PIPELINES / name)!r}, {overrides!r})
        describe(spec)
        plan = build_plan(spec, roles=("source",))
        windows = [m for m in make_decoder(plan)({str(clips[0])!r}) if isinstance(m, Window)]
        assert windows and "torch" not in sys.modules
        print("ok")
        """
    )
    done = _python(code, tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


def test_the_decode_workers_fork_before_torch_loads_and_never_load_it(bundles, clips, tmp_path):
    """A whole run: the workers start before the main process has torch, stay without it (a
    worker that imported torch would fail its file), and the run's outputs are complete."""
    overrides = bundle_overrides(bundles, "caption_and_sound.yaml")
    out = tmp_path / "out"
    code = textwrap.dedent(
        f"""
        import json, sys
        from avseq.pipeline import expand_inputs, load_pipeline, run_pipeline
        from avseq.pipeline import workers

        seen = {{}}
        start = workers.DecodePool.start

        def recording_start(self, tasks):
            seen["torch_at_fork"] = "torch" in sys.modules
            decode = self._decode

            def checked(path):
                for msg in decode(path):
                    if "torch" in sys.modules:
                        raise RuntimeError("the decode worker imported torch")
                    yield msg

            self._decode = checked
            start(self, tasks)

        workers.DecodePool.start = recording_start
        spec = load_pipeline({str(PIPELINES / "caption_and_sound.yaml")!r}, {overrides!r} + ["workers=2"])
        summary = run_pipeline(spec, expand_inputs({[str(c) for c in clips]!r}), {str(out)!r}, progress=False)
        print(json.dumps({{**seen, "counts": summary.counts, "torch_after": "torch" in sys.modules}}))
        """
    )
    done = _python(code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["torch_at_fork"] is False
    assert report["torch_after"] is True  # the models did load, in the main process
    assert report["counts"]["ok"] == len(clips) and report["counts"]["failed"] == 0
    for clip in clips:
        assert (out / clip.stem / "sound.wav").is_file() and (out / clip.stem / "caption.vtt").is_file()

"""The Ray executor on a local 2-CPU Ray instance: same outputs and contract as the local executor."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from avseq.errors import ConfigError
from avseq.pipeline import expand_inputs, load_pipeline, run_pipeline
from avseq.pipeline.outdir_lock import LOCK_NAME
from avseq.pipeline.ray_options import RayOptions
from avseq.pipeline.ray_session import ray_session
from tests.pipeline.pipeline_helpers import full_pipeline, output_files, read_results

ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install 'avseq[ray]'")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")  # Ray's own settings

AUDIO_TOLERANCE = 1e-3  # max abs sample difference: batches differ, so padding and float order do
BAD = {"random", "truncated", "zero"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ray_cluster():
    """One private local Ray instance for the module: 2 CPUs, no dashboard, no usage stats, its
    files in a temp folder of its own (nothing in ~/.ray), as a run that starts Ray gets."""
    with ray_session(ray, RayOptions(address="local"), num_cpus=2, configure_logging=False):
        yield


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, clips) -> Path:
    """A folder of the three good clips plus three bad files (empty, random bytes, truncated)."""
    folder = tmp_path_factory.mktemp("ray_inputs")
    for clip in clips:
        (folder / clip.name).write_bytes(clip.read_bytes())
    (folder / "zero.mp4").write_bytes(b"")
    (folder / "random.mp4").write_bytes(os.urandom(3000))
    data = clips[2].read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    return folder


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, bundles, inputs):
    """The local executor's outputs for ``inputs`` (the reference)."""
    tmp = tmp_path_factory.mktemp("local")
    spec = load_pipeline(full_pipeline(tmp, bundles, mux=True))
    return run_pipeline(spec, expand_inputs([inputs]), tmp / "out", progress=False), tmp / "out"


@pytest.fixture(scope="module")
def ray_run(invoke, ray_cluster, tmp_path_factory, bundles, inputs):
    """``avseq run ... --executor ray`` over ``inputs``: (click result, pipeline file, OUTDIR)."""
    tmp = tmp_path_factory.mktemp("ray")
    pipeline = full_pipeline(tmp, bundles, mux=True)
    return (
        invoke("run", pipeline, "-i", inputs, "-o", tmp / "out", "--executor", "ray"),
        pipeline,
        tmp / "out",
    )


def test_ray_run_matches_the_local_run(ray_run, local_run):
    reference, local_out = local_run
    result, _, out = ray_run
    assert result.exit_code == 1, result.output  # the bad files failed, the job did not
    assert output_files(out) == output_files(local_out) and len(output_files(out)) == 3 * 6
    ray_lines, local_lines = read_results(out), read_results(local_out)
    assert [r["id"] for r in ray_lines] == [r["id"] for r in local_lines]
    for got, want in zip(ray_lines, local_lines, strict=True):
        assert (got["status"], got["outputs"], got["captions"]) == (
            want["status"],
            want["outputs"],
            want["captions"],
        )
        assert got["error"] == want["error"] and (got["status"] == "failed") == (got["id"] in BAD)
        assert got["input"] == want["input"] and got["duration"] == want["duration"]
    summary = json.loads((out / "summary.json").read_text())
    assert (
        summary["counts"]
        == reference.summary["counts"]
        == {"ok": 3, "failed": 3, "skipped": 0, "total": 6, "not_run": 0}
    )
    assert summary["executor"] == "ray" and summary["device"] == "cpu"
    assert {b["version"] for b in summary["bundles"]} == {"test-1"}
    assert summary["ray"]["actors"] == 1 and summary["ray"]["cluster"]["CPU"] == 2
    _assert_same_media(out, local_out)


def _assert_same_media(out: Path, local_out: Path) -> None:
    from safetensors.torch import load_file

    from avseq.io.audio import decode_audio

    for i in range(3):
        got, want = (
            decode_audio(out / f"clip{i}/sound.wav").wave,
            decode_audio(local_out / f"clip{i}/sound.wav").wave,
        )
        assert got.shape == want.shape and float((got - want).abs().max()) < AUDIO_TOLERANCE
        for name in ("caption.vtt", "caption.srt"):
            assert (out / f"clip{i}" / name).read_text() == (local_out / f"clip{i}" / name).read_text()
        a, b = (
            load_file(out / f"clip{i}/features.safetensors"),
            load_file(local_out / f"clip{i}/features.safetensors"),
        )
        assert a["pts"].equal(b["pts"]) and float((a["features"] - b["features"]).abs().max()) < 1e-5


def test_resume_skips_complete_inputs_and_redoes_the_rest(invoke, ray_run, tmp_path, inputs):
    import shutil

    _, pipeline, first = ray_run
    out = tmp_path / "out"
    shutil.copytree(first, out)
    (out / "clip0/sound.wav").unlink()
    result = invoke("run", pipeline, "-i", inputs, "-o", out, "--executor", "ray", "--quiet")
    assert result.exit_code == 1, result.output
    statuses = {r["id"]: r["status"] for r in read_results(out)}
    assert statuses == {"clip0": "ok", "clip1": "skipped", "clip2": "skipped"} | {b: "failed" for b in BAD}
    assert (out / "clip0/sound.wav").is_file() and not (out / ".staging").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"] == {"ok": 1, "failed": 3, "skipped": 2, "total": 6, "not_run": 0}


def test_a_cluster_too_small_for_the_actors_is_a_config_error(ray_cluster, tmp_path, bundles, clips):
    spec = load_pipeline(full_pipeline(tmp_path, bundles), ["executor=ray", "ray.actors=2"])
    with pytest.raises(
        ConfigError, match=r"ray.actors=2 x ray.cpus_per_actor=1 \+ ray.decode_cpus=1 needs 3 CPUs"
    ):
        run_pipeline(spec, expand_inputs([clips[0]]), tmp_path / "out", progress=False)
    assert [p.name for p in (tmp_path / "out").iterdir()] == [LOCK_NAME]  # taken first: nothing else


def test_private_ray_instances_keep_their_files_in_a_temp_folder_they_remove(tmp_path, bundles, clips):
    """Two runs in one process, each starting its own Ray (as the CLI does without an address).

    Ray alone writes ~/.ray/auth_token and leaves $TMPDIR/ray/session_*; Ray caches the token
    it first reads, so the second instance also checks that both runs agree on it."""
    home = tmp_path / "home"
    home.mkdir()
    temp = Path(tempfile.mkdtemp(prefix="avr", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env |= {"HOME": str(home), "TMPDIR": str(temp), "RAY_USAGE_STATS_ENABLED": "0"}
    code = f"""
from avseq.pipeline import expand_inputs, load_pipeline, run_pipeline
spec = load_pipeline({str(full_pipeline(tmp_path, bundles))!r}, ["executor=ray"])
inputs = expand_inputs([{str(clips[0])!r}])
for k in range(2):
    result = run_pipeline(spec, inputs, {str(tmp_path)!r} + f"/out{{k}}", progress=False)
    assert result.counts["ok"] == 1, result.counts
"""
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=400
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert not (home / ".ray").exists()
        assert not [p.name for p in temp.iterdir() if p.name == "ray" or p.name.startswith("avseq-ray-")]
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_section_is_validated(tmp_path, bundles):
    pipeline = full_pipeline(tmp_path, bundles)
    with pytest.raises(ConfigError, match=r"ray.actors: Input should be greater than 0 \(got 0\)"):
        load_pipeline(pipeline, ["ray.actors=0"])
    with pytest.raises(ConfigError, match=r"ray.gpu: unknown key; allowed: address, actors, gpus_per_actor"):
        load_pipeline(pipeline, ["ray.gpu=1"])


def test_without_ray_the_run_says_how_to_install_it(invoke, tmp_path, bundles, clips, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    result = invoke(
        "run", full_pipeline(tmp_path, bundles), "-i", clips[0], "-o", tmp_path / "out", "--executor", "ray"
    )
    assert result.exit_code == 2
    assert (
        "executor 'ray' needs Ray, which is not installed here; install it with: pip install 'avseq[ray]'"
        in (result.output)
    )


def test_the_local_executor_never_imports_ray(tmp_path, bundles, clips):
    code = f"""
import sys
from avseq.cli import run as _cli
from avseq.pipeline import expand_inputs, load_pipeline, run_pipeline
spec = load_pipeline({str(full_pipeline(tmp_path, bundles))!r})
result = run_pipeline(spec, expand_inputs([{str(clips[0])!r}]), {str(tmp_path / "out")!r}, progress=False)
assert result.counts["ok"] == 1, result.counts
print(sorted(m for m in sys.modules if m == "ray" or m.startswith("ray.")))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=Path.cwd()
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_url_output_folders_are_refused_before_anything_runs(tmp_path, bundles, clips):
    spec = load_pipeline(full_pipeline(tmp_path, bundles), ["executor=ray"])
    with pytest.raises(
        ConfigError, match=r"output folder 's3:/bucket/out': URLs \(fsspec, S3\) are not supported"
    ):
        run_pipeline(spec, expand_inputs([clips[0]]), Path("s3://bucket/out"), progress=False)
    assert not Path("s3:").exists()


def test_an_actor_that_cannot_load_its_bundle_stops_the_run_with_its_error(
    ray_cluster, tmp_path, bundles, clips
):
    import shutil

    from avseq.errors import BundleError

    broken = tmp_path / "broken"
    shutil.copytree(bundles["sound"], broken)
    (broken / "weights.safetensors").write_bytes(b"x" * 100)  # bundle.json still validates
    sets = ["executor=ray", f"stages.sound.params.bundle={broken}", f"stages.encode.params.bundle={broken}"]
    spec = load_pipeline(full_pipeline(tmp_path, bundles), sets)
    with pytest.raises(BundleError, match=r"weights.safetensors: checksum differs from bundle.json"):
        run_pipeline(spec, expand_inputs([clips[0]]), tmp_path / "out", progress=False)


@pytest.mark.parametrize("trouble", ["crash", "hang"])
def test_the_decode_step_fails_a_crashing_or_hanging_file_alone(
    tmp_path, bundles, clips, monkeypatch, trouble
):
    import time

    from avseq.pipeline.inputs import InputItem
    from avseq.pipeline.ray_tasks import decode_file
    from avseq.pipeline.stages.decode import DecodeVideo

    def bad(self, path):
        if trouble == "crash":
            os._exit(3)  # as a segfault in a decoder would
        time.sleep(30)

    spec = load_pipeline(full_pipeline(tmp_path, bundles), ["executor=ray", "timeout=0.5"])
    good = decode_file(InputItem("clip0", clips[0]), spec)
    assert good.failure is None and len(good.windows) == good.state.done.windows == 1
    monkeypatch.setattr(DecodeVideo, "windows", bad)  # the forked decode process inherits it
    flight = decode_file(InputItem("clip0", clips[0]), spec)
    assert flight.failure.status == "failed" and not flight.windows
    assert flight.failure.error["type"] == {"crash": "DecoderCrash", "hang": "TimeoutError"}[trouble]

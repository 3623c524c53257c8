"""avseq installed from its wheel, run from a folder outside the checkout: the shipped pipelines
and configs come with it and are found by name (``avseq run caption_and_sound``).

The wheel is built offline from a copy of the source tree in the test's temporary folder and
installed there with ``pip install --target``; nothing outside that folder is written. Skipped
when this interpreter cannot build a wheel without the network (no ``wheel`` package, or a
setuptools older than the one pyproject.toml's build-system requires).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipeline.pipeline_helpers import make_clip

REPO = Path(__file__).resolve().parents[2]
SETUPTOOLS_NEEDED = (61, 0)  # the first setuptools that reads [project] from pyproject.toml


def _wheel_buildable() -> str | None:
    """Why a wheel cannot be built offline here, or None when it can."""
    if importlib.util.find_spec("wheel") is None:
        return "the 'wheel' package is not installed (pyproject.toml's build-system needs it)"
    import setuptools

    version = tuple(int(p) for p in setuptools.__version__.split(".")[:2])
    if version < SETUPTOOLS_NEEDED:
        return f"setuptools {setuptools.__version__} cannot build from pyproject.toml"
    return None


def _pip(*args: str, cwd: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The folder avseq's wheel was installed into (``pip install --target``)."""
    if reason := _wheel_buildable():
        pytest.skip(f"cannot build the wheel offline: {reason}")
    tmp = tmp_path_factory.mktemp("installed")
    source = tmp / "source"  # building writes build/ and *.egg-info next to pyproject.toml
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "avseq", source / "avseq", ignore=shutil.ignore_patterns("__pycache__"))
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(tmp / "dist"), ".", cwd=source)
    (wheel,) = (tmp / "dist").glob("avseq-*.whl")
    _pip("install", "--no-deps", "--no-index", "--target", str(tmp / "site"), str(wheel), cwd=tmp)
    return tmp / "site"


def _avseq(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    cmd = [sys.executable, "-m", "avseq", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_the_installed_wheel_runs_its_shipped_pipelines_by_name(site, tmp_path):
    elsewhere = tmp_path / "elsewhere"  # a working folder outside the checkout
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import avseq; print(avseq.__file__)"],
        cwd=elsewhere, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert Path(where.stdout.strip()).resolve().is_relative_to(site.resolve())

    listed = _avseq(site, elsewhere, "pipelines")
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert names == [
        "caption",
        "caption_and_sound",
        "dense_captions",
        "event_labels",
        "extract_features",
        "sound",
    ]
    for level2 in ("dense_captions", "event_labels"):  # their level-2 bundles are in the wheel too
        valid = _avseq(site, elsewhere, "validate", level2)
        assert valid.returncode == 0 and valid.stdout.rstrip().endswith("ok"), valid.stderr
    configs = _avseq(site, elsewhere, "configs")
    assert configs.returncode == 0 and "sound_synth" in configs.stdout, configs.stderr

    shown = _avseq(site, elsewhere, "pipelines", "show", "caption_and_sound")
    assert shown.stdout == (REPO / "pipelines" / "caption_and_sound.yaml").read_text()

    valid = _avseq(site, elsewhere, "validate", "caption_and_sound")
    assert valid.returncode == 0 and valid.stdout.rstrip().endswith("ok"), valid.stderr

    clip = make_clip(elsewhere / "clip.mp4")
    ran = _avseq(site, elsewhere, "run", "caption_and_sound", "-i", str(clip), "-o", "out", "--quiet",
                 "--set", "device=cpu", "--workers", "1")  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    (line,) = (elsewhere / "out" / "results.jsonl").read_text().splitlines()
    assert json.loads(line)["status"] == "ok"

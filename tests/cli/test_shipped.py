"""The shipped pipelines and configs: listed, printed, and found by name wherever a file is taken."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from avseq.cli import main
from avseq.errors import ConfigError
from avseq.shipped import list_shipped, resolve

REPO = Path(__file__).resolve().parents[2]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("kind, folder", [("pipeline", "pipelines"), ("config", "configs")])
def test_the_listing_names_each_shipped_file_with_its_first_comment_line(kind, folder):
    files = sorted((REPO / folder).glob("*.yaml"))
    done = invoke(f"{kind}s")
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert [line.split()[0] for line in lines] == [p.stem for p in files]
    for line, path in zip(lines, files, strict=True):
        first = path.read_text().splitlines()[0].lstrip("# ").strip()
        assert line.split(None, 1)[1] == first


def test_the_shipped_files_are_the_checkouts_folders():
    """One copy of each file: pipelines/ and configs/ are the package's folders."""
    for kind, folder in (("pipeline", "pipelines"), ("config", "configs")):
        shipped = {f.path.resolve() for f in list_shipped(kind)}
        assert shipped == {p.resolve() for p in (REPO / folder).glob("*.yaml")}


def test_show_prints_the_file_to_start_ones_own(tmp_path):
    done = invoke("pipelines", "show", "sound")
    assert done.exit_code == 0 and done.output == (REPO / "pipelines" / "sound.yaml").read_text()
    own = tmp_path / "my.yaml"
    own.write_text(done.output)
    assert invoke("validate", str(own)).exit_code == 0


def test_a_name_is_resolved_and_a_path_still_wins(tmp_path, monkeypatch):
    assert resolve("pipeline", "caption").resolve() == (REPO / "pipelines" / "caption.yaml").resolve()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "caption").write_text("not a pipeline")
    assert resolve("pipeline", "caption") == Path("caption")
    assert resolve("pipeline", "missing.yaml") == Path("missing.yaml")  # reading it says it is missing


@pytest.mark.parametrize("args", [("validate", "captoin"), ("pipelines", "show", "captoin")])
def test_an_unknown_name_is_refused_with_the_shipped_names(args):
    done = invoke(*args)
    assert done.exit_code == 2
    assert (
        "captoin" in done.output
        and "caption, caption_and_sound, dense_captions, event_labels, extract_features, sound" in done.output
    )


def test_validate_takes_a_shipped_name():
    done = invoke("validate", "caption_and_sound")
    assert done.exit_code == 0 and done.output.rstrip().endswith("ok"), done.output


def test_a_shipped_configs_data_paths_are_relative_to_the_working_directory(tmp_path, monkeypatch):
    """By name, through configs/, or as a copy in the working folder: the same manifests."""
    from avseq.train.config import load_config

    monkeypatch.chdir(tmp_path)
    by_name = load_config("caption_msvd").data.manifests
    assert by_name["train"].resolve() == tmp_path / "data" / "msvd" / "train.jsonl"
    assert load_config(REPO / "configs" / "caption_msvd.yaml").data.manifests == by_name
    (tmp_path / "my.yaml").write_text(invoke("configs", "show", "caption_msvd").output)
    assert {k: p.resolve() for k, p in load_config("my.yaml").data.manifests.items()} == {
        k: p.resolve() for k, p in by_name.items()
    }
    with pytest.raises(ConfigError, match="sound_synth"):
        load_config("sound_synht")


def test_loading_a_pipeline_by_name_never_imports_torch():
    import subprocess
    import sys

    code = (
        "import sys; from avseq.pipeline import load_pipeline; load_pipeline('caption_and_sound'); "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.stdout.strip() == "False", done.stderr

"""Inputs (files, folders, globs, manifests) and the output ids made from them."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from avseq.errors import ConfigError
from avseq.pipeline.ids import assign_ids, safe_id
from avseq.pipeline.inputs import expand_inputs


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("a/b", "a/b"),
        ("../../etc/passwd", "__/__/etc/passwd"),
        ("/abs/path", "abs/path"),
        ("nul\x00byte", "nul_byte"),
        ("..", "__"),
        (".hidden", "_hidden"),
        ("with space & semi;colon", "with_space___semi_colon"),
        ("cafe\u0301/日本語", "caf\u00e9/日本語"),
        ("a\\b", "a/b"),
        ("", "_"),
    ],
)
def test_safe_id(raw, expected):
    assert safe_id(raw) == expected


def test_very_long_names_are_cut_with_a_hash():
    a, b = safe_id("x" * 300), safe_id("x" * 299 + "y")
    assert len(a.encode()) <= 80 and a != b and a.startswith("x" * 60)
    deep = safe_id("/".join(["d"] * 50))
    assert deep.count("/") == 7


@given(st.text(max_size=400))
def test_safe_ids_never_escape(raw):
    sid = safe_id(raw)
    parts = sid.split("/")
    assert not os.path.isabs(sid) and "\x00" not in sid
    assert all(p and p not in (".", "..") and not p.startswith(".") for p in parts)
    assert all(len(p.encode()) <= 80 for p in parts)


def test_collisions_get_distinct_stable_ids():
    raw = ["a b", "a_b", "A_B", "x", "x/y", "results.jsonl"]
    src = [f"/in/{i}" for i in range(len(raw))]
    ids = assign_ids(raw, src)
    assert len({i.casefold() for i in ids}) == len(ids)
    assert ids[0] == "a_b" and ids[1].startswith("a_b-") and ids[2].startswith("A_B-")
    assert ids[3].startswith("x-") and ids[4] == "x/y"
    assert ids[5].startswith("results.jsonl-")
    assert assign_ids(raw, src) == ids


def test_folder_glob_file_and_dedup(tmp_path):
    touch(tmp_path / "in/a.mp4")
    touch(tmp_path / "in/sub/b.MKV")
    touch(tmp_path / "in/notes.txt")
    items = expand_inputs([tmp_path / "in", tmp_path / "in/a.mp4"])
    assert [i.id for i in items] == ["a", "sub/b"]
    items = expand_inputs([str(tmp_path / "in/**/*.MKV"), tmp_path / "in/sub/b.MKV"])
    assert [i.id for i in items] == ["sub/b"]
    assert [i.id for i in expand_inputs([tmp_path / "in"], limit=1)] == ["a"]
    assert [i.id for i in expand_inputs([tmp_path / "in"], exclude=tmp_path / "in/sub")] == ["a"]


def test_manifest_resolves_relative_paths_and_ids(tmp_path):
    touch(tmp_path / "media/c.mp4")
    manifest = tmp_path / "lists/m.jsonl"
    manifest.parent.mkdir()
    rows = [
        {"path": "../media/c.mp4", "id": "clip/../../c"},
        {"path": str(tmp_path / "media/c.mp4")},
        {"path": "../d.mp4"},
    ]
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    items = expand_inputs([manifest])
    assert items[0].id == "clip/__/__/c" and items[0].path == tmp_path / "media/c.mp4"
    assert len(items) == 2 and items[1].path == tmp_path / "d.mp4"


def test_bad_inputs_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such file, folder, glob match or manifest"):
        expand_inputs([tmp_path / "missing.mp4"])
    with pytest.raises(ConfigError, match="the glob matches no file"):
        expand_inputs([str(tmp_path / "*.mp4")])
    bad = tmp_path / "m.jsonl"
    bad.write_text('{"path": "a.mp4"}\n{"id": 3}\n')
    with pytest.raises(ConfigError, match=r"m\.jsonl:2: each line needs"):
        expand_inputs([bad])

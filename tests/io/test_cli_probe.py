import json
import shutil
import subprocess
import sys

from click.testing import CliRunner

from avseq.cli import main


def test_probe_table_and_json(media):
    runner = CliRunner()
    table = runner.invoke(main, ["probe", str(media["gop"])])
    assert table.exit_code == 0, table.output
    assert "32x24" in table.output and "16000 Hz" in table.output
    out = runner.invoke(main, ["probe", "--json", str(media["gop"]), str(media["rot"])])
    docs = json.loads(out.output)
    assert [d["streams"][0]["width"] for d in docs] == [32, 11]


def test_bad_file_prints_one_line_and_exits_1(media):
    result = CliRunner().invoke(main, ["probe", str(media["zero"]), str(media["odd"])])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {media['zero']}: file is empty (0 bytes)"]
    assert "17x11" in result.stdout


def _folder(tmp_path, media):
    """clips/: a good clip, a junk file with a media extension, a text file, and sub/ with a nested clip."""
    root = tmp_path / "clips"
    (root / "sub").mkdir(parents=True)
    shutil.copy(media["odd"], root / "a.mp4")
    (root / "junk.mp4").write_text("<html>not a video</html>")
    (root / "notes.txt").write_text("skipped: not a media extension")
    shutil.copy(media["mkv"], root / "sub" / "b.mkv")
    return root


def test_probe_imports_no_torch(media):
    # A fresh interpreter: the test session itself has torch loaded already.
    code = (
        "import inspect, json, sys\n"
        "from avseq.cli import main\n"
        "try:\n"
        "    main(['probe', '--jsonl', sys.argv[1]])\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "from avseq.io import probe\n"
        "verdict = {'code': code, 'torch': 'torch' in sys.modules, 'probe': inspect.isfunction(probe)}\n"
        "print(json.dumps(verdict))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(media["gop"])], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    *lines, verdict = out.stdout.splitlines()
    assert json.loads(lines[0])["streams"][0]["width"] == 32
    assert json.loads(verdict) == {"code": 0, "torch": False, "probe": True}


def test_jsonl_over_folder_one_line_per_media_file(tmp_path, media):
    root = _folder(tmp_path, media)
    result = CliRunner().invoke(main, ["probe", "--jsonl", str(root)])
    assert result.exit_code == 1
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["path"] for d in docs] == [str(root / n) for n in ("a.mp4", "junk.mp4", "sub/b.mkv")]
    assert docs[0]["streams"][0]["width"] == 17 and docs[2]["container"] == "matroska,webm"
    assert docs[1] == {
        "path": str(root / "junk.mp4"),
        "error": {"type": "NotMediaError", "message": docs[1]["error"]["message"]},
    }
    assert docs[1]["error"]["message"].startswith(f"{root / 'junk.mp4'}: not a readable media file")
    assert result.stderr.splitlines() == [f"error: {docs[1]['error']['message']}"]


def test_jsonl_all_good_exits_0(media):
    result = CliRunner().invoke(main, ["probe", "--jsonl", str(media["gop"]), str(media["m4a"])])
    assert result.exit_code == 0, result.output
    paths = [json.loads(line)["path"] for line in result.stdout.splitlines()]
    assert paths == [str(media["gop"]), str(media["m4a"])]


def test_globs_expand_and_an_empty_glob_is_an_error_line(tmp_path, media):
    root = _folder(tmp_path, media)
    args = ["probe", "--json", str(root / "**" / "*.mkv"), str(root / "*.txt"), str(root / "*.webm")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    docs = json.loads(result.stdout)
    assert docs[0]["path"] == str(root / "sub" / "b.mkv") and "streams" in docs[0]
    assert docs[1]["path"] == str(root / "notes.txt") and docs[1]["error"]["type"] == "NotMediaError"
    assert docs[2] == {
        "path": str(root / "*.webm"),
        "error": {"type": "NotMediaError", "message": f"{root / '*.webm'}: the glob matches no file"},
    }


def test_folder_without_media_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    result = CliRunner().invoke(main, ["probe", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: {tmp_path}: folder holds no media file (known audio/video extensions)"
    ]


def test_json_and_jsonl_are_exclusive(media):
    result = CliRunner().invoke(main, ["probe", "--json", "--jsonl", str(media["gop"])])
    assert result.exit_code == 2
    assert "--json (one document) and --jsonl (one line per file) cannot be combined" in result.stderr

import json

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

from click.testing import CliRunner

from avseq.cli import main


def test_report_command_writes_and_prints_the_path(fake_run):
    result = CliRunner().invoke(main, ["report", str(fake_run)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(fake_run / "report.html")
    assert (fake_run / "report.html").is_file()


def test_report_command_handles_a_training_run(tmp_path):
    (tmp_path / "log.csv").write_text("step,loss\n1,0.5\n2,0.4\n")
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "avseq training report" in (tmp_path / "report.html").read_text()


def test_report_command_error_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: {tmp_path}/results.jsonl: not found; is {tmp_path} an `avseq run` output folder?"
    ]

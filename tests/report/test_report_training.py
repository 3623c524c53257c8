import pytest

from avseq.errors import ReportError
from avseq.report import write_training_report

LOG = """step,epoch,loss,lr,clipped,val_loss,bleu4
10,0,2.5,0.001,1,,
20,0,1.9,0.001,0,2.1,0.12
30,1,1.4,0.0005,0,,
40,1,1.1,0.0005,0,1.6,0.21
"""


def test_training_report_draws_curves_and_tabulates_values(tmp_path):
    (tmp_path / "log.csv").write_text(LOG)
    (tmp_path / "config.yaml").write_text("model: <captioner>\n")
    (tmp_path / "summary.json").write_text('{"task": "caption", "best_step": 40, "device": "cpu"}')
    path = write_training_report(tmp_path)
    html = path.read_text(encoding="utf-8")
    assert path == tmp_path / "report.html"
    assert (tmp_path / "report_curves.png").stat().st_size > 5_000
    assert "<img class='plot' src='report_curves.png'" in html
    # last value, its step, min, max; blank cells are skipped, not read as zero
    assert "<tr><td>val_loss</td><td>1.6</td><td>40</td><td>1.6</td><td>2.1</td></tr>" in html
    assert "<tr><td>bleu4</td><td>0.21</td><td>40</td><td>0.12</td><td>0.21</td></tr>" in html
    assert "<td>epoch</td>" not in html and "<td>clipped</td>" not in html
    assert "<tr><td>best step</td><td>40</td></tr>" in html
    assert "model: &lt;captioner&gt;" in html


def test_single_csv_with_another_name_is_found(tmp_path):
    (tmp_path / "run-7.csv").write_text("step,loss\n1,0.5\n2,0.25\n")
    assert "<td>loss</td><td>0.25</td>" in write_training_report(tmp_path).read_text()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, r"no \.csv file; expected one of log\.csv"),
        ({"a.csv": "step,loss\n", "b.csv": "step,loss\n"}, r"several \.csv files \(a\.csv, b\.csv\)"),
        ({"log.csv": "step,acc\n1,0.5\n"}, r"log\.csv: missing column\(s\) loss; has: step, acc"),
        ({"log.csv": "step,loss\n"}, r"log\.csv: the log has no numeric values yet"),
    ],
)
def test_unusable_run_folders_say_why(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ReportError, match=message):
        write_training_report(tmp_path)

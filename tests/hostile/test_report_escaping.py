"""Input file names reach the HTML report only as text, whatever markup they hold (run + report)."""

from __future__ import annotations

from html.parser import HTMLParser

from click.testing import CliRunner

from avseq.cli import main
from tests.pipeline.pipeline_helpers import full_pipeline

NAMES = ['"><img src=x onerror=alert(2)>.mp4', "' onmouseover='alert(3).mp4", "<i>slanted<i>.mp4"]
# "/" makes this the file "script>.mp4" in the folder "<script>alert(1)<"
SCRIPT = "<script>alert(1)</script>.mp4"


class Markup(HTMLParser):
    """Every tag with its attributes, the text of <script> elements and all visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        (self.scripts if self._in_script else self.text).append(data)


def test_markup_in_input_names_shows_as_text(tmp_path, bundles, clips):
    folder = tmp_path / "in"
    for name in NAMES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(clips[0].read_bytes())
    (folder / SCRIPT).parent.mkdir()
    (folder / SCRIPT).write_bytes(b"")  # fails: its error message shows the whole path
    out = tmp_path / "out"
    runner = CliRunner()
    run = runner.invoke(
        main, ["run", str(full_pipeline(tmp_path, bundles)), "-i", str(folder), "-o", str(out)]
    )
    assert run.exit_code == 1, run.output
    report = runner.invoke(main, ["report", str(out)])
    assert report.exit_code == 0, report.output
    html = (out / "report.html").read_text(encoding="utf-8")
    page = Markup()
    page.feed(html)
    assert not [t for t in page.tags if t[0] == "i"]
    assert not [attrs for t, attrs in page.tags if t == "img" and ("src", "x") in attrs]
    assert not [(t, a) for t, attrs in page.tags for a, _ in attrs if a.startswith("on")]
    assert not [s for s in page.scripts if "alert(" in s]
    text = "".join(page.text)
    for name in NAMES:
        assert name.split("/")[-1] in text, name  # the file name, shown to the reader as written
    assert f"{folder / SCRIPT}: file is empty" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.mp4" in html

"""The report in a real browser: headless Chromium opens it over file:// and plays what it links."""

import base64
from pathlib import Path

from avseq.report import write_report

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Resolves once every video has metadata (or an error), every track and image has loaded.
PROBE = """
new Promise(resolve => {
  const videos = () => [...document.querySelectorAll('video')];
  const ready = () => videos().every(v => v.readyState >= 1 || v.error)
    && [...document.querySelectorAll('track')].every(t => t.readyState >= 2)
    && [...document.images].every(i => i.complete);
  const report = () => resolve({
    videos: videos().map(v => {
      const cues = v.textTracks.length ? v.textTracks[0].cues : null;
      return {duration: v.duration, error: v.error && v.error.code, mode: v.textTracks[0]?.mode,
              cues: cues ? cues.length : 0,
              text: cues && cues.length ? cues[0].getCueAsHTML().textContent : null};
    }),
    images: [...document.images].map(i => ({src: i.getAttribute('src'), width: i.naturalWidth})),
    scripts: document.scripts.length,
  });
  const poll = () => ready() ? report() : setTimeout(poll, 50);
  poll();
  setTimeout(report, 30000);
})
"""


def open_page(browser, path: Path) -> None:
    browser.call("Page.enable")
    browser.call("Network.enable")
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    )
    browser.call("Page.navigate", {"url": path.resolve().as_uri()})
    browser.wait_event("Page.loadEventFired")


def screenshot(browser, name: str) -> Path:
    height = browser.call("Page.getLayoutMetrics")["cssContentSize"]["height"]
    clip = {"x": 0, "y": 0, "width": 1200, "height": min(height, 6000), "scale": 1}
    shot = browser.call(
        "Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True}
    )
    ARTIFACTS.mkdir(exist_ok=True)
    out = ARTIFACTS / name
    out.write_bytes(base64.b64decode(shot["data"]))
    return out


def test_report_plays_in_chromium_from_disk(fake_run, browser):
    open_page(browser, write_report(fake_run))
    state = browser.call(
        "Runtime.evaluate", {"expression": PROBE, "awaitPromise": True, "returnByValue": True}
    )
    state = state["result"]["value"]
    assert len(state["videos"]) == 2
    for video in state["videos"]:
        assert video["error"] is None and video["duration"] > 0.9
        assert video["mode"] == "showing" and video["cues"] == 1
    assert [v["text"] for v in state["videos"]] == ["a red ball bounces twice", "<script>alert(1)</script>"]
    assert len(state["images"]) == 3 and all(i["width"] > 0 for i in state["images"])
    assert state["scripts"] == 0
    assert screenshot(browser, "report.png").stat().st_size > 10_000
    requested = [
        e["params"]["request"]["url"] for e in browser.events if e["method"] == "Network.requestWillBeSent"
    ]
    assert requested and {url.split(":", 1)[0] for url in requested} <= {"file", "data"}  # nothing remote

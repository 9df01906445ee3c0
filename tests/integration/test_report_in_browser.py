"""The HTML drift report opened in a real browser (headless Chromium, Debian's `chromium`; .ci/run installs it):
its three plots decode and are drawn.

Two views of the same page: `--dump-dom` after a small script (added to a copy of the page only, the report itself
carries no script) has written each image's natural size and box into the DOM, and `--screenshot`, whose pixels
inside those boxes must hold the plots' bar colours. A copy whose images are broken is the control: the same
check finds no bars there, so the test can fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from monitoring.drift.plots import DPI, RECENT_COLOR, REFERENCE_COLOR, SIZE_INCHES
from monitoring.drift.report import main
from tests.support.prediction_logs import (
    drifted_predictions,
    log_lines,
    reference_predictions,
    write_log,
    write_reference_bundle,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WINDOW = (1200, 2600)
PROBE = """
<script>
window.addEventListener("load", () => {
  const images = [...document.images].map((img) => {
    const box = img.getBoundingClientRect();
    return {plot: img.dataset.plot, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
            box: [box.left, box.top + window.scrollY, box.right, box.bottom + window.scrollY]};
  });
  document.body.setAttribute("data-probe", JSON.stringify(images));
});
</script>
"""


def browser() -> str:
    """The browser binary: $CHROMIUM, else the first of BROWSERS on PATH; CI must have one, elsewhere skip."""
    found = os.environ.get("CHROMIUM") or next((b for b in BROWSERS if shutil.which(b)), None)
    if found is None:
        message = "no headless Chromium: apt-get install chromium (.ci/run installs it) or set CHROMIUM=/path"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def run_browser(*args: str) -> str:
    command = [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args]
    command += ["--force-device-scale-factor=1", f"--window-size={WINDOW[0]},{WINDOW[1]}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def probe(page: Path) -> list[dict[str, Any]]:
    """Each image's natural size and page box, as the browser loaded them."""
    probed = page.with_name(page.stem + ".probe.html")
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = run_browser("--virtual-time-budget=5000", "--dump-dom", probed.as_uri())
    match = re.search(r'data-probe="([^"]*)"', dom)
    assert match, "the probe script did not run"
    return list(json.loads(match.group(1).replace("&quot;", '"')))


def screenshot(page: Path) -> Image.Image:
    shot = page.with_suffix(".png")
    run_browser(f"--screenshot={shot}", page.as_uri())
    return Image.open(shot).convert("RGB")


def colour_share(image: Image.Image, box: list[float], colour: str, tolerance: int = 40) -> float:
    """Share of the pixels inside `box` within `tolerance` (per channel) of `colour`."""
    target = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    region = image.crop(tuple(round(v) for v in box))
    pixels = list(region.getdata())
    near = sum(all(abs(p[c] - target[c]) <= tolerance for c in range(3)) for p in pixels)
    return near / max(len(pixels), 1)


def non_white_share(image: Image.Image, box: list[float]) -> float:
    region = image.crop(tuple(round(v) for v in box))
    pixels = list(region.getdata())
    return sum(min(p) < 235 for p in pixels) / max(len(pixels), 1)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A drifted report, and a copy of it whose images cannot be decoded (the control)."""
    base = tmp_path_factory.mktemp("browser")
    version = write_reference_bundle(base / "bundle", reference_predictions())
    log = write_log(base / "p.log", log_lines(drifted_predictions(), version))
    page = base / "report.html"
    assert main(["--bundle", str(base / "bundle"), "--log", str(log), "--out", str(page)]) == 1
    broken = base / "broken.html"
    broken.write_text(re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,AAAA", page.read_text()))
    return page, broken


def test_every_plot_decodes_at_its_natural_size(pages: tuple[Path, Path]) -> None:
    images = probe(pages[0])
    assert [i["plot"] for i in images] == ["scores", "labels", "lengths"]
    expected = (round(SIZE_INCHES[0] * DPI), round(SIZE_INCHES[1] * DPI))
    for image in images:
        assert image["complete"], image
        assert (image["width"], image["height"]) == expected, image


def test_the_screenshot_shows_the_bars_where_the_images_are(pages: tuple[Path, Path]) -> None:
    images = probe(pages[0])
    shot = screenshot(pages[0])
    for image in images:
        assert image["box"][3] <= shot.height, f"{image['plot']} lies below the screenshot"
        assert non_white_share(shot, image["box"]) > 0.05, image["plot"]
        assert colour_share(shot, image["box"], RECENT_COLOR) > 0.01, image["plot"]
        assert colour_share(shot, image["box"], REFERENCE_COLOR) > 0.01, image["plot"]


def test_control_broken_images_show_no_bars(pages: tuple[Path, Path]) -> None:
    """The same checks on the page whose images do not decode find nothing: the checks above measure the plots."""
    images = probe(pages[1])
    assert all(i["width"] == 0 for i in images)
    shot = screenshot(pages[1])
    top = min(i["box"][1] for i in images)
    plots_area = [0.0, top, float(shot.width), min(top + 3 * 360.0, float(shot.height))]
    assert colour_share(shot, plots_area, RECENT_COLOR) < 0.001
    assert colour_share(shot, plots_area, REFERENCE_COLOR) < 0.001

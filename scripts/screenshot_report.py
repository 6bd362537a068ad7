"""Render a report in headless Chromium and save a screenshot: the check that the HTML is
self-contained (no network is allowed) and that its charts are legible.

    python scripts/screenshot_report.py report.html [--output report.png] [--width 1280]
        [--height 9000] [--tiles 1600]

Needs Debian's `chromium` (`apt-get install -y chromium`). With --tiles N the page is also cut
into N-pixel-high PNGs (report-1.png, ...) small enough to look at one by one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from typing import List, Optional

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> Optional[str]:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def screenshot(html: str, png: str, width: int = 1280, height: int = 9000, timeout: int = 120) -> str:
    """Write a `width` x `height` screenshot of `html` to `png`; raise if Chromium fails."""
    browser = find_browser()
    if browser is None:
        raise FileNotFoundError("no chromium on PATH (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--hide-scrollbars",
            f"--window-size={width},{height}",
            f"--screenshot={os.path.abspath(png)}",
            "file://" + os.path.abspath(html),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 or not os.path.isfile(png):
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-1000:]}")
    return png


def tiles(png: str, tile_height: int) -> List[str]:
    """Cut the screenshot into horizontal strips, dropping blank ones at the end of the page."""
    import matplotlib.image as mpimg

    image = mpimg.imread(png)
    # The page ends where the last non-white row is.
    content = (image[..., :3] < 0.98).any(axis=(1, 2)).nonzero()[0]
    bottom = min(int(content[-1]) + 20, image.shape[0]) if len(content) else image.shape[0]
    paths = []
    stem = os.path.splitext(png)[0]
    for i, top in enumerate(range(0, bottom, tile_height), start=1):
        path = f"{stem}-{i}.png"
        mpimg.imsave(path, image[top : min(top + tile_height, bottom)])
        paths.append(path)
    return paths


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html")
    parser.add_argument("--output", help="PNG to write (default: the HTML path with .png)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=9000, help="window height: the part of the page captured")
    parser.add_argument("--tiles", type=int, default=0, help="also cut the page into strips this high (pixels)")
    args = parser.parse_args(argv)
    png = args.output or os.path.splitext(args.html)[0] + ".png"
    try:
        screenshot(args.html, png, args.width, args.height)
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"screenshot: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {png}")
    for path in tiles(png, args.tiles) if args.tiles else []:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""docs/images/ for docs/html.md: the U-Net's charts (the SVGs of `--plot`) and a
screenshot of its HTML report in headless Chromium.  With ``--measure MODEL...``: each
model's HTML size and load times instead (what docs/html.md quotes).

    python tools/make_report_images.py                       # regenerate docs/images/
    python tools/make_report_images.py --measure fixtures/unet.onnx ...

Needs the html extra, selenium, and Chromium with chromedriver (/usr/bin by default).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(ROOT, "docs", "images")
UNET = os.path.join("fixtures", "unet.onnx")   # as the page's title shows it (commands run in ROOT)


def onnxinspect(*args: str) -> float:
    """Run the command line; its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "onnxinspect.cli", *args], check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def browser(width: int = 1400, height: int = 2300):  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")),
                            options=options)


def load(driver, path: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(first contentful paint, charts drawn), milliseconds after navigation start."""
    driver.get("file://" + os.path.abspath(path))
    for _ in range(600):
        if driver.find_element("tag name", "body").get_attribute("data-charts") == "drawn":
            break
        time.sleep(0.05)
    fcp = driver.execute_script(
        "return performance.getEntriesByName('first-contentful-paint')[0].startTime")
    return float(fcp), float(driver.execute_script("return window.onnxinspectDrawnMs"))


def images() -> None:
    os.makedirs(IMAGES, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        onnxinspect(UNET, "--format", "json", "--plot", tmp)
        for name in sorted(os.listdir(tmp)):   # the SVGs: a tenth of the PNGs' size
            if name.endswith(".svg"):
                shutil.copy(os.path.join(tmp, name), IMAGES)
        page = os.path.join(tmp, "unet.html")
        onnxinspect(UNET, "--format", "html", "-o", page)
        driver = browser()
        try:
            load(driver, page)
            driver.save_screenshot(os.path.join(IMAGES, "report.png"))
        finally:
            driver.quit()
    print(f"wrote {IMAGES}")


def measure(models: list[str]) -> None:
    driver = browser()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print("| model | nodes | HTML size | onnxinspect --format html | first paint | charts drawn |")
            print("|---|---:|---:|---:|---:|---:|")
            for model in models:
                page = os.path.join(tmp, os.path.basename(model) + ".html")
                model = os.path.abspath(model)
                seconds = onnxinspect(model, "--format", "html", "-o", page)
                fcp, drawn = load(driver, page)
                nodes = driver.find_element("css selector", "#total-nodes .value").text
                print(f"| {os.path.relpath(model, ROOT)} | {nodes} | {os.path.getsize(page) / 2**20:.2f} MiB | "
                      f"{seconds:.2f} s | {fcp / 1000:.2f} s | {drawn / 1000:.2f} s |")
    finally:
        driver.quit()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measure", nargs="+", metavar="MODEL", help="print sizes and load times")
    ns = parser.parse_args()
    measure(ns.measure) if ns.measure else images()

"""--format html, svg and --plot: the page in a real browser (headless Chromium through
selenium), its figures against the JSON report's, escaping, and the -o / --force rules.

The JSON report is the truth for what the page shows; the ranking and filtering truths
are computed here from that JSON."""

import io
import json
import os
import shutil
import sys

import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from onnxinspect.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNET = os.path.join(ROOT, "fixtures", "unet.onnx")
HOSTILE = ["<script>alert(1)</script>", "</script><!--", '"><img src=x onerror=alert(2)>', "a&amp;b"]

pytest.importorskip("vl_convert", reason="the html extra (vl-convert-python) is not installed")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def browser_paths():
    chromium = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"),
                                 shutil.which("google-chrome")) if p and os.path.exists(p)), None)
    driver = next((p for p in ("/usr/bin/chromedriver", shutil.which("chromedriver")) if p and os.path.exists(p)),
                  None)
    return chromium, driver


@pytest.fixture(scope="module")
def browser():
    chromium, driver = browser_paths()
    if chromium is None or driver is None:
        pytest.skip("no Chromium and chromedriver found (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1800"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(driver), options=options)
    yield drv
    drv.quit()


def open_page(drv, path):
    """Load ``path`` from disk, wait for the charts, return the console's errors."""
    from selenium.webdriver.support.ui import WebDriverWait

    drv.get("file://" + os.path.abspath(path))
    WebDriverWait(drv, 20).until(
        lambda d: d.find_element("tag name", "body").get_attribute("data-charts") == "drawn"
        or any(e["level"] == "SEVERE" for e in d.get_log("browser")))
    return [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def unet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("html")
    page = folder / "unet.html"
    result = run(UNET, "--format", "html", "--explain", "-o", page)
    assert result.exit_code == 0, result.output
    report = json.loads(run(UNET, "--format", "json", "--by", "layer").output)
    return page, report


def texts(drv, css):
    return [e.text for e in drv.find_elements("css selector", css)]


def column(drv, n):
    return texts(drv, f"#oi-nodes tbody tr td:nth-child({n})")


@pytest.mark.browser
def test_page_shows_the_json_totals_and_no_errors(browser, unet):
    page, report = unet
    assert os.path.getsize(page) <= 2 * 1024 * 1024
    assert open_page(browser, page) == []
    totals = report["totals"]

    def card(key):
        return browser.find_element("css selector", f"#total-{key} .value").text.replace(",", "").replace("\n", "")

    assert int(card("params")) == totals["params"]
    assert card("flops") == str(totals["flops"])          # symbolic, as in the JSON
    assert card("macs") == str(totals["macs"])
    assert int(card("nodes")) == totals["nodes"] == len(report["nodes"])
    peak = report["memory"]["peak_bytes"]                  # "4718592*N"
    coeff, symbol = peak.split("*")
    assert card("peak") == f"{int(coeff) / 2**20:.2f} MiB × {symbol}"
    body = browser.find_element("tag name", "body").text
    assert "charted at N=1" in body
    assert f"{report['model']['opsets']['ai.onnx']}" in texts(browser, ".facts td")


@pytest.mark.browser
def test_every_chart_has_marks(browser, unet):
    page, _ = unet
    assert open_page(browser, page) == []
    charts = browser.find_elements("css selector", ".chart")
    assert {c.get_attribute("id") for c in charts} == {f"chart-{k}" for k in ("params", "flops", "memory", "ops",
                                                                              "dtypes")}
    for chart in charts:
        marks = chart.find_elements("css selector", "svg g.role-mark path")
        assert marks, chart.get_attribute("id")
        assert any((m.get_attribute("d") or "").strip() for m in marks), chart.get_attribute("id")


@pytest.mark.browser
def test_node_table_sorts_and_filters(browser, unet):
    page, report = unet
    assert open_page(browser, page) == []
    nodes = report["nodes"]
    assert column(browser, 1)[:3] == ["0", "1", "2"]
    header = {th.text.rstrip(" ▲▼"): th for th in browser.find_elements("css selector", "#oi-nodes th")}
    header["Params"].click()                               # numbers sort largest first
    biggest = max(nodes, key=lambda n: n["params"])
    assert column(browser, 2)[0] == biggest["name"]
    assert column(browser, 5)[0].replace(",", "") == str(biggest["params"])
    header["Params"].click()
    assert column(browser, 5)[0] == "0"
    assert len(column(browser, 1)) == min(100, len(nodes))

    box = browser.find_element("css selector", "#oi-nodes input.oi-filter")
    box.send_keys("MaxPool")
    pools = [n["name"] for n in nodes if n["op_type"] == "MaxPool"]
    assert len(pools) == report["totals"]["op_histogram"]["MaxPool"]
    assert sorted(column(browser, 2)) == sorted(pools)
    assert set(column(browser, 3)) == {"MaxPool"}
    assert browser.find_element("css selector", "#oi-nodes .oi-info").text == \
        f"1–{len(pools)} of {len(pools)} (filtered from {len(nodes)})"
    box.clear()
    box.send_keys("no such node")
    assert column(browser, 1) == []
    # --explain: the formulas are in the last column
    assert any("flops" in t.lower() for t in texts(browser, "#oi-nodes th"))


@pytest.mark.browser
def test_layer_tree_opens_onto_its_nodes(browser, unet):
    page, report = unet
    assert open_page(browser, page) == []
    layers = report["layers"]
    from selenium.webdriver.support.ui import WebDriverWait

    details = browser.find_elements("css selector", "#oi-layers details")
    assert len(details) == len(layers)
    i = next(i for i, layer in enumerate(layers) if len(layer["nodes"]) > 1)
    assert details[i].find_element("tag name", "summary").text.startswith(layers[i]["name"])
    details[i].find_element("tag name", "summary").click()
    WebDriverWait(browser, 5).until(lambda d: details[i].find_elements("tag name", "li"))
    items = [e.text for e in details[i].find_elements("tag name", "li")]
    names = {n["index"]: n["name"] for n in report["nodes"]}
    assert [t.split(" ")[1] for t in items] == [names[k] for k in layers[i]["nodes"]]


@pytest.mark.browser
def test_screenshot_is_not_blank(browser, unet, tmp_path):
    image = pytest.importorskip("PIL.Image")
    page, _ = unet
    assert open_page(browser, page) == []
    png = browser.get_screenshot_as_png()
    (tmp_path / "unet.png").write_bytes(png)
    colours = image.open(io.BytesIO(png)).convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50


def hostile_model(path, extra_conv=False):
    """Conv -> Relu whose names are markup; with ``extra_conv`` one more Conv (for a diff)."""
    w = numpy_helper.from_array(__import__("numpy").ones((2, 2, 1, 1), "float32"), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name=HOSTILE[0]),
             helper.make_node("Relu", ["c"], ["y"], name=HOSTILE[1])]
    if extra_conv:
        nodes += [helper.make_node("Conv", ["y", "w"], ["z"], name=HOSTILE[2])]
    graph = helper.make_graph(nodes, HOSTILE[3],
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 4, 4])],
                              [helper.make_tensor_value_info("z" if extra_conv else "y", TensorProto.FLOAT, None)],
                              [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.mark.browser
def test_markup_in_names_renders_as_text(browser, tmp_path):
    model = hostile_model(tmp_path / "evil.onnx", extra_conv=True)
    page = tmp_path / "evil.html"
    assert run(model, "--format", "html", "-o", page).exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert "<img src=x" not in html and "<script>alert" not in html and "</script><!--" not in html
    assert open_page(browser, page) == []
    assert browser.execute_script("return document.images.length") == 0
    assert column(browser, 2) == HOSTILE[:3]
    assert HOSTILE[3] in texts(browser, ".facts td")


@pytest.mark.browser
def test_diff_page(browser, tmp_path):
    before = hostile_model(tmp_path / "a.onnx")
    after = hostile_model(tmp_path / "b.onnx", extra_conv=True)
    page = tmp_path / "diff.html"
    result = run("diff", before, after, "--by", "node", "--format", "html", "-o", page)
    assert result.exit_code == 0, result.output
    truth = json.loads(run("diff", before, after, "--by", "node", "--format", "json").output)
    assert open_page(browser, page) == []
    rows = browser.find_elements("css selector", "#oi-rows tbody tr")
    assert len(rows) == len(truth["rows"]) == 3
    statuses = texts(browser, "#oi-rows tbody td:nth-child(1)")
    assert statuses.count("added") == sum(r["status"] == "added" for r in truth["rows"]) == 1
    assert browser.find_elements("css selector", "#chart-ops svg g.role-mark path")


def test_output_file_is_never_overwritten_without_force(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("mine")
    result = run(UNET, "--format", "html", "-o", target)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"onnxinspect: error: {target}: exists; pass --force to overwrite it, or -o another path"]
    assert target.read_text() == "mine"
    assert run(UNET, "--format", "json", "-o", target, "--force").exit_code == 0
    assert json.loads(target.read_text())["totals"]["nodes"] == 52


def test_bad_model_is_one_line(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    result = run(bad, "--format", "html", "-o", tmp_path / "out.html")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and str(bad) in result.output
    assert not (tmp_path / "out.html").exists()


def test_without_the_extra_one_line_names_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "vl_convert", None)   # import vl_convert raises ImportError
    for args in ([UNET, "--format", "html"], [UNET, "--plot", tmp_path]):
        result = run(*args)
        assert result.exit_code == 2
        assert result.output.strip().splitlines() == [
            "onnxinspect: error: html and svg output need the html extra: pip install 'onnxinspect[html]'"]


def test_plot_and_svg_write_pictures(tmp_path):
    image = pytest.importorskip("PIL.Image")
    result = run(UNET, "--format", "json", "--plot", tmp_path / "plots")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["totals"]["nodes"] == 52
    names = sorted(os.listdir(tmp_path / "plots"))
    assert names == sorted(f"{k}.{e}" for k in ("dtypes", "flops", "memory", "ops", "params") for e in ("png", "svg"))
    for name in names:
        path = tmp_path / "plots" / name
        if name.endswith(".png"):
            assert len(image.open(path).convert("RGB").getcolors(maxcolors=1 << 20)) > 10
        else:
            assert path.read_text().lstrip().startswith("<svg") and "<path" in path.read_text()
    assert run(UNET, "--plot", tmp_path / "plots").exit_code == 2     # files exist: --force needed
    assert run(UNET, "--plot", tmp_path / "plots", "--force").exit_code == 0
    svg = run(UNET, "--format", "svg").output
    assert svg.lstrip().startswith("<svg") and svg.rstrip().endswith("</svg>")
    for title in ("Parameters per layer", "FLOPs per layer", "Activation memory", "Nodes per op type",
                  "Parameter bytes by dtype"):
        assert title in svg


def test_svg_of_a_graph_without_nodes_is_one_line(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    model = tmp_path / "empty.onnx"
    onnx.save(helper.make_model(helper.make_graph([], "empty", [x], [x]),
                                opset_imports=[helper.make_opsetid("", 17)]), str(model))
    result = run(model, "--format", "svg")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"onnxinspect: error: {model}: --format svg: nothing to chart (no nodes, parameters or known sizes)"]
    assert run(model, "--format", "html").output.startswith("<!DOCTYPE html>")

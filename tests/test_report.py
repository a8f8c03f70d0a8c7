"""The report of the tiny workflow, rendered in headless Chromium, and the figure rules' job counts.

The browser test installs Debian's chromium when the tests run as root (as tests/slurm/setup_slurm.sh
installs SLURM) and is skipped with the reason otherwise.
"""

from __future__ import annotations

import copy
import json
import re
import shutil

import pandas as pd
import pytest

from chromium import Browser, BrowserUnavailable, find_chromium, show_result
from conftest import TINY_CONFIG, planned_jobs, snakemake, write_config


@pytest.fixture(scope="module")
def report(tiny_run):
    path = tiny_run / "results" / "report-browser.html"
    snakemake(tiny_run, "--report", str(path))
    return path


@pytest.fixture(scope="module")
def browser():
    try:
        executable = find_chromium()
    except BrowserUnavailable as reason:
        pytest.skip(f"no headless browser: {reason}")
    with Browser(executable) as b:
        yield b


def test_rendered_report_has_description_table_and_comparison(tiny_run, report, browser):
    table = pd.read_csv(tiny_run / "results" / "metrics.csv")
    browser.open(report.resolve().as_uri())

    # the landing page: the workflow description, rendered by the report's React app after load
    text = browser.wait_for("document.querySelector('.prose h1') && document.querySelector('.prose').innerText")
    assert "Part-based representations, compared on the same metrics" in text
    for needle in ("Where to start", "recon_error ↓", "svm_accuracy ↑", "hoyer_atoms descriptive", "digits", "bars", "Lee–Seung"):
        assert needle in text, needle
    # the report centres its pane: without the description's "safe center" a long page loses its top
    assert browser.evaluate("document.querySelector('.prose h1').getBoundingClientRect().top") >= 0
    # "where to start" links open the categories
    browser.evaluate("Array.from(document.querySelectorAll('.prose a')).find(a => a.innerText === 'Comparison').click()")
    browser.wait_for("app.state.category === 'Comparison'")

    # the metrics table page, shown as its eye button shows it: an iframe with one row per grid point
    assert show_result(browser, "results/metrics.html") == "html"
    browser.wait_for("document.querySelector('iframe') !== null")
    frame = browser.frame_context()
    rows = "Array.from(document.querySelectorAll('#metrics tbody tr')).map(r => Array.from(r.cells).map(c => c.innerText))"
    browser.wait_for(f"{rows}.length === {len(table)}", context_id=frame)
    header = browser.evaluate("Array.from(document.querySelectorAll('#metrics th')).map(h => h.innerText)", frame)
    assert header[:3] == ["dataset", "model", "family"] and "recon_error ↓" in header and "svm_accuracy ↑" in header
    shown = pd.DataFrame(browser.evaluate(rows, frame), columns=header)
    assert sorted(zip(shown["dataset"], shown["model"])) == sorted(zip(table["dataset"], table["model"]))
    assert set(shown["k"]) == {"8"}  # integers stay integers

    # sorting: a click on recon_error's header orders the rows by it
    column = header.index("recon_error ↓")
    browser.evaluate(f"document.querySelectorAll('#metrics th')[{column}].click()", frame)
    ordered = [float(r[column]) for r in browser.evaluate(rows, frame)]
    assert ordered == sorted(ordered) and len(ordered) == len(table)

    # the cross-model figures: four per dataset, each decoded as an image
    categories = browser.evaluate("categories")
    assert set(categories["Comparison"]) == {"digits", "bars"}
    for dataset, paths in categories["Comparison"].items():
        names = sorted(p.rsplit("/", 1)[1] for p in paths)
        assert names == ["metrics.png", "table.png", "tradeoff.png", "train_seconds.png"], (dataset, names)
        for path in paths:
            assert show_result(browser, path) == "img"
            width = browser.wait_for(
                f"(() => {{ const i = Array.from(document.images).find(i => i.src === results[{path!r}].data_uri);"
                " return i && i.complete && i.naturalWidth; })()"
            )
            assert width > 100
    captions = browser.evaluate("Object.values(results).map(r => r.caption).join(' ')")
    assert "Pareto front" in captions and "better" in captions


def test_shown_images_span_classes_and_match_across_models(tiny_run):
    """Each digits point's figures show the same pick of test images, spread over the classes."""
    picks = {}
    for log in sorted((tiny_run / "results" / "logs" / "evaluate_model" / "digits").glob("**/*.log")):
        match = re.search(r"test images shown: (\[[\d, ]+\]) \(labels (\[[\d, ]+\])\)", log.read_text())
        assert match, log
        picks[log] = (match.group(1), json.loads(match.group(2)))
    assert len(picks) == 4  # pca, nmf, two AE points
    assert len({indices for indices, _ in picks.values()}) == 1  # the same images in every model's figures
    labels = next(iter(picks.values()))[1]
    assert len(labels) == TINY_CONFIG["figures"]["n_reconstructions"] and len(set(labels)) == len(labels)


def test_figure_jobs_of_a_fresh_run(tmp_path):
    """One metric-vs-hyperparameter figure per (dataset, model) whose grid varies (the AE's; PCA and
    NMF have one point each), one comparison job per dataset, one penalties figure, one HTML table."""
    write_config(tmp_path, TINY_CONFIG)
    jobs = planned_jobs(tmp_path)
    assert {rule: jobs.get(rule) for rule in ("plot_metrics", "plot_comparison", "plot_penalties", "render_metrics_table")} == {
        "plot_metrics": 2,
        "plot_comparison": 2,
        "plot_penalties": 1,
        "render_metrics_table": 1,
    }


def test_editing_a_one_point_model_redraws_no_other_models_figure(tiny_run, tmp_path):
    workdir = tmp_path / "edit"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    config = copy.deepcopy(TINY_CONFIG)
    config["models"][0]["grid"]["k"] = [6]  # PCA's one point, on both datasets
    write_config(workdir, config)
    assert planned_jobs(workdir) == {
        "train_model": 2,
        "evaluate_model": 2,
        "aggregate_metrics": 1,
        "check_claims": 1,
        "render_metrics_table": 1,
        "plot_comparison": 2,  # the datasets' cross-model figures draw PCA's rows; the AE's own figures do not
        "all": 1,
    }


def test_the_description_page_names_every_data_source_and_model_family():
    # a source or family missing from report/workflow.rst prints as its bare key on the landing page
    from pathlib import Path

    from partbased.data import SOURCES
    from partbased.models import MODELS

    text = (Path(__file__).resolve().parents[1] / "report" / "workflow.rst").read_text()
    keys = set(re.findall(r'^\s+"(\w+)": "', text, flags=re.M))
    assert set(SOURCES) <= keys, sorted(set(SOURCES) - keys)
    assert set(MODELS) <= keys, sorted(set(MODELS) - keys)

import csv
import itertools

import numpy as np
import pytest

from iml import tables


def fake_run(algorithm, k, seed):
    """A per-run result whose numbers are an arbitrary but known function of the run."""
    paper = 100 - abs(k - 40) + seed * (1 if algorithm == "iml" else -1)
    return {"algorithm": algorithm, "K": k, "seed": seed, "pearson_r": 0.1 * seed + k / 1000,
            "kde": {"paper": {"mean": paper, "std": 0.5},
                    "standard": {"mean": paper / 2, "sem": 0.25, "sigma": 0.2}}}


@pytest.fixture
def runs():
    return [fake_run(a, k, s) for a, k, s in itertools.product(["iml", "vae"], [20, 40, 60], [0, 1, 2])]


def test_summary_by_k(runs):
    summary = tables.summarise_by_k(runs)
    assert [(r["algorithm"], r["K"]) for r in summary] == list(itertools.product(["iml", "vae"], [20, 40, 60]))
    for row in summary:
        group = [r for r in runs if (r["algorithm"], r["K"]) == (row["algorithm"], row["K"])]
        values = [r["kde"]["paper"]["mean"] for r in group]
        assert row["kde_paper_mean"] == pytest.approx(np.mean(values))
        assert row["kde_paper_spread"] == pytest.approx(np.std(values, ddof=1))
        assert row["exact_vs_base_r"] == pytest.approx(np.mean([r["pearson_r"] for r in group]))
        assert row["n_seeds"] == 3


def test_single_seed_spread_falls_back_to_the_runs_own():
    summary = tables.summarise_by_k([fake_run("iml", 20, 0)])
    assert summary[0]["kde_paper_spread"] == 0.5 and summary[0]["kde_standard_spread"] == 0.25


def test_best_over_k_and_paper_numbers(runs):
    best = {r["algorithm"]: r for r in tables.best_over_k(tables.summarise_by_k(runs), "mnist")}
    assert best["iml"]["K_paper"] == 40 and best["iml"]["kde_paper"] == pytest.approx(101)
    assert best["vae"]["kde_paper"] == pytest.approx(99)
    assert best["iml"]["paper_reported"] == 143 and best["vae"]["paper_reported"] == 132


def test_written_formats(runs, tmp_path):
    summary = tables.summarise_by_k(runs)
    paths = [tmp_path / f"t.{ext}" for ext in ("csv", "md", "tex")]
    tables.write_table(summary, "caption with split", *paths)
    rows = list(csv.DictReader(paths[0].open()))
    assert len(rows) == 6 and float(rows[1]["kde_paper_mean"]) == pytest.approx(summary[1]["kde_paper_mean"])
    md = paths[1].read_text()
    assert "caption with split" in md and md.count("\n| iml |") == 3
    assert r"\begin{tabular}" in paths[2].read_text() and r"kde\_paper\_mean" in paths[2].read_text()

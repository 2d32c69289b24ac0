import csv
import itertools
import json

import numpy as np
import pytest

from iml import tables
from iml.data import mnist
from iml.io import save_json, save_npz
from iml.steps import aggregate, evaluate
from tests.helpers import markdown_cells

SPLIT = {"pool": "test_only", "description": "every split from the test images", "counts": {"test": 100}}


def fake_run(algorithm, k, seed, validation_best_k=40):
    """A per-run result whose numbers are an arbitrary but known function of the run. The test
    score peaks at K = 40, the standard convention's validation score at `validation_best_k`."""
    paper = 100 - abs(k - 40) + seed * (1 if algorithm == "iml" else -1)
    validation = 50 - abs(k - validation_best_k)
    return {"algorithm": algorithm, "K": k, "seed": seed,
            "likelihood": {"pearson_r": 0.1 * seed + k / 1000, "pearson_r_without_sigmoid": 0.05 * seed},
            "kde": {"split": SPLIT,
                    "paper": {"mean": paper, "std": 0.5, "sigma": 0.2, "n_per_draw": 1000, "n_draws": 3,
                              "n_test": 100},
                    "standard": {"mean": paper / 2, "sem": 0.25, "sigma": 0.2, "n_samples": 3000, "n_test": 100,
                                 "sigma_grid": [0.1, 0.2, 0.4], "validation_scores": [validation - 5, validation, 0]}}}


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
        assert row["kde_paper_spread_is"] == row["kde_standard_spread_is"] == "std over 3 seeds"
        assert row["exact_vs_base_r"] == pytest.approx(np.mean([r["likelihood"]["pearson_r"] for r in group]))
        assert row["exact_vs_base_r_no_sigmoid"] == pytest.approx(0.05)
        assert row["kde_standard_validation"] == pytest.approx(50 - abs(row["K"] - 40))
        assert row["n_seeds"] == 3


def test_single_seed_spread_is_the_runs_own_and_says_so():
    summary = tables.summarise_by_k([fake_run("iml", 20, 0)])
    assert summary[0]["kde_paper_spread"] == 0.5 and summary[0]["kde_standard_spread"] == 0.25
    assert summary[0]["kde_paper_spread_is"] == "std over 3 draws"
    assert summary[0]["kde_standard_spread_is"] == "s.e. over 100 test images"


def test_paper_k_on_test_standard_k_on_validation():
    runs = [fake_run(a, k, s, validation_best_k=60) for a, k, s in itertools.product(["iml", "vae"], [20, 40, 60],
                                                                                     [0, 1])]
    best = {r["algorithm"]: r for r in tables.best_over_k(tables.summarise_by_k(runs), "mnist")}
    assert best["iml"]["K_paper"] == 40 and best["iml"]["kde_paper"] == pytest.approx(100.5)
    assert best["vae"]["kde_paper"] == pytest.approx(99.5)
    assert best["iml"]["paper_reported"] == 143 and best["vae"]["paper_reported"] == 132
    # the standard column: K chosen where validation peaks (60), the test score reported there
    assert best["iml"]["K_standard"] == 60 and best["iml"]["kde_standard"] == pytest.approx((80 + 81) / 2 / 2)
    assert tables.ranking(list(best.values()), "kde_paper") == "iml > vae"


def test_runs_scored_differently_cannot_share_a_table(runs):
    runs[3]["kde"]["paper"]["sigma"] = 0.3
    with pytest.raises(ValueError, match="iml/K40/seed0 was scored with other KDE settings"):
        tables.summarise_by_k(runs)


def test_written_formats(runs, tmp_path):
    summary = tables.summarise_by_k(runs)
    settings = tables.kde_settings(runs)
    paths = [tmp_path / f"t.{ext}" for ext in ("csv", "md", "tex")]
    tables.write_table(summary, "caption with split", *paths, headers=tables.by_k_headers(summary, settings))
    rows = list(csv.DictReader(paths[0].open()))
    assert len(rows) == 6 and float(rows[1]["kde_paper_mean"]) == pytest.approx(summary[1]["kde_paper_mean"])
    md = paths[1].read_text()
    header, *cells = markdown_cells(md)
    assert "caption with split" in md and [row[0] for row in cells].count("iml") == 3
    assert "± std over 3 seeds" in header and cells[1][3] == f"{summary[1]['kde_paper_mean']:.2f}"
    assert r"\begin{tabular}" in paths[2].read_text() and "without it, the authors' code" in paths[2].read_text()


@pytest.fixture(scope="module")
def small_mnist_dir(tmp_path_factory, shared_data):
    """Real MNIST test images split as the quick preset does, cut down to a few hundred."""
    raw = {name: shared_data / "mnist" / name for name in mnist.POOL_FILES["test_only"]}
    arrays, info = mnist.make_splits(raw, "test_only", {"train": 1000, "validation": 200, "test": 300}, 0)
    data_dir = tmp_path_factory.mktemp("data") / "mnist"  # data/<dataset>/: the folder names the dataset
    data_dir.mkdir()
    save_npz(data_dir / "splits.npz", **arrays)
    save_json(data_dir / "splits.json", info)
    return data_dir


def test_captions_follow_the_settings_used(small_mnist_dir, tmp_path):
    """σ 0.3 and draws of 200: the captions and headers say so, and nothing says 0.2 or 1000."""
    samples = mnist.to_float(np.load(small_mnist_dir / "splits.npz")["x_train"])  # a memoriser as the model
    save_npz(tmp_path / "samples.npz", samples=samples)
    settings = {"block_rows": 128, "block_cols": 256, "paper": {"sigma": 0.3, "n_per_draw": 200, "n_draws": 4},
                "standard": {"n_samples": 800, "sigma_grid": {"min": 0.1, "max": 0.5, "num": 3}}}
    evaluate.kde_scores(small_mnist_dir, tmp_path / "samples.npz", settings, tmp_path / "kde.json")
    kde = json.loads((tmp_path / "kde.json").read_text())
    runs = [{"algorithm": "iml", "K": 5, "seed": 0, "kde": kde, "likelihood": None}]
    out = [tmp_path / f"{name}.{ext}" for name in ("by_k", "table1") for ext in ("csv", "md", "tex")]
    aggregate.make_tables("mnist", runs, out[:3], out[3:], base_notes={"iml": "GMM fitted on 3000 training codes"})
    table1, by_k = out[4].read_text(), out[1].read_text()
    left_out = "the paper's numbers left out (computed with σ = 0.2, log-sum of 1000)"
    header, row = markdown_cells(table1)
    assert left_out in table1 and row[header.index("paper's Table 1")] == "–"  # σ 0.3 is not the paper's
    tex = out[5].read_text()
    for text in (table1.replace(left_out, ""), by_k, tex[: tex.index(r"\midrule")].replace(left_out, "")):
        text = "\n".join(text.splitlines()[:3])  # the caption and the column headers
        assert "σ = 0.3, log-sum over 200 generated samples per draw" in text and "4 disjoint draws" in text
        assert "log-mean over 800 generated samples" in text and "3 log-spaced values in [0.1, 0.5]" in text
        assert "0.2" not in text and "1000 " not in text and "seed 0" in text
        assert "test 300, train 1000, validation 200" in text and "GMM fitted on 3000 training codes" in text
    assert "K selected on the test set (the paper's protocol)" in table1
    assert "K selected on the validation split" in table1
    assert "± std over 4 draws" in header and "± s.e. over 300 test images" in header
    assert "KDE paper convention (σ = 0.3, log-sum of 200)" in header


def test_combined_table1_from_each_datasets_runs(tmp_path):
    """Table 1 with a column per dataset, from the runs' kde.json: the best over K by the paper's
    protocol, the paper's number beside it, a family one dataset lacks left empty."""
    runs = [dict(fake_run(a, k, s), dataset=d) for d, algorithms in (("mnist", ["iml", "vae"]), ("celeba", ["iml"]))
            for a in algorithms for k, s in itertools.product([20, 40], [0, 1])]
    for run in runs:
        save_json(tmp_path / f"{run['dataset']}_{run['algorithm']}_{run['K']}_{run['seed']}.json", run["kde"])
    keys = [{k: run[k] for k in ("dataset", "algorithm", "K", "seed")} for run in runs]
    paths = [tmp_path / f"{r['dataset']}_{r['algorithm']}_{r['K']}_{r['seed']}.json" for r in runs]
    out = [tmp_path / f"table1.{ext}" for ext in ("csv", "md", "tex")]
    aggregate.combined_table1(["mnist", "celeba"], keys, paths, out)
    rows = {r["algorithm"]: r for r in csv.DictReader(out[0].open())}
    assert list(rows) == ["IML", "VAE"]
    assert rows["IML"]["mnist (ours)"] == "100.5 ± 0.7" and rows["IML"]["mnist (paper)"] == "143"  # K 40, seeds 0, 1
    assert rows["IML"]["celeba (paper)"] == "-8318" and rows["VAE"]["celeba (ours)"] == rows["VAE"]["celeba (paper)"] == ""
    assert markdown_cells(out[1].read_text())[2] == ["VAE", "99.5 ± 0.7", "132", "–", "–"]


def test_a_nan_score_in_one_seed_makes_the_mean_nan_not_dropped(runs):
    """A diverged seed must show in the table, not vanish from the mean over seeds."""
    broken = next(r for r in runs if (r["algorithm"], r["K"], r["seed"]) == ("iml", 40, 1))
    broken["kde"]["paper"]["mean"] = float("nan")
    broken["likelihood"]["pearson_r"] = float("nan")
    for run in runs:
        if run["algorithm"] == "vae":
            run["likelihood"] = None  # as the workflow gives it: no Eq. 6 without an inverse
    summary = tables.summarise_by_k(runs)
    row = next(r for r in summary if (r["algorithm"], r["K"]) == ("iml", 40))
    # not the mean of the two finite seeds: NaN, shown as nan, apart from what does not apply (–)
    assert np.isnan(row["kde_paper_mean"]) and np.isnan(row["kde_paper_spread"]) and np.isnan(row["exact_vs_base_r"])
    assert np.isfinite(row["kde_standard_mean"])
    vae = next(r for r in summary if r["algorithm"] == "vae")
    assert vae["exact_vs_base_r"] is None  # no exact likelihood: does not apply
    shown = {(c[0], c[1]): c for c in markdown_cells(tables.to_markdown(summary, "caption"))}
    assert shown[("iml", "40")][3] == "nan" and shown[("vae", "40")][-1] == "–"
    assert "nan" in tables.to_csv(summary).splitlines()[2]  # iml/K40's row (after iml/K20)
    with pytest.raises(ValueError, match="K cannot be selected: the KDE score is NaN for iml/K40"):
        tables.best_over_k(summary, "mnist")  # idxmax would pass over the NaN K silently


def which_base_run(algorithm, base, k, seed, validation_best_k):
    """A run of the which-base experiment; IML variants have Eq. 6 (likelihood.json), VAE not."""
    run = fake_run(algorithm, k, seed, validation_best_k)
    run["likelihood"] = ({**run["likelihood"], "base_mean": 10.0 * k + seed, "exact_mean": -k - seed,
                          "exact_mean_without_sigmoid": 2.0 * k} if algorithm.startswith("iml") else None)
    run["quality"] = {"fid": 100.0 - k + seed, "precision": 0.5, "recall": 0.25 * seed, "n_samples": 100,
                      "n_real": 100, "classifier_test_accuracy": 0.985}
    run["base"] = {"base": base, "fit_seconds": 1.0 + seed, **({"bandwidth": 0.25} if base == "kde" else {})}
    return run


REFS = {"training_images": {"fid": 1.5, "precision": 0.9, "recall": 0.9},
        "mean_image": {"fid": 1000.0, "precision": 1.0, "recall": 0.0}}


def test_which_base_selects_k_on_validation_and_keeps_not_applicable_apart_from_nan(tmp_path):
    runs = [which_base_run("iml_kde", "kde", k, s, 60) for k in (20, 40, 60) for s in (0, 1)]
    runs += [which_base_run("vae", "standard_normal", k, s, 20) for k in (20, 40, 60) for s in (0, 1)]
    runs[0]["quality"]["fid"] = float("nan")  # iml_kde K20 seed 0: a NaN result, not "not applicable"
    best = tables.which_base_best(tables.which_base_by_k(runs))
    assert [(r["algorithm"], r["K"]) for r in best] == [("iml_kde", 60), ("vae", 20)]
    kde, vae = best
    assert kde["exact_ll"] == pytest.approx(-60.5) and kde["exact_ll_std"] == pytest.approx(np.std([-60, -61], ddof=1))
    assert kde["fid"] == pytest.approx(40.5) and kde["choice"] == "bandwidth 0.25" and kde["n_seeds"] == 2
    assert vae["exact_ll"] is None and vae["code_ll"] is None  # no Eq. 6 for the VAE: not applicable
    by_k = tables.which_base_by_k(runs)
    assert np.isnan(next(r for r in by_k if (r["algorithm"], r["K"]) == ("iml_kde", 20))["fid"])

    shown = tables.which_base_display(best, REFS)
    name = tables.WHICH_BASE_SCORES["exact_ll"][0]
    assert shown[0][name] == "-60.50 ± 0.71" and shown[1][name] == "–"
    assert shown[-1]["base"] == "reference: the mean training image" and shown[-1]["FID"] == "1000.00"
    assert shown[-1][name] == "–"
    runs[0]["kde"]["standard"]["validation_scores"] = [float("nan")] * 3
    with pytest.raises(ValueError, match="iml_kde/K20: the standard KDE's validation score is nan"):
        tables.which_base_by_k(runs)


def test_which_base_caption_names_seeds_classifier_and_sizes():
    runs = [which_base_run("iml_flow", "flow", k, s, 40) for k in (20, 40) for s in (0, 1, 2)]
    runs = [{**r, "base": {**r["base"], "best_epoch": 3, "epochs_run": 8}} for r in runs]
    caption = tables.which_base_caption(runs, runs[0]["quality"])
    assert "mean ± std over 3 seeds (seeds 0, 1, 2)" in caption and "of [20, 40]" in caption
    assert "test accuracy 98.50%" in caption and "100 samples against the 100 test images" in caption
    assert "σ = 0.2, log-sum over 1000 generated samples per draw" in caption
    assert tables.which_base_best(tables.which_base_by_k(runs))[0]["choice"] == "epoch 3 of 8"

"""Per-run summaries copied under docs/ and the tables rebuilt from them alone."""

import itertools

import pytest
import yaml

from iml import publish
from iml.bases import build_base, save_base
from iml.io import save_json, save_text
from iml.steps import aggregate
from tests.helpers import REPO, markdown_cells
from tests.test_tables import fake_run


@pytest.fixture
def results(tmp_path):
    """A results folder shaped as the workflow writes it: 2 algorithms x 2 K x 2 seeds, IML with
    likelihood.json and a GMM base, each training with its benchmark file; one unfinished run."""
    root = tmp_path / "results"
    runs = [fake_run(a, k, s) for a, k, s in itertools.product(["iml", "vae"], [20, 40], [0, 1])]
    gmm = build_base("gmm", {"n_components": 2, "max_codes": 3000}, random_state=0)
    gmm.fit(__import__("numpy").random.default_rng(0).standard_normal((50, 2)))
    for run in runs:
        folder = root / "mnist" / run["algorithm"] / f"K{run['K']}" / f"seed{run['seed']}"
        save_json(folder / "kde.json", run["kde"])
        if run["algorithm"] == "iml":
            save_json(folder / "likelihood.json", run["likelihood"])
            save_base(folder / "base.npz", "gmm", gmm)
            save_json(folder / "base.json", {"base": "gmm", **gmm.fitted_summary()})  # as fit_base writes it
        save_text(root / "benchmarks" / "train" / f"mnist_{run['algorithm']}_K{run['K']}_seed{run['seed']}.tsv",
                  f"s\th:m:s\tmax_rss\n{10 + run['K']}.5\t0:00:30\t100\n")
    save_json(root / "mnist" / "iml" / "K60" / "seed0" / "loss.json", {})  # not finished: no kde.json
    return root, runs


def test_tables_from_published_summaries_equal_the_workflows(results, tmp_path):
    root, runs = results
    copied = publish.collect(root, tmp_path / "docs" / "runs")
    assert len(copied) == 8 and "mnist/iml/K20/seed0" in copied
    assert not (tmp_path / "docs" / "runs" / "mnist" / "iml" / "K60").exists()
    publish.assemble(tmp_path / "docs" / "runs", tmp_path / "docs" / "tables")  # no results/ needed

    notes = {"iml": "2-component full GMM fitted on 3000 training codes"}
    direct = [tmp_path / "direct" / f"{n}.{ext}" for n in ("by_k", "table1") for ext in ("csv", "md", "tex")]
    aggregate.make_tables("mnist", [{**r, "likelihood": r["likelihood"] if r["algorithm"] == "iml" else None}
                                for r in runs], direct[:3], direct[3:], base_notes=notes)
    for name, ref in zip(["mnist_kde_by_k", "mnist_table1"], [direct[0], direct[3]]):
        for ext in ("csv", "md", "tex"):
            assert (tmp_path / "docs" / "tables" / f"{name}.{ext}").read_text() == ref.with_suffix(f".{ext}").read_text()
    summary = (tmp_path / "docs" / "tables" / "summary.md").read_text()
    assert "paper convention (K selected on the test set): iml > vae" in summary
    assert ["iml", "4", "40", "30", "50"] in markdown_cells(summary)  # wall times 30.5 and 50.5 s, mean 40.5
    assert (tmp_path / "docs" / "tables" / "mnist_kde_vs_k.png").stat().st_size > 1000


def test_nothing_to_publish_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no finished run"):
        publish.collect(tmp_path, tmp_path / "out")


def test_the_committed_tables_regenerate_byte_for_byte(tmp_path):
    """docs/runs/offline/tables rebuilt from the committed summaries beside them, with the
    workflow's config: every table and summary.md the same bytes (the figure aside: its PNG
    bytes depend on matplotlib's version)."""
    runs = REPO / "docs" / "runs" / "offline"
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    publish.assemble(runs, tmp_path, config)
    committed = sorted(p.name for p in (runs / "tables").iterdir() if p.suffix != ".png")
    assert len(committed) > 10 and sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".png") == committed
    for name in committed:
        assert (tmp_path / name).read_bytes() == (runs / "tables" / name).read_bytes(), name


def test_run_folders_table_names_and_the_which_base_rows_have_one_home():
    """iml.layout: what the rules and publish both name, written once."""
    from iml import layout

    folder = layout.run_folder("mnist", "iml_allcodes", 8, 1)
    assert folder == "mnist/iml_allcodes/K8/seed1"
    assert layout.parse_run(folder) == {"dataset": "mnist", "algorithm": "iml_allcodes", "K": 8, "seed": 1}
    assert layout.parse_run("mnist/iml/K8") is None
    assert layout.run_folder() == "{dataset}/{algorithm}/K{k}/seed{seed}"  # the rules' wildcards
    assert layout.train_benchmark("mnist", "vae", 8, 0) == "benchmarks/train/mnist_vae_K8_seed0.tsv"
    assert layout.table_names("mnist", layout.DATASET_TABLES) == [
        f"mnist_{name}.{ext}" for name in ("kde_by_k", "table1") for ext in ("csv", "md", "tex")]
    config = {"mnist": {"bases": ["iml_flow", "iml"], "algorithms": ["iml", "vae", "gan"]}}
    assert layout.which_base_rows(config) == ["iml_flow", "iml", "vae", "gan"]
    assert layout.bases_only(config) == {"iml_flow"}
    assert layout.which_base_rows({"mnist": {"bases": [], "algorithms": ["iml"]}}) == []


def test_the_committed_audio_table_regenerates_byte_for_byte(tmp_path):
    """docs/runs/audio_paper/tables rebuilt from the audio runs' summaries beside them."""
    runs = REPO / "docs" / "runs" / "audio_paper"
    publish.assemble(runs, tmp_path, yaml.safe_load((REPO / "config.yaml").read_text()))
    for ext in ("csv", "md", "tex"):
        assert (tmp_path / f"audio.{ext}").read_bytes() == (runs / "tables" / f"audio.{ext}").read_bytes(), ext

"""The quick preset end to end under Snakemake, downloading through a mirror on 127.0.0.1."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile
import yaml

from iml import tables
from iml.bases.gmm import DEFAULT_N_COMPONENTS_GRID
from tests.helpers import (
    QUICK_RUN,
    REPO,
    celeba_missing,
    local_snakemake_env,
    markdown_cells,
    skip_or_fail,
    snakemake,
)

pytestmark = pytest.mark.workflow

def test_quick_preset_produces_tables_and_figures(quick_run):
    workdir, proc = quick_run
    out = workdir / "results" / "quick"
    with open(out / "tables" / "mnist_kde_by_k.csv") as f:
        rows = list(csv.DictReader(f))
    algorithms = ["gan", "iml", "vae", "wgan"]
    assert [(r["algorithm"], r["K"]) for r in rows] == [(a, k) for a in algorithms for k in ("10", "20")]
    for row in rows:
        if row["algorithm"] == "iml":
            assert float(row["exact_vs_base_r"]) > 0  # exact and base likelihoods correlate
            assert -1 <= float(row["exact_vs_base_r_no_sigmoid"]) <= 1  # and the authors' way, reported too
        else:
            assert row["exact_vs_base_r"] == ""  # no exact likelihood without an invertible map
    with open(out / "tables" / "mnist_table1.csv") as f:
        best = {r["algorithm"]: float(r["kde_paper"]) for r in csv.DictReader(f)}
    # the paper's headline: a learned base beats the VAE, which beats the GANs
    assert best["iml"] > best["vae"] > max(best["gan"], best["wgan"])
    table1 = (out / "tables" / "mnist_table1.md").read_text()
    assert "test images" in table1  # the split used is named
    assert "iml" in [row[0] for row in markdown_cells(table1)]
    for name in ["mnist_kde_vs_k", "mnist_exact_vs_base", "toy2d", "mnist_two_digits", "mnist_nearest",
                 "mnist_iml_by_component"]:
        for ext in ["png", "pdf"]:
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 1000
    toy = json.loads((out / "figures" / "toy2d.json").read_text())
    fixed, learned, gan = toy["models"]
    assert learned["test_log_likelihood"] > fixed["test_log_likelihood"]  # Fig. 1 (b) beats (a)
    assert learned["test_log_likelihood"] == pytest.approx(toy["true_mixture_test_log_likelihood"], abs=0.05)
    run = out / "mnist" / "iml" / "K10" / "seed0"
    assert (run / "samples.png").exists() and (run / "loss.png").exists()
    assert not (run / "train.ckpt").exists()  # the final model supersedes the checkpoint
    kde = json.loads((run / "kde.json").read_text())
    assert kde["split"]["pool"] == "test_only" and len(kde["paper"]["draws"]) == 3
    log = (out / "logs" / "train" / "mnist_iml_K10_seed0.log").read_text()
    assert re.search(r"epoch 8/8  loss [0-9.]+  [0-9.]+ s  ETA 0 s", log)
    download_log = (out / "logs" / "download_mnist" / "t10k-images-idx3-ubyte.gz.log").read_text()
    assert "127.0.0.1" in download_log and "md5" in download_log


def test_quick_preset_answers_which_base(quick_run):
    workdir, _ = quick_run
    out = workdir / "results" / "quick"
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    with open(out / "tables" / "mnist_which_base.csv") as f:
        rows = {r["algorithm"]: r for r in csv.DictReader(f)}
    bases = config["mnist"]["bases"]
    bases_k = yaml.safe_load((workdir / "presets" / "quick.yaml").read_text())["mnist"]["bases_K"]
    ks = {a: (["10", "20"] if a in config["mnist"]["algorithms"] else [str(k) for k in bases_k]) for a in bases}
    assert list(rows)[: len(bases)] == bases and {"vae", "gan", "wgan"} <= set(rows)
    for algorithm in bases:
        row = rows[algorithm]
        assert row["K"] in ks[algorithm] and row["n_seeds"] == "1"
        for key in ("code_ll", "exact_ll", "exact_ll_no_sigmoid", "kde_paper", "kde_standard", "fid", "precision"):
            assert np.isfinite(float(row[key])), (algorithm, key)
        assert float(row["exact_ll"]) > float(row["exact_ll_no_sigmoid"])  # the sigmoid's term is positive
    assert rows["vae"]["exact_ll"] == ""  # no Eq. 6 without an inverse: not applicable, not NaN
    memoriser, mean_image = (rows[f"reference: {n}"] for n in tables.REFERENCES.values())
    assert float(memoriser["fid"]) < min(float(r["fid"]) for a, r in rows.items() if a in bases) < float(mean_image["fid"])
    assert float(mean_image["recall"]) == 0
    # the learned bases beat the fixed N(0, I) on the codes, by the exact likelihood and by FID
    fixed = rows["iml_standard_normal"]
    assert float(rows["iml"]["exact_ll"]) > float(fixed["exact_ll"]) and float(rows["iml"]["fid"]) < float(fixed["fid"])
    shown = (out / "tables" / "mnist_which_base.md").read_text()
    accuracy = json.loads((out / "metrics" / "classifier.json").read_text())["test_accuracy"]
    assert f"test accuracy {100 * accuracy:.2f}%" in shown and "one seed (seed 0), no spread" in shown
    fitted = json.loads((out / "mnist" / "iml_gmm_auto" / "K10" / "seed0" / "base.json").read_text())
    assert fitted["n_components"] in config["bases"]["gmm"].get("n_components_grid", DEFAULT_N_COMPONENTS_GRID)
    assert fitted["n_validation_codes"] == 500  # chosen on the validation split's codes
    assert (out / "figures" / "mnist_which_base.png").stat().st_size > 1000
    with open(out / "tables" / "mnist_which_base_by_k.csv") as f:
        by_k = [r for r in csv.DictReader(f) if r["algorithm"] in bases]
    assert sorted((r["algorithm"], r["K"]) for r in by_k) == sorted((a, k) for a in bases for k in ks[a])
    assert f"only at K = {bases_k[0]}" in (out / "tables" / "mnist_which_base_by_k.md").read_text()
    for k in ("10", "20"):  # one autoencoder per K: exact and code log-likelihoods differ by the same log-volume
        gaps = [float(r["exact_ll"]) - float(r["code_ll"]) for r in by_k if r["K"] == k]
        assert max(gaps) - min(gaps) < 1e-6 * max(abs(g) for g in gaps)


def check_verdict_and_audit(out):
    """The quick preset's verdict, provenance, memorisation audit and manifold term (a results folder)."""
    with open(out / "verdict.csv") as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    claims = yaml.safe_load((REPO / "iml" / "claims.yaml").read_text())
    assert list(rows) == [c["id"] for c in claims]
    for claim in ("mnist_ranking_paper_convention", "mnist_iml_score", "mnist_eq6_vs_base_correlation",
                  "toy_gmm_base_covers_both_modes", "audio_hmm_at_least_gmm"):
        assert rows[claim]["verdict"] in ("PASS", "FAIL"), claim  # the quick preset produces their results
    assert "single run" in rows["mnist_iml_score"]["ours"] and "not the paper's" in rows["mnist_iml_score"]["ours"]
    assert rows["audio_speech_recognised"]["verdict"] == "NOT RUN"
    shown = (out / "verdict.md").read_text()
    assert "run summaries record their provenance" in shown and "- settings_hash: " in shown
    run = out / "mnist" / "iml" / "K10" / "seed0"
    kde, lik, audit = (json.loads((run / f"{n}.json").read_text()) for n in ("kde", "likelihood", "memorisation"))
    assert kde["provenance"]["settings_hash"] == audit["provenance"]["settings_hash"] == lik["provenance"]["settings_hash"]
    assert set(kde["provenance"]["versions"]) == {"torch", "numpy", "scikit-learn", "hmmlearn", "zuko"}
    assert 0 <= audit["near_copy_fraction"] <= 1 and np.isfinite(audit["c_t"]) and audit["n_samples"] == 1000
    assert audit["base_components"]["components"] == 10  # the quick preset's 10-component GMM
    assert lik["n_manifold"] == 10 and np.isfinite(lik["manifold_term_mean"])
    with open(out / "tables" / "mnist_which_base.csv") as f:
        which = {r["algorithm"]: r for r in csv.DictReader(f)}
    assert 0 <= float(which["iml_kde"]["near_copy"]) <= 100 and np.isfinite(float(which["iml"]["manifold_term"]))
    with open(out / "tables" / "mnist_table1.csv") as f:
        assert all(0 <= float(r["near_copy"]) <= 100 for r in csv.DictReader(f))  # a percentage
    assert (out / "figures" / "mnist_memorisation.png").stat().st_size > 1000


def test_quick_preset_gives_a_verdict_and_a_memorisation_audit(quick_run):
    workdir, _ = quick_run
    check_verdict_and_audit(workdir / "results" / "quick")


def test_tables_rebuild_from_published_summaries_alone(quick_run, tmp_path):
    from iml import publish

    workdir, _ = quick_run
    out = workdir / "results" / "quick"
    publish.collect(out, tmp_path / "runs")
    publish.assemble(tmp_path / "runs", tmp_path / "tables", yaml.safe_load((workdir / "config.yaml").read_text()))
    for dataset in ("mnist", "celeba"):
        for name in ("table1", "kde_by_k"):
            for ext in ("csv", "md", "tex"):
                rebuilt = (tmp_path / "tables" / f"{dataset}_{name}.{ext}").read_text()
                assert rebuilt == (out / "tables" / f"{dataset}_{name}.{ext}").read_text(), (dataset, name, ext)
    for name in ("which_base", "which_base_by_k"):
        for ext in ("csv", "md", "tex"):
            rebuilt = (tmp_path / "tables" / f"mnist_{name}.{ext}").read_text()
            assert rebuilt == (out / "tables" / f"mnist_{name}.{ext}").read_text(), (name, ext)
    summary = (tmp_path / "tables" / "summary.md").read_text()
    assert "Ranking, standard convention (K selected on validation): " in summary
    wgan = next(row for row in markdown_cells(summary) if row[0] == "wgan")
    assert wgan[1] == "2" and wgan[2].isdigit()  # its training wall time, from the benchmark
    for ext in ("csv", "md", "tex"):  # the audio table from the published audio runs
        assert (tmp_path / "tables" / f"audio.{ext}").read_text() == (out / "tables" / f"audio.{ext}").read_text()


def test_a_published_run_gets_the_memorisation_audit_of_its_retrained_run(quick_run, tmp_path):
    """publish audit on a copy of two runs (IML and its flow variant) whose published summaries lack
    memorisation.json: the samples drawn anew from the same base are the evaluation's, so the audit
    gives the workflow's own figures."""
    import shutil

    from iml import publish

    workdir, _ = quick_run
    out, published, retrained = workdir / "results" / "quick", tmp_path / "runs", tmp_path / "results"
    publish.collect(out, published)
    shutil.copytree(out / "data" / "mnist", retrained / "data" / "mnist")
    runs = ["mnist/iml/K10/seed0", "mnist/iml_flow/K10/seed0"]
    for rel in runs:
        (published / rel / "memorisation.json").unlink()
        (retrained / rel).mkdir(parents=True)
        for name in ("model.pt", "base.npz"):
            if (out / rel / name).exists():
                shutil.copy(out / rel / name, retrained / rel / name)
    config = publish._merged([workdir / "config.yaml", workdir / "presets" / "quick.yaml"])
    assert publish.audit(retrained, published, config) == runs
    for rel in runs:
        audited, original = (json.loads((root / rel / "memorisation.json").read_text()) for root in (published, out))
        assert audited["regenerated"] and audited["near_copy_fraction"] == original["near_copy_fraction"], rel
        assert audited["c_t"] == original["c_t"] and audited["base_components"] == original["base_components"]
    assert publish.audit(retrained, published, config) == []  # nothing left to audit


def test_quick_preset_audio_chain(quick_run):
    workdir, _ = quick_run
    out = workdir / "results" / "quick"
    for dataset, seconds in (("fsdd_all", 5), ("violin", 5)):
        wave, rate = soundfile.read(out / dataset / "iml_audio" / "K80" / "seed0" / "generated.wav")
        assert rate == 8000 and wave.ndim == 1 and np.isfinite(wave).all()
        assert abs(len(wave) / rate - seconds) < 0.2 and np.abs(wave).max() > 0.1  # playable, not silent
        for name in ("spectrogram", "reconstruction"):
            assert (out / "figures" / f"{dataset}_{name}.png").stat().st_size > 1000
    with open(out / "tables" / "audio.csv") as f:
        rows = {(r["dataset"], r["algorithm"]): r for r in csv.DictReader(f)}
    algorithms = ["iml_audio", "iml_audio_flow", "iml_audio_gmm", "iml_audio_per_recording"]  # alphabetical
    assert [a for d, a in rows if d == "violin"] == algorithms  # no speech scores: no references
    assert [a for d, a in rows if d == "fsdd_all"][:4] == algorithms
    for dataset in ("fsdd_all", "violin"):
        runs = {a: rows[dataset, a] for a in algorithms}
        for row in runs.values():
            assert all(np.isfinite(float(row[k])) for k in ("ll", "ll_train", "snr_db")) and float(row["snr_db"]) > 0
        hmm = runs["iml_audio"]
        assert hmm["base"] == "hmm (concatenated)" and runs["iml_audio_per_recording"]["base"] == "hmm (per_recording)"
        assert float(hmm["ll_train"]) >= float(hmm["start_gmm_train"])  # EM never lowers the likelihood
        # the flow, a learned frame-wise density, fits the training codes better than the 8-state mixture
        assert float(runs["iml_audio_flow"]["ll_train"]) > float(runs["iml_audio_gmm"]["ll_train"])
        assert runs["iml_audio_flow"]["chose"].startswith("epoch ")
        assert float(hmm["train_s"]) > 0 and runs["iml_audio_flow"]["train_s"] == ""  # it shares the autoencoder
    # the speech scores: every FSDD run's generated audio, then the references; none for the violin
    speech = rows["fsdd_all", "iml_audio"]
    assert float(rows["fsdd_all", "reference: held-out recordings (the target)"]["segments"]) > 250
    for algorithm in algorithms:
        assert float(rows["fsdd_all", algorithm]["segments"]) >= 1, algorithm
    train_ref = rows["fsdd_all", "reference: training recordings (the floor)"]
    noise_ref = rows["fsdd_all", "reference: noise with the data's spectrum"]
    assert float(train_ref["segments"]) > 150  # of 200 recordings
    assert float(train_ref["is"]) > max(1.5, float(noise_ref["is"]))  # real digits vary, noise not
    assert speech["segments"] and rows["violin", "iml_audio"]["segments"] == ""
    violin_flow = json.loads((out / "violin" / "iml_audio_flow" / "K80" / "seed0" / "base.json").read_text())
    assert violin_flow["validation_held_out"].startswith("the last ")  # one recording: its end is held out
    classifier = json.loads((out / "metrics" / "speech_classifier.json").read_text())
    assert classifier["test_accuracy"] >= classifier["accuracy_bar"]
    info = json.loads((out / "data" / "violin" / "splits.json").read_text())
    assert "resampled from 44100 Hz to 8000 Hz" in info["repairs"]


def test_quick_preset_celeba_chain(quick_run, shared_data):
    workdir, _ = quick_run
    out = workdir / "results" / "quick"
    missing = celeba_missing(shared_data)
    if missing:  # the workflow leaves CELEB-A out without its faces
        skip_or_fail(missing)
    info = json.loads((out / "data" / "celeba" / "splits.json").read_text())
    assert info["counts"] == {"train": 44, "validation": 6, "test": 12} and info["pixel_range"] == [-1, 1]
    with open(out / "data" / "celeba" / "crops.csv") as f:
        crops = list(csv.DictReader(f))
    assert len(crops) == 62 and sum(r["found"] == "1" for r in crops) >= 50
    with open(out / "tables" / "table1.csv") as f:
        table1 = {r["algorithm"]: r for r in csv.DictReader(f)}
    assert set(table1) == {"IML", "VAE", "GAN", "WGAN"}
    assert table1["IML"]["celeba (paper)"] == "-8318" and table1["IML"]["mnist (paper)"] == "143"
    for name in ("celeba_nearest", "celeba_iml_by_component"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
    samples = np.load(out / "celeba" / "iml_dcgan" / "K100" / "seed0" / "samples.npz")["samples"]
    assert samples.shape[1] == 12288 and samples.min() >= -1 and samples.max() <= 1


def test_missing_celeba_says_where_to_put_it(quick_run):
    workdir, _ = quick_run
    (workdir / "no_celeba.yaml").write_text(yaml.safe_dump({
        "results_dir": "results/no_celeba", "data": {"celeba": {"source": "data/img_align_celeba.zip"}}}))
    proc = snakemake(workdir, *QUICK_RUN, "no_celeba.yaml", "-n", check=False)
    assert proc.returncode != 0
    assert "CelebA images not found at data/img_align_celeba.zip" in proc.stdout
    assert "put it at exactly data/img_align_celeba.zip" in proc.stdout
    assert not (workdir / "results" / "no_celeba").exists()  # refused before any job


def test_second_run_has_nothing_to_do(quick_run):
    workdir, _ = quick_run
    proc = snakemake(workdir, *QUICK_RUN, "-n")
    assert "Nothing to be done" in proc.stdout


def test_changing_one_k_reruns_only_its_branch(quick_run):
    workdir, _ = quick_run
    (workdir / "k.yaml").write_text(yaml.safe_dump({"mnist": {"K": [10, 15]}}))
    proc = snakemake(workdir, *QUICK_RUN, "k.yaml", "-n")
    outputs = " ".join(re.findall(r"output: (.*)", proc.stdout))
    assert "K15/seed0/model.pt" in outputs and "K15/seed0/kde.json" in outputs
    assert "K10/" not in outputs  # the unchanged branch is cached
    assert "toy2d" not in outputs and "two_digits" not in outputs  # nor what does not depend on K
    assert "preprocess" not in proc.stdout and "download" not in proc.stdout
    assert "mnist_table1.csv" in outputs  # the aggregates follow


def test_changing_a_kde_setting_reruns_only_the_evaluation(quick_run):
    workdir, _ = quick_run
    (workdir / "sigma.yaml").write_text(yaml.safe_dump({"evaluate": {"kde": {"paper": {"sigma": 0.25}}}}))
    proc = snakemake(workdir, *QUICK_RUN, "sigma.yaml", "-n")
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout.split("Job stats:")[1].split("Reasons:")[0], re.M))
    assert {"evaluate_exact", "evaluate_scored", "make_tables", "which_base"} <= set(jobs)
    assert not {"train", "fit_base", "train_classifier", "preprocess_mnist"} & set(jobs)  # no retraining, no refit


def test_report_holds_every_figure_and_table(quick_run):
    workdir, _ = quick_run
    snakemake(workdir, *QUICK_RUN, "--report", "report.html")
    html = (workdir / "report.html").read_text(errors="replace")
    for name in ["mnist_kde_vs_k.png", "mnist_exact_vs_base.png", "mnist_table1.csv", "mnist_kde_by_k.csv",
                 "toy2d.png", "mnist_two_digits.png", "mnist_nearest.png", "mnist_iml_by_component.png"]:
        assert name in html


def test_killed_training_job_resumes_from_its_checkpoint(workflow_dir):
    """Snakemake and its training job killed at once, as a crash or an OOM kill would: after
    --unlock, a plain rerun (the default profile's --rerun-incomplete) resumes the job from its
    checkpoint. (That a resumed training ends where an uninterrupted one does: tests/test_training.py.)
    Its own results_dir in the shared working copy, so the raw downloads are reused."""
    run = "results/killed/mnist/iml/K10/seed0"
    (workflow_dir / "long.yaml").write_text(yaml.safe_dump({"results_dir": "results/killed", "mnist": {"K": [10]},
                                                            "algorithms": {"iml": {"train": {"epochs": 25}}}}))
    args = [f"{run}/model.pt", *QUICK_RUN, "long.yaml"]  # target first: --configfile is greedy
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", *args], cwd=workflow_dir, start_new_session=True,
                            env=local_snakemake_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = workflow_dir / run / "train.ckpt"
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(1.5)  # another epoch or so
    assert proc.poll() is None, "training finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not (workflow_dir / run / "model.pt").exists()
    snakemake(workflow_dir, *args, "--unlock")  # a killed snakemake leaves its lock behind
    snakemake(workflow_dir, *args)
    log = (workflow_dir / "results/killed/logs/train/mnist_iml_K10_seed0.log").read_text()
    resumed = re.search(r"resuming from \S+ after epoch (\d+) of 25", log)
    assert resumed and int(resumed.group(1)) >= 1
    assert (workflow_dir / run / "model.pt").exists() and not ckpt.exists()

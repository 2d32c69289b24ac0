"""Aggregation over runs: the tables (Table 1, KDE by K, audio) and Fig. 3 from every run's results."""

import logging

from iml import bases, plots, tables
from iml.data import display_images
from iml.io import load_json, load_npz, save_text

log = logging.getLogger("iml")


def best_table(dataset, runs, families=None):
    """(summary by K, the runs' KDE settings, Table 1 rows: the best over K per algorithm)."""
    summary, settings = tables.summarise_by_k(runs), tables.kde_settings(runs)
    return summary, settings, tables.best_over_k(summary, dataset, tables.comparable_with_paper(settings), families)


def make_tables(dataset, runs, by_k_paths, table1_paths, base_notes=None, families=None):
    """runs: dicts of algorithm, K, seed, kde (loaded kde.json), likelihood (likelihood.json or None).
    base_notes: {algorithm: how its base was fitted}, named in the captions."""
    summary, settings, best = best_table(dataset, runs, families)
    by_k_caption, table1_caption = tables.captions(dataset, runs, summary, best, base_notes)
    tables.write_table(summary, by_k_caption, *by_k_paths, headers=tables.by_k_headers(summary, settings))
    tables.write_table(best, table1_caption, *table1_paths, headers=tables.table1_headers(best, settings))
    log.info("ranking, paper convention (K on test): %s; standard convention (K on validation): %s",
             tables.ranking(best, "kde_paper"), tables.ranking(best, "kde_standard"))


def combined_table1(datasets, run_keys, kde_paths, out_paths, families=None):
    """Table 1 with a column per dataset, from the runs' kde.json (run_keys: dicts with dataset)."""
    runs = load_runs(run_keys, kde_paths, {})
    per_dataset = {d: best_table(d, [r for r in runs if r["dataset"] == d], families)[2] for d in datasets}
    tables.write_combined_table1(per_dataset, out_paths, families)


def run_key(run):
    return run["algorithm"], run["K"], run["seed"]


def load_runs(run_keys, kde_paths, likelihood_paths, **more_paths):
    """Per-run results: each run's kde.json, its likelihood.json where `likelihood_paths`
    (run_key -> likelihood.json) has one, and each of `more_paths` (name -> a JSON file per run,
    in the order of run_keys) under its name."""
    runs = []
    for i, (key, path) in enumerate(zip(run_keys, kde_paths, strict=True)):
        lik = likelihood_paths.get(run_key(key))
        more = {name: load_json(paths[i]) for name, paths in more_paths.items()}
        runs.append({**key, "kde": load_json(path), "likelihood": load_json(lik) if lik else None, **more})
    return runs


def make_figures(dataset, runs, likelihood_arrays, kde_vs_k_paths, scatter_paths):
    summary = tables.summarise_by_k(runs)
    d = tables.describe(tables.kde_settings(runs), {r["seed"] for r in runs})
    plots.kde_vs_k(summary, kde_vs_k_paths, d, split_note=f"{dataset.upper()}: {d['data']}")
    plots.likelihood_scatter([{**key, **load_npz(path)} for key, path in likelihood_arrays], scatter_paths)


def audio_scores_row(scores):
    """Per base: held-out and training (_train) log-likelihood per frame; per frame base, what it
    chose (flow_best_epoch, dpgmm_components_kept)."""
    held_out, training = scores["log_likelihood_per_frame"], scores["train_log_likelihood_per_frame"]
    names = sorted(held_out, key=lambda name: AUDIO_BASE_ORDER.index(name))  # JSON keys come back sorted
    chosen = {f"{name}_{choice}": scores["frame_bases"][name][choice] for name in names
              for choice in bases.spec(name).chooses.values() if choice in scores["frame_bases"].get(name, {})}
    return {**{name: held_out[name] for name in names}, **{f"{name}_train": training[name] for name in names},
            **chosen}


def audio_table(datasets, score_paths, info_paths, table_paths, speech_paths=None):
    """One row per audio dataset: log-likelihood per frame under each base, held-out and on the
    training codes; what the frame bases chose; the HMM's training sequence and EM's iterations; the
    reconstruction SNR; and, for the datasets in `speech_paths` ({dataset: speech_scores.json}),
    the speech scores of the generated audio and of its references (speech_row)."""
    rows, fractions, accuracies = [], set(), set()
    speech_paths = speech_paths or {}
    for dataset, score_path, info_path in zip(datasets, score_paths, info_paths):
        scores, info = load_json(score_path), load_json(info_path)
        validation = scores["frame_bases_validation"]
        fractions.add(validation["fraction"])
        speech = load_json(speech_paths[dataset]) if dataset in speech_paths else None
        if speech:
            accuracies.add(speech["classifier_accuracy"])
        rows.append({"dataset": dataset, **audio_scores_row(scores), "gmm_source": scores["gmm_source"],
                     "hmm_sequence": scores["hmm_sequence"],
                     "em_iterations": scores["em_iterations"], "em_converged": scores["em_converged"],
                     "reconstruction_snr_db": scores["reconstruction_snr_db"], "test_frames": scores["n_test_frames"],
                     **speech_row(speech), "frame_validation": validation["held_out"],
                     "data": info["description"]})
    in_table = [name for name in FRAME_BASE_NAMES if any(f"{name}_train" in row for row in rows)]
    tables.write_table(rows, audio_caption(fractions, in_table, accuracies), *table_paths)


# the speech scores' sources (speech_scores.json keys) and their column prefixes
SPEECH_SOURCES = {"generated": "gen", "training_recordings": "train_ref", "reconstructions": "recon_ref",
                  "noise": "noise_ref"}
SPEECH_SCORES = {"segments": "segments", "recognised": "recognised", "inception_score": "is",
                 "class_entropy": "entropy", "fd": "fd", "median_seconds": "median_s", "duration_w1": "w1_s"}
FEW_SEGMENTS = 10  # below this many generated segments the speech scores are flagged as resting on few


def speech_row(speech):
    """The speech columns: the held-out recordings' segment count and median duration (the target),
    then per source (SPEECH_SOURCES) each score (SPEECH_SCORES); all empty without speech scores."""
    held = (speech or {}).get("held_out", {})
    row = {"real_segments": held.get("segments"), "real_median_s": held.get("median_seconds")}
    for source, prefix in SPEECH_SOURCES.items():
        row.update({f"{prefix}_{name}": speech[source][key] if speech else None for key, name in SPEECH_SCORES.items()})
    few = speech and speech["generated"]["segments"] < FEW_SEGMENTS
    row["speech_note"] = f"only {speech['generated']['segments']} generated segments" if few else None
    return row


FRAME_BASE_NAMES = {name: f"{spec.title} ({name})" for name, spec in bases.BASES.items() if spec.frame_base}
AUDIO_BASE_ORDER = ["hmm", "gmm", "standard_normal", *FRAME_BASE_NAMES]  # the audio table's columns


def audio_caption(fractions, frame_bases, accuracies=()):
    """The audio table's caption; `frame_bases`: the bases of config audio.frame_bases in the
    table; `fractions`: the fractions of the training recordings they chose on; `accuracies`: the
    spoken-digit classifier's held-out accuracy behind the speech scores (none: no speech scores)."""
    caption = ("Audio: log-likelihood per frame of the autoencoder's raw codes (nats; bases that standardise the "
               "codes count the Jacobian), held-out and on the training codes (_train), under the HMM base and, "
               "without a temporal model, a diagonal GMM with as many components as states (gmm_source says "
               "which), an N(0, I) base on standardised codes")
    if frame_bases:
        held = " or ".join(f"{f:.0%}" for f in sorted(fractions))
        caption += ("".join(f", {FRAME_BASE_NAMES[name]}" for name in frame_bases)
                    + f". These last are fitted on the training recordings less a seeded {held} of them (whole "
                    "recordings; a dataset of one recording: its last frames; frame_validation says which), on "
                    "which they choose (the flow its epoch: flow_best_epoch); their _train scores are on all the "
                    "training codes, the held-out recordings included; dpgmm_components_kept: the DPGMM's "
                    "components with weight above its threshold")
    caption += (". hmm_sequence: the HMM's training sequence (concatenated: the recordings joined into one chain, "
                "held-out recordings scored as the chain continues; per_recording: one chain each). EM iterations "
                "run (em_converged: the gain fell below tol); the autoencoder's reconstruction SNR on held-out audio.")
    if not accuracies:
        return caption
    accuracy = " or ".join(f"{a:.1%}" for a in sorted(accuracies))
    return caption + (
        " Speech scores (FSDD datasets): audio cut into segments by an energy voice-activity detector, each "
        f"segment judged by a spoken-digit classifier ({accuracy} accurate on the held-out speaker's recordings): "
        "recognised, the share recognised as the trained digit (single-digit datasets); is and entropy, the "
        "inception score and the entropy (nats) of the mean class distribution; fd, the Fréchet distance in "
        "the classifier's penultimate features to the held-out speaker's recordings; median_s, the median "
        "segment duration (s), and w1_s its Wasserstein-1 distance to the durations of the held-out recordings "
        "joined and cut alike (real_segments, real_median_s). gen_: the generated audio; train_ref_: as many "
        "training recordings as held-out ones, joined (the floor); recon_ref_: the autoencoder's "
        "reconstructions of the held-out recordings (the decoder's ceiling: no base can beat it); noise_ref_: "
        f"noise with the training chunks' average spectrum. speech_note flags fewer than {FEW_SEGMENTS} "
        "generated segments.")


def which_base_table(runs, references, table_paths, by_k_paths):
    """The which-base table: per algorithm the K best on validation, the two references below
    (references: the loaded mnist_references.json); and every K (by_k: at one K every base shares
    the autoencoder, so their exact log-likelihoods differ only by the base's). CSV numbers,
    Markdown and LaTeX "mean ± std"."""
    by_k = tables.which_base_by_k(runs)
    best = tables.which_base_best(by_k)
    refs = [{"algorithm": f"reference: {name}", **{m: references[key][m] for m in ("fid", "precision", "recall")}}
            for key, name in tables.REFERENCES.items()]
    for rows, every_k, paths in ((best, False, table_paths), (by_k, True, by_k_paths)):
        text = tables.which_base_caption(runs, runs[0]["quality"], every_k)
        csv_path, md_path, tex_path = paths
        save_text(csv_path, tables.to_csv(rows + refs))
        shown = tables.which_base_display(rows, references)
        save_text(md_path, tables.to_markdown(shown, text))
        save_text(tex_path, tables.to_latex(shown, text))
    for row in best:
        log.info("%s: K %d, exact LL %s, KDE paper %s, FID %s", row["algorithm"], row["K"], row["exact_ll"],
                 row["kde_paper"], row["fid"])


def which_base_figure(samples, n_images, paths):
    """Samples of each base on one autoencoder: `samples` is [(label, samples.npz)], a row of n_images each."""
    rows = [display_images(load_npz(path)["samples"][:n_images]) for _, path in samples]
    plots.image_rows(rows, [label for label, _ in samples], paths)

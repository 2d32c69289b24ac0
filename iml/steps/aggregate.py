"""Aggregation over runs: the tables (Table 1, KDE by K, audio) and Fig. 3 from every run's results."""

import logging
from pathlib import Path

import pandas as pd

from iml import bases, layout, plots, tables
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


def audio_run_record(folder):
    """One audio run's summaries (a folder <dataset>/<algorithm>/K<k>/seed<s> of a results folder
    or of a published copy): its scores, its base.json, its speech scores (FSDD only) and its
    training wall time (the published train.json, or the training job's benchmark file; none for a
    variant sharing another run's autoencoder)."""
    folder = Path(folder)
    run = layout.parse_run("/".join(folder.parts[-4:]))
    optional = {name: load_json(folder / f"{name}.json") if (folder / f"{name}.json").exists() else None
                for name in ("speech_scores", "train")}
    seconds = optional["train"]["wall_seconds"] if optional["train"] else train_seconds(folder.parents[3], run)
    return {"dataset": run["dataset"], "algorithm": run["algorithm"], "seed": run["seed"],
            "scores": load_json(folder / "audio_scores.json"), "base": load_json(folder / "base.json"),
            "speech": optional["speech_scores"], "train_seconds": seconds}


def train_seconds(results_dir, run):
    """A run's training wall time (Snakemake's benchmark file under `results_dir`); None for a run
    without its own training (a variant sharing another's model) or without the file."""
    tsv = Path(results_dir) / layout.train_benchmark(run["dataset"], run["algorithm"], run["K"], run["seed"])
    if not tsv.exists():
        return None
    return float(pd.read_csv(tsv, sep="\t")["s"].iloc[0])


# the speech scores' sources (speech_scores.json keys): the generated audio and its references
SPEECH_REFERENCES = {"training_recordings": "reference: training recordings (the floor)",
                     "reconstructions": "reference: the decoder's reconstructions (its ceiling)",
                     "noise": "reference: noise with the data's spectrum"}
SPEECH_SCORES = {"segments": "segments", "recognised": "recognised", "inception_score": "is",
                 "class_entropy": "entropy", "fd": "fd", "median_seconds": "median_s", "duration_w1": "w1_s"}
FEW_SEGMENTS = 10  # below this many generated segments the speech scores are flagged as resting on few
AUDIO_SCORES = {"train_s": lambda r: r["train_seconds"], "snr_db": lambda r: r["scores"]["reconstruction_snr_db"],
                "ll": lambda r: r["scores"]["log_likelihood_per_frame"],
                "ll_train": lambda r: r["scores"]["train_log_likelihood_per_frame"],
                "start_gmm": lambda r: r["scores"].get("start_log_likelihood_per_frame"),
                "start_gmm_train": lambda r: r["scores"].get("start_train_log_likelihood_per_frame")}


def _base_label(run):
    """The base's name; a sequential base's with its training sequence."""
    base = run["base"]
    return f"{base['base']} ({base['sequence']})" if bases.spec(base["base"]).sequential else base["base"]


def _base_chose(runs):
    """What the runs' bases chose or how their fit ended (BaseSpec.choice): once when every seed's
    is the same, else seed by seed."""
    choices = [bases.spec(r["base"]["base"]).choice(r["base"]) for r in runs]
    return choices[0] if len(set(choices)) == 1 else ", ".join(choices)


def _speech_cells(speeches, source):
    """{score column: (mean, std)} of one speech source over seeds."""
    return {name: tables.over_seeds([s[source][key] for s in speeches]) for key, name in SPEECH_SCORES.items()}


def audio_rows(records):
    """The audio table's rows: per dataset, one per algorithm (its base, the autoencoder's training
    time and reconstruction SNR, log-likelihood per frame held-out and on the training codes, what
    the base chose, the speech scores of its generated audio), then the speech scores' references
    (of the first algorithm's runs); each number's mean over seeds and its std (column _std). Datasets
    and algorithms in alphabetical order: the paper's model, iml_audio, comes first in each dataset."""
    groups = {}  # in one order whatever the records' (the workflow's config, or a published folder's)
    for record in sorted(records, key=lambda r: (r["dataset"], r["algorithm"], r["seed"])):
        groups.setdefault((record["dataset"], record["algorithm"]), []).append(record)
    rows = []
    for dataset in dict.fromkeys(d for d, _ in groups):
        first = None
        for (d, algorithm), runs in groups.items():
            if d != dataset:
                continue
            first = first or runs
            _check_poolable(dataset, algorithm, runs)
            cells = {name: tables.over_seeds([get(r) for r in runs]) for name, get in AUDIO_SCORES.items()}
            speeches = [r["speech"] for r in runs]
            if all(speeches):
                cells.update(_speech_cells(speeches, "generated"))
            few = all(speeches) and min(s["generated"]["segments"] for s in speeches) < FEW_SEGMENTS
            rows.append({"dataset": dataset, "algorithm": algorithm, "base": _base_label(runs[0]),
                         "seeds": " ".join(str(r["seed"]) for r in runs), "chose": _base_chose(runs),
                         **_flat(cells), "note": f"fewer than {FEW_SEGMENTS} generated segments" if few else None})
        speeches = [r["speech"] for r in first]
        if all(speeches):
            held = speeches[0]["held_out"]
            rows.append({"dataset": dataset, "algorithm": "reference: held-out recordings (the target)",
                         "seeds": "", **_flat({"segments": (held["segments"], None),
                                               "median_s": (held["median_seconds"], None)})})
            rows += [{"dataset": dataset, "algorithm": label, "seeds": " ".join(str(r["seed"]) for r in first),
                      **_flat(_speech_cells(speeches, source))} for source, label in SPEECH_REFERENCES.items()]
    return rows


def _check_poolable(dataset, algorithm, runs):
    """Seeds are pooled only when the same settings produced them (their provenance's hash)."""
    hashes = {r["seed"]: (r["scores"].get("provenance") or {}).get("settings_hash") for r in runs}
    if len(set(hashes.values())) > 1:
        raise ValueError(f"{dataset}/{algorithm}: refusing to pool seeds produced with different settings "
                         f"(settings hash by seed: {hashes})")


def _flat(cells):
    return {k: v for name, (mean, std) in cells.items() for k, v in ((name, mean), (f"{name}_std", std))}


AUDIO_SHOWN = {"dataset": "dataset", "algorithm": "algorithm", "base": "base", "seeds": "seeds", "train_s": "train s",
               "snr_db": "SNR dB", "ll": "LL/frame", "ll_train": "LL/frame train", "start_gmm_train": "start GMM train",
               "chose": "chose", "segments": "segments", "recognised": "recognised", "fd": "FD",
               "median_s": "median s", "w1_s": "W1 s", "is": "IS", "note": "note"}


def audio_table(run_folders, info_paths, table_paths):
    """The audio table of the runs in `run_folders` (audio_run_record, audio_rows): CSV with every
    mean and std; Markdown and LaTeX "mean ± std" (AUDIO_SHOWN's columns). info_paths: {dataset:
    its splits.json}, for the caption's description of each dataset."""
    records = [audio_run_record(folder) for folder in run_folders]
    rows = audio_rows(records)
    described = {d: load_json(path)["description"] for d, path in info_paths.items()}
    accuracies = {r["speech"]["classifier_accuracy"] for r in records if r["speech"]}
    held_out = {r["base"]["validation_held_out"] for r in records if r["base"].get("validation_held_out")}
    caption = audio_caption(described, accuracies, held_out)
    csv_path, md_path, tex_path = table_paths
    save_text(csv_path, tables.to_csv(rows))
    shown = [{key: _shown_cell(row, key) for key in AUDIO_SHOWN} for row in rows]
    save_text(md_path, tables.to_markdown(shown, caption, AUDIO_SHOWN))
    save_text(tex_path, tables.to_latex(shown, caption, AUDIO_SHOWN))


def _shown_cell(row, key):
    value = row.get(key)
    if isinstance(value, float) or (value is None and f"{key}_std" in row):
        return tables.cell(value, row.get(f"{key}_std"))
    return "" if value is None else str(value)


def audio_caption(described, accuracies, held_out):
    """The audio table's caption: the data, what each column is, and how the bases chose."""
    caption = ("Audio (Sec. 4.2): per dataset, the autoencoder's runs with each base fitted on its codes "
               "(algorithm; mean ± std over the seeds shown). train s: the autoencoder's training wall time; SNR dB: "
               "its reconstruction SNR on the held-out recordings; LL/frame: log-likelihood per frame of the raw codes "
               "(nats; bases that standardise count the Jacobian), held-out and on the training codes; for the HMM, "
               "start GMM train: the diagonal GMM its EM started from, which it cannot score below on its training "
               "codes; hmm (concatenated): the recordings joined into one chain, held-out recordings scored as the "
               "chain continues; hmm (per_recording): one chain each, generated utterance by utterance. chose: EM's "
               "iterations, or the flow's epoch, seed by seed where they differ")
    if held_out:
        caption += ("; what the bases that take validation codes (the GMM, the flow) choose is chosen on "
                    + "; ".join(sorted(held_out)) + ", held out of their fit")
    caption += ". Data: " + "; ".join(f"{d}: {text}" for d, text in described.items()) + "."
    if not accuracies:
        return caption
    accuracy = " or ".join(f"{a:.1%}" for a in sorted(accuracies))
    return caption + (
        " Speech scores (FSDD datasets): the generated audio cut into segments by an energy voice-activity detector, "
        f"each judged by a spoken-digit classifier ({accuracy} accurate on the held-out speaker's recordings): "
        "recognised, the share recognised as the trained digit (single-digit datasets); IS, the inception score; "
        "FD, the Fréchet distance in the classifier's penultimate features to the held-out speaker's recordings; "
        "median s, the median segment duration, and W1 s its Wasserstein-1 distance to the held-out recordings' "
        "(joined and cut alike). The references are scored the same way: the held-out recordings (the target "
        "durations), as many training recordings joined (the floor), the autoencoder's reconstructions of the "
        "held-out recordings (the decoder's ceiling: no base can beat it) and noise with the training chunks' "
        f"average spectrum. note flags fewer than {FEW_SEGMENTS} generated segments.")


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


def which_base_figure(samples, n_images, paths, dataset):
    """Samples of each base on one autoencoder: `samples` is [(label, samples.npz)], a row of n_images
    each, shown as the image dataset `dataset`'s images."""
    rows = [display_images(load_npz(path)["samples"][:n_images], dataset) for _, path in samples]
    plots.image_rows(rows, [label for label, _ in samples], paths)

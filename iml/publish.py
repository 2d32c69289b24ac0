"""Each finished run's small summaries, copied under docs/ to be committed, and the tables rebuilt
from those copies alone: a grid run over several sittings (results/ need not be kept between them)
is finished piece by piece and tabulated without results/.

    python3 -m iml.publish collect results/offline docs/runs/offline
    python3 -m iml.publish tables docs/runs/offline docs/runs/offline/tables

collect copies, per run <dataset>/<algorithm>/K<k>/seed<s>: kde.json; likelihood.json (IML);
quality.json (FID, precision/recall); memorisation.json (the memorisation audit); train.json (the
training job's wall time, from its benchmark file); base.json (what the base fit chose, its seconds); and metrics/*.json (the
classifier's accuracy, the references' scores). tables writes, per dataset, <dataset>_kde_by_k
and <dataset>_table1 (CSV, Markdown, LaTeX, as the workflow's make_tables), <dataset>_kde_vs_k.png
(Fig. 3 left), summary.md (the rankings in both conventions and the training wall time per
algorithm) and, for the runs scored for sample quality, mnist_which_base (as the workflow's).
audit adds a memorisation audit (memorisation.json) to published runs that lack one, from the
same runs retrained with the same settings and seeds in a results folder (their model.pt and
base.npz, made by the workflow): their samples are drawn anew and audited, as the evaluation does.

    python3 -m iml.publish audit results/offline docs/runs/offline --config config.yaml presets/offline.yaml

Audio runs (those with an audio_scores.json) are copied with their base.json, speech_scores.json
and train.json, and each audio dataset's data/<dataset>/splits.json (its description); tables
then writes the audio table as the workflow's audio_table does.
"""

import argparse
from collections import defaultdict
from pathlib import Path

import pandas as pd
import yaml

from iml import layout, plots, tables
from iml.bases import caption_notes
from iml.io import load_json, save_json, save_text
from iml.models import family_of
from iml.steps import aggregate

IMAGE_RUN, AUDIO_RUN = "kde.json", "audio_scores.json"  # the summary that marks a finished run of each kind
SUMMARIES = {IMAGE_RUN: ("kde", "likelihood", "quality", "memorisation", "base"),  # copied where present
             AUDIO_RUN: ("audio_scores", "base", "speech_scores")}


def _runs(root, marker=IMAGE_RUN):
    """{relative run folder: (dataset, algorithm, K, seed)} for every run with the summary `marker`
    (iml.layout)."""
    found = {}
    for path in sorted(Path(root).glob(f"{layout.RUN_GLOB}/{marker}")):
        rel = path.parent.relative_to(root).as_posix()
        run = layout.parse_run(rel)
        if run:
            found[rel] = run
    return found


def _copy_runs(results_dir, dest, marker):
    """Copy the summaries of every run with `marker` (SUMMARIES), and its training wall time as
    train.json; returns the runs."""
    runs = _runs(results_dir, marker)
    for rel, run in runs.items():
        for name in SUMMARIES[marker]:
            if (results_dir / rel / f"{name}.json").exists():
                save_json(dest / rel / f"{name}.json", load_json(results_dir / rel / f"{name}.json"))
        seconds = aggregate.train_seconds(results_dir, run)
        if seconds is not None:
            save_json(dest / rel / "train.json", {"wall_seconds": seconds})
    return runs


def collect(results_dir, dest):
    """Copy the summaries of every finished run (one with a kde.json, or an audio run) under `dest`,
    with the metrics and each audio dataset's splits.json; returns their folders."""
    results_dir, dest = Path(results_dir), Path(dest)
    runs, audio_runs = _copy_runs(results_dir, dest, IMAGE_RUN), _copy_runs(results_dir, dest, AUDIO_RUN)
    if not runs and not audio_runs:
        raise FileNotFoundError(f"no finished run (<dataset>/<algorithm>/K<k>/seed<s>/kde.json or "
                                f"audio_scores.json) under {results_dir}")
    for metrics in sorted((results_dir / layout.METRICS).glob("*.json")):  # the classifier's and references' scores
        save_json(dest / layout.METRICS / metrics.name, load_json(metrics))
    for dataset in sorted({run["dataset"] for run in audio_runs.values()}):  # the audio table's descriptions
        info = Path("data") / dataset / "splits.json"
        save_json(dest / info, load_json(results_dir / info))
    return sorted(runs) + sorted(audio_runs)


def audio_table(root, out_dir):
    """The audio table from the published audio runs under `root`, as the workflow's audio_table."""
    runs = _runs(root, AUDIO_RUN)
    if not runs:
        return
    datasets = dict.fromkeys(run["dataset"] for run in runs.values())
    aggregate.audio_table([Path(root) / rel for rel in runs],
                          {d: Path(root) / "data" / d / "splits.json" for d in datasets},
                          [Path(out_dir) / name for name in layout.audio_table_names()])


def load_published(root):
    """{dataset: [run dicts as make_tables takes them, plus train_seconds and base]}."""
    by_dataset = defaultdict(list)
    for rel, run in _runs(root).items():
        folder = Path(root) / rel
        optional = {name: load_json(folder / f"{name}.json") if (folder / f"{name}.json").exists() else None
                    for name in ("likelihood", "train", "base", "quality", "memorisation")}
        by_dataset[run["dataset"]].append({
            "algorithm": run["algorithm"], "K": run["K"], "seed": run["seed"],
            "kde": load_json(folder / "kde.json"), "likelihood": optional["likelihood"],
            "train_seconds": (optional["train"] or {}).get("wall_seconds"), "base": optional["base"],
            "quality": optional["quality"], "memorisation": optional["memorisation"],
        })
    return dict(by_dataset)


def base_notes(runs):
    """How each algorithm's base was fitted, in the words of the workflow's captions (its base_notes)."""
    return caption_notes({run["algorithm"]: (run["base"]["base"], run["base"]) for run in runs if run["base"]})


def summary_text(dataset, runs, table):
    """Rankings in both conventions and training wall time per algorithm, as Markdown."""
    seconds = pd.DataFrame(runs, columns=["algorithm", "train_seconds"]).astype({"train_seconds": float})
    timing = seconds.groupby("algorithm", sort=True)["train_seconds"].agg(["size", "mean", "min", "max"])
    missing = timing["mean"].isna()  # NaN: no run of the algorithm has a time
    timing[["mean", "min", "max"]] = timing[["mean", "min", "max"]].map(lambda s: f"{s:.0f}")
    timing.loc[missing, ["mean", "min", "max"]] = ["– (no training of its own, or no benchmark file)", "–", "–"]
    timing.columns = ["runs", "training wall time per run, mean (s)", "min", "max"]
    lines = [f"## {dataset.upper()}", "",
             f"- Ranking, paper convention (K selected on the test set): {tables.ranking(table, 'kde_paper')}",
             f"- Ranking, standard convention (K selected on validation): {tables.ranking(table, 'kde_standard')}",
             "", timing.reset_index().to_markdown(index=False, disable_numparse=True)]
    return "\n".join(lines) + "\n"


def assemble(root, out_dir, config=None):
    """The tables, Fig. 3 (left) and summary.md from the committed summaries under `root` alone;
    with the workflow's `config`, variants (iml_allcodes) are known by the model they use, the
    which-base experiment's runs are kept out of Table 1 and given their own table."""
    out_dir = Path(out_dir)
    published = load_published(root)
    audio_table(root, out_dir)
    if not published:
        if _runs(root, AUDIO_RUN):
            return
        raise FileNotFoundError(f"no published run (<dataset>/<algorithm>/K<k>/seed<s>/kde.json) under {root}")
    families = family_of(config["algorithms"]) if config else None
    bases_only = layout.bases_only(config) if config else set()
    sections = []
    for dataset, runs in sorted(published.items()):
        runs = [r for r in runs if r["algorithm"] not in bases_only]
        paths = {name: _table_paths(out_dir, dataset, name) for name in layout.DATASET_TABLES}
        aggregate.make_tables(dataset, runs, paths["kde_by_k"], paths["table1"], base_notes=base_notes(runs),
                              families=families)
        summary = tables.summarise_by_k(runs)
        settings = tables.describe(tables.kde_settings(runs), {r["seed"] for r in runs})
        plots.kde_vs_k(summary, [out_dir / f"{dataset}_kde_vs_k.png"], settings,
                       split_note=f"{dataset.upper()}: {settings['data']}")
        comparable = tables.comparable_with_paper(tables.kde_settings(runs))
        sections.append(summary_text(dataset, runs, tables.best_over_k(summary, dataset, comparable, families)))
    rows = layout.which_base_rows(config) if config else []
    if rows and layout.WHICH_BASE_DATASET in published:
        which_base(root, published[layout.WHICH_BASE_DATASET], rows, out_dir)
    save_text(out_dir / "summary.md", "\n".join(sections))


def which_base(root, runs, rows, out_dir):
    """The which-base table from the published runs that were scored for sample quality, in the
    workflow's row order (`rows`: iml.layout.which_base_rows), any other algorithm after."""
    scored = [r for r in runs if r["quality"] is not None]
    if not scored:
        return
    order = list(rows) + sorted({r["algorithm"] for r in scored} - set(rows))
    scored.sort(key=lambda r: (order.index(r["algorithm"]), r["K"], r["seed"]))
    references = load_json(Path(root) / layout.references_file())
    paths = {name: _table_paths(out_dir, layout.WHICH_BASE_DATASET, name) for name in layout.WHICH_BASE_TABLES}
    aggregate.which_base_table(scored, references, paths["which_base"], paths["which_base_by_k"])


def _table_paths(out_dir, dataset, name):
    """The table's CSV, Markdown and LaTeX files in `out_dir`, as the workflow names them."""
    return [Path(out_dir) / layout.table_name(dataset, name, ext) for ext in layout.TABLE_FORMATS]


def audit(results_dir, dest, config):
    """memorisation.json for every published run (under `dest`) without one whose retrained model
    and base lie under `results_dir`: `evaluate.n_samples` samples drawn with the run's base and
    audited with `evaluate.memorisation` (iml.steps.evaluate), marked as regenerated. Returns the
    runs audited."""
    from iml.device import pick_device
    from iml.provenance import provenance
    from iml.steps import evaluate

    results_dir, dest, audited = Path(results_dir), Path(dest), []
    settings = config["evaluate"]
    for rel, run in _runs(dest).items():
        folder = results_dir / rel
        trained = config["algorithms"][run["algorithm"]].get("model_of", run["algorithm"])
        model = results_dir / layout.run_folder(run["dataset"], trained, run["K"], run["seed"]) / "model.pt"
        if (dest / rel / "memorisation.json").exists() or not (model.exists() and (folder / "base.npz").exists()):
            continue
        data = results_dir / "data" / run["dataset"]
        evaluate.generate(model, folder / "base.npz", settings["n_samples"], settings["grid_images"], folder / "samples.npz",
                          [folder / "samples.png"], run["dataset"])
        note = {"regenerated": "samples drawn anew from the run retrained with the published settings and seed",
                "provenance": provenance(None, pick_device("cpu"))}
        evaluate.memorisation_audit(data, model, folder / "base.npz", folder / "samples.npz",
                                    settings["memorisation"], folder / "memorisation.json", note)
        save_json(dest / rel / "memorisation.json", load_json(folder / "memorisation.json"))
        audited.append(rel)
    return audited


def _merged(paths):
    """The workflow's config files merged in order, by Snakemake's own merge of --configfile."""
    from snakemake.utils import update_config

    merged = {}
    for path in paths:
        with open(path) as f:
            update_config(merged, yaml.safe_load(f) or {})
    return merged


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="copy finished runs' summaries from a results folder")
    c.add_argument("results_dir")
    c.add_argument("dest")
    t = sub.add_parser("tables", help="rebuild the tables from copied summaries alone")
    t.add_argument("runs_dir")
    t.add_argument("out_dir")
    t.add_argument("--config", default="config.yaml",
                   help="the workflow's config, whose algorithms section says which model a variant uses")
    a = sub.add_parser("audit", help="add memorisation audits of retrained runs to published runs lacking one")
    a.add_argument("results_dir")
    a.add_argument("dest")
    a.add_argument("--config", nargs="+", default=["config.yaml"],
                   help="the workflow's config files the runs were retrained with, in order")
    args = parser.parse_args(argv)
    if args.command == "audit":
        for rel in audit(args.results_dir, args.dest, _merged(args.config)):
            print(rel)
    elif args.command == "collect":
        for rel in collect(args.results_dir, args.dest):
            print(rel)
    else:
        with open(args.config) as f:
            assemble(args.runs_dir, args.out_dir, yaml.safe_load(f))


if __name__ == "__main__":
    main()

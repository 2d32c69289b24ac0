"""Tables built from cached per-run results: KDE by K, and Table 1 (best KDE over K)."""

import numpy as np
import pandas as pd

from iml.bases import spec as base_spec
from iml.io import save_text
from iml.models import FAMILIES, spec

# Table 1 of the paper, computed with σ = 0.2 and a log-sum over 1000 samples (PAPER_KDE).
PAPER_TABLE1 = {"mnist": {"iml": 143, "vae": 132, "gan": -5, "wgan": 64},
                "celeba": {"iml": -8318, "vae": -11003, "gan": -11970, "wgan": -12986}}
PAPER_KDE = {"sigma": 0.2, "n_per_draw": 1000}


def comparable_with_paper(settings):
    return all(settings["paper"][k] == v for k, v in PAPER_KDE.items())


def kde_settings(runs):
    """The KDE settings and data split every run shares (from its kde.json); runs scored with
    different settings cannot share a table."""
    def settings(run):
        kde = run["kde"]
        paper = {k: kde["paper"][k] for k in ("sigma", "n_per_draw", "n_draws", "n_test")}
        standard = {k: kde["standard"][k] for k in ("n_samples", "n_test", "sigma_grid")}
        return {"paper": paper, "standard": standard, "split": kde["split"]}

    first = settings(runs[0])
    for run in runs[1:]:
        if settings(run) != first:
            raise ValueError(f"run {run_name(run)} was scored with other KDE settings or data than "
                             f"{run_name(runs[0])}: {settings(run)} != {first}")
    return first


def run_name(run):
    return f"{run['algorithm']}/K{run['K']}/seed{run['seed']}"


def _records(frame):
    """A DataFrame as row dicts of Python values. A NaN in a numeric column stays NaN: it is a result
    (shown as nan); a missing value elsewhere becomes None: it does not apply (shown as –)."""
    rows = frame.astype(object).to_dict("records")
    for column in frame.columns:
        if not pd.api.types.is_float_dtype(frame[column]):
            for row in rows:
                if row[column] is not None and not isinstance(row[column], str) and pd.isna(row[column]):
                    row[column] = None
    return rows


def _per_run(runs):
    """One row per run: the numbers the tables aggregate."""
    return pd.DataFrame([{
        "algorithm": run["algorithm"], "K": run["K"],
        "paper": run["kde"]["paper"]["mean"], "paper_std": run["kde"]["paper"]["std"],
        "standard": run["kde"]["standard"]["mean"], "standard_sem": run["kde"]["standard"]["sem"],
        "validation": max(run["kde"]["standard"]["validation_scores"]),
        "sigma": f"{run['kde']['standard']['sigma']:.4g}",
        "has_likelihood": run.get("likelihood") is not None,
        "r": (run.get("likelihood") or {}).get("pearson_r"),
        "r_no_sigmoid": (run.get("likelihood") or {}).get("pearson_r_without_sigmoid"),
        "near_copy": _dig(run, ("memorisation", "near_copy_fraction"), 100.0),
    } for run in runs])


def _spread(group, column, fallback, within_run):
    """(spread, what it is): the std over seeds; with a single seed, the run's own spread."""
    if len(group) > 1:
        return group[column].std(ddof=1, skipna=False), f"std over {len(group)} seeds"
    return float(group[fallback].iloc[0]), within_run


def summarise_by_k(runs):
    """Group per-run results by (algorithm, K): means over seeds and their spread.

    Each run: dict with algorithm, K, seed, kde (the run's kde.json) and optionally likelihood
    (its likelihood.json). The standard convention's validation score is the validation mean
    at the σ the run chose (the best on its grid): what selects K on validation.
    """
    s = kde_settings(runs)
    draws, test_images = f"std over {s['paper']['n_draws']} draws", f"s.e. over {s['standard']['n_test']} test images"

    def summarise(group):
        paper_spread, paper_kind = _spread(group, "paper", "paper_std", draws)
        standard_spread, standard_kind = _spread(group, "standard", "standard_sem", test_images)
        return pd.Series({
            "n_seeds": len(group),
            "kde_paper_mean": group["paper"].mean(skipna=False), "kde_paper_spread": paper_spread,
            "kde_paper_spread_is": paper_kind,
            "kde_standard_mean": group["standard"].mean(skipna=False), "kde_standard_spread": standard_spread,
            "kde_standard_spread_is": standard_kind,
            "kde_standard_validation": group["validation"].mean(skipna=False),
            "standard_sigma": ";".join(group["sigma"]),
            # skipna=False: a seed whose score is NaN makes the mean NaN instead of being dropped from it
            "exact_vs_base_r": group["r"].astype(float).mean(skipna=False),
            "exact_vs_base_r_no_sigmoid": group["r_no_sigmoid"].astype(float).mean(skipna=False),
            # a seed without the audit (a summary older than it) leaves the cell empty, not NaN
            "near_copy": (group["near_copy"].astype(float).mean() if group["near_copy"].notna().all() else None),
        })

    per_run = _per_run(runs)
    grouped = per_run.groupby(["algorithm", "K"], sort=True)[list(per_run.columns[2:])]
    rows = _records(grouped.apply(summarise).reset_index())
    with_likelihood = set(map(tuple, per_run.loc[per_run["has_likelihood"], ["algorithm", "K"]].to_numpy()))
    for row in rows:  # no exact likelihood (no inverse): the correlation does not apply
        if (row["algorithm"], row["K"]) not in with_likelihood:
            row["exact_vs_base_r"] = row["exact_vs_base_r_no_sigmoid"] = None
    if all(row["near_copy"] is None for row in rows):  # runs older than the audit: no column
        for row in rows:
            del row["near_copy"]
    return rows


def best_over_k(summary, dataset, comparable=True, families=None):
    """Table 1: per algorithm, for the paper convention the K with the best mean test score (the
    paper's protocol); for the standard one the K with the best mean validation score, and the
    test score at that K. The paper's number stands beside it only when `comparable` (scored
    with the paper's σ and draw size). families: see `family`."""
    frame = pd.DataFrame(summary)
    undefined = frame[frame[["kde_paper_mean", "kde_standard_validation"]].isna().any(axis=1)]
    if len(undefined):  # idxmax would silently pass over them
        raise ValueError("K cannot be selected: the KDE score is NaN for " + ", ".join(
            f"{a}/K{k}" for a, k in zip(undefined["algorithm"], undefined["K"])))
    by_algorithm = frame.groupby("algorithm", sort=True)
    best_paper = frame.loc[by_algorithm["kde_paper_mean"].idxmax()].reset_index(drop=True)
    best_standard = frame.loc[by_algorithm["kde_standard_validation"].idxmax()].reset_index(drop=True)
    paper = PAPER_TABLE1.get(dataset, {})
    reported = [paper.get(family(a, families)) if comparable else None for a in best_paper["algorithm"]]
    audited = {"near_copy": pd.Series(best_paper["near_copy"], dtype=object)} if "near_copy" in frame else {}
    return _records(pd.DataFrame({
        "algorithm": best_paper["algorithm"],
        "K_paper": best_paper["K"],
        "kde_paper": best_paper["kde_paper_mean"], "kde_paper_spread": best_paper["kde_paper_spread"],
        "kde_paper_spread_is": best_paper["kde_paper_spread_is"],
        "paper_reported": pd.Series(reported, dtype=object),  # ints, or None: not comparable
        "K_standard": best_standard["K"],
        "kde_standard": best_standard["kde_standard_mean"],
        "kde_standard_spread": best_standard["kde_standard_spread"],
        "kde_standard_spread_is": best_standard["kde_standard_spread_is"],
        **audited,
        "n_seeds": best_paper["n_seeds"],
    }))


def ranking(table, key):
    """Algorithms from best to worst by `key` of a best_over_k table: 'iml > vae > ...'."""
    return " > ".join(r["algorithm"] for r in sorted(table, key=lambda r: -float(r[key])))


def _one_kind(rows, key):
    kinds = sorted({r[key] for r in rows})
    return kinds[0] if len(kinds) == 1 else " or ".join(kinds)


def describe(settings, seeds):
    """The settings behind a table, in words: the two conventions, the seeds, the data."""
    p, st, split = settings["paper"], settings["standard"], settings["split"]
    grid = st["sigma_grid"]
    counts = ", ".join(f"{k} {v}" for k, v in split["counts"].items())
    return {
        "paper": (f"σ = {p['sigma']:g}, log-sum over {p['n_per_draw']} generated samples per draw, mean over "
                  f"{p['n_test']} test images, {p['n_draws']} disjoint draws per run"),
        "standard": (f"log-mean over {st['n_samples']} generated samples, σ chosen per run on the validation "
                     f"split from {len(grid)} log-spaced values in [{min(grid):g}, {max(grid):g}], mean over "
                     f"{st['n_test']} test images"),
        "seeds": f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, sorted(seeds)))}",
        "data": f"{split['description']} ({counts})",
    }


def by_k_headers(summary, settings):
    p = settings["paper"]
    return {
        "algorithm": "algorithm", "K": "K", "n_seeds": "seeds",
        "kde_paper_mean": f"KDE paper convention (σ = {p['sigma']:g}, log-sum of {p['n_per_draw']})",
        "kde_paper_spread": "± " + _one_kind(summary, "kde_paper_spread_is"),
        "kde_standard_mean": "KDE standard convention (log-mean, σ on validation), test",
        "kde_standard_spread": "± " + _one_kind(summary, "kde_standard_spread_is"),
        "kde_standard_validation": "standard convention, validation",
        "standard_sigma": "σ chosen per seed",
        "exact_vs_base_r": "Eq. 6 vs base r (with the output sigmoid's term)",
        "exact_vs_base_r_no_sigmoid": "Eq. 6 vs base r (without it, the authors' code)",
    }


def table1_headers(table, settings):
    p = settings["paper"]
    headers = {
        "algorithm": "algorithm",
        "K_paper": "K (selected on the test set, the paper's protocol)",
        "kde_paper": f"KDE paper convention (σ = {p['sigma']:g}, log-sum of {p['n_per_draw']})",
        "kde_paper_spread": "± " + _one_kind(table, "kde_paper_spread_is"),
        "paper_reported": "paper's Table 1",
        "K_standard": "K (selected on the validation split)",
        "kde_standard": "KDE standard convention (log-mean), test score at that K",
        "kde_standard_spread": "± " + _one_kind(table, "kde_standard_spread_is"),
        "near_copy": "near-copies at the paper's K (% of samples)",
        "n_seeds": "seeds",
    }
    if "near_copy" not in table[0]:  # runs older than the memorisation audit
        del headers["near_copy"]
    return headers


def captions(dataset, runs, summary, table, base_notes=None):
    """(KDE-by-K caption, Table 1 caption), every setting taken from the runs' own results."""
    settings = kde_settings(runs)
    d = describe(settings, {r["seed"] for r in runs})
    name = dataset.upper()
    beside = ("beside the paper's number" if comparable_with_paper(settings) else
              f"the paper's numbers left out (computed with σ = {PAPER_KDE['sigma']:g}, log-sum of "
              f"{PAPER_KDE['n_per_draw']})")
    bases = f" Bases: {'; '.join(f'{a}: {n}' for a, n in base_notes.items())}." if base_notes else ""
    by_k = (f"{name} KDE score by latent dimension K, mean over {d['seeds']}. Paper convention: {d['paper']}; "
            f"± {_one_kind(summary, 'kde_paper_spread_is')}. Standard convention: {d['standard']}; "
            f"± {_one_kind(summary, 'kde_standard_spread_is')}. Eq. 6-vs-base r: Pearson correlation of Eq. 6's "
            f"log-likelihood (the paper's per-layer change of variables, exact only for square layers) and the "
            f"base log-likelihood on test images, with and without the output sigmoid's Jacobian term.{bases} "
            f"Data: {d['data']}.")
    table1 = (f"Table 1 ({name}): best KDE score over K per algorithm, mean over {d['seeds']}. Paper convention "
              f"({d['paper']}): K selected on the test set (the paper's protocol), {beside}; "
              f"± {_one_kind(table, 'kde_paper_spread_is')}. Standard convention ({d['standard']}): K selected "
              f"on the validation split, test score at that K; ± {_one_kind(table, 'kde_standard_spread_is')}."
              f"{NEAR_COPIES if 'near_copy' in table[0] else ''}{bases} Data: {d['data']}.")
    return by_k, table1


NEAR_COPIES = (" Near-copies: the percentage of samples nearer a training image than the 1st percentile of the test "
               "images' nearest-training distances, mean over seeds.")


def _fmt(value):
    if value is None:  # missing (a NaN score stays "nan": it is a result)
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _latex_escape(text):
    """The characters LaTeX treats specially, escaped (as pandas escapes the cells)."""
    special = {"\\": r"\textbackslash{}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(special.get(c, "\\" + c if c in "&%$#_{}" else c) for c in str(text))


def _shown(rows, headers):
    """The columns named in `headers` (key -> shown name; all keys without), each cell formatted."""
    headers = headers or {key: key for key in rows[0]}
    frame = pd.DataFrame(rows, dtype=object)[list(headers)].map(_fmt)
    return frame, list(headers.values())


def to_csv(rows):
    """Every key; the values as Python writes them (repr of floats, ints as ints), NaN as nan and
    None (does not apply) empty."""
    rows = [{k: "nan" if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()} for row in rows]
    return pd.DataFrame(rows, dtype=object).to_csv(index=False, lineterminator="\n")


def to_markdown(rows, caption, headers=None):
    frame, names = _shown(rows, headers)
    return f"**{caption}**\n\n" + frame.to_markdown(index=False, headers=names, disable_numparse=True) + "\n"


def to_latex(rows, caption, headers=None):
    frame, names = _shown(rows, headers)
    frame.columns = names
    styler = frame.style.hide(axis="index").format(escape="latex").format_index(escape="latex", axis=1)
    return styler.to_latex(caption=_latex_escape(caption), position="t", position_float="centering",
                           hrules=True, column_format="l" * len(names))


def write_table(rows, caption, csv_path, md_path, tex_path=None, headers=None):
    """CSV with every key (machine-readable); Markdown and LaTeX with the columns and names of
    `headers` (key -> shown name) when given."""
    save_text(csv_path, to_csv(rows))
    save_text(md_path, to_markdown(rows, caption, headers))
    if tex_path:
        save_text(tex_path, to_latex(rows, caption, headers))


def family(algorithm, families=None):
    """iml_dcgan -> iml: the same algorithm at another dataset's network sizes, as the model
    registry declares; `families` ({algorithm: family}, iml.models.family_of of the config's
    algorithms) covers variants such as iml_allcodes that name their model in the config."""
    return (families or {}).get(algorithm) or spec(algorithm).family


def combined_table1(per_dataset, families=None):
    """Table 1 with a column per dataset: {dataset: rows of its best_over_k table} -> rows."""
    frame = pd.concat([pd.DataFrame(rows, dtype=object).assign(dataset=d) for d, rows in per_dataset.items()])
    frame["family"] = frame["algorithm"].map(lambda a: family(a, families))
    frame = frame.drop_duplicates(["family", "dataset"])  # a family's first row: iml before iml_allcodes
    frame["ours"] = [f"{float(m):.1f} ± {float(s):.1f}" for m, s in zip(frame["kde_paper"], frame["kde_paper_spread"])]
    wide = frame.pivot(index="family", columns="dataset", values=["ours", "paper_reported"])
    order = sorted(wide.index, key=FAMILIES.index)
    table = pd.DataFrame({"algorithm": [fam.upper() for fam in order]})
    for dataset in per_dataset:  # a family a dataset lacks, or no paper number (not comparable): empty
        table[f"{dataset} (ours)"] = wide.loc[order, ("ours", dataset)].to_numpy()
        table[f"{dataset} (paper)"] = wide.loc[order, ("paper_reported", dataset)].to_numpy()
    return _records(table)


def write_combined_table1(per_dataset, out_paths, families=None):
    """{dataset: rows of its best_over_k table} -> Table 1 with a column per dataset (CSV, Markdown, LaTeX)."""
    spreads = "; ".join(f"{d}: ± {_one_kind(rows, 'kde_paper_spread_is')}" for d, rows in per_dataset.items())
    write_table(combined_table1(per_dataset, families), "Table 1: best KDE score over K, K selected on the test set (the "
                "paper's protocol), paper convention, beside the paper's numbers; mean over seeds "
                f"({spreads}). Each column's σ, samples per draw, seeds, base fits and data split are named in "
                "its <dataset>_table1 caption.", *out_paths)


# -- the which-base table: bases on IML's autoencoders, the other algorithms, references --------

WHICH_BASE_SCORES = {  # key -> (shown name, where in a run's results)
    "code_ll": ("held-out code LL", ("likelihood", "base_mean")),
    "exact_ll": ("Eq. 6 LL (per-layer; exact only for square layers)", ("likelihood", "exact_mean")),
    "exact_ll_no_sigmoid": ("Eq. 6 LL without the sigmoid's term", ("likelihood", "exact_mean_without_sigmoid")),
    "manifold_term": ("manifold term −½ log det JᵀJ", ("likelihood", "manifold_term_mean")),
    "kde_paper": ("KDE paper", ("kde", "paper", "mean")),
    "kde_standard": ("KDE standard", ("kde", "standard", "mean")),
    "fid": ("FID", ("quality", "fid")),
    "precision": ("precision", ("quality", "precision")),
    "recall": ("recall", ("quality", "recall")),
    "near_copy": ("near-copies (% of samples)", ("memorisation", "near_copy_fraction")),
    "c_t": ("C_T", ("memorisation", "c_t")),
    "fit_seconds": ("base fit (s)", ("base", "fit_seconds")),
}


PERCENT = {"near_copy"}  # fractions shown as percentages: a near-copy fraction is often under 0.01


def _dig(run, path, scale=1.0):
    """The value at `path` in a run's results; None when that result does not apply to the run
    (no likelihood.json for a model without Eq. 6) or was not computed (a summary older than the
    measure). A NaN stays NaN: it is a result."""
    value = run
    for key in path:
        if value is None:
            return None
        value = value.get(key)
    return None if value is None else scale * float(value)


def base_choice(base):
    """What a fitted base chose or kept, in words, from its base.json (its BaseSpec's choice)."""
    return base_spec(base["base"]).choice(base)


def over_seeds(values):
    """(mean, std over seeds) of one score; (None, None) where it does not apply to the run (None),
    a NaN seed making both NaN; the std None with a single seed."""
    if any(v is None for v in values):  # not every seed has it: no mean over a subset passed off as all
        return None, None
    a = np.array(values, dtype=float)
    return float(a.mean()), (float(a.std(ddof=1)) if len(a) > 1 else None)


def which_base_by_k(runs):
    """Rows per (algorithm, K), in the order of `runs`: each score's mean and std over seeds, the
    standard KDE convention's validation score (which selects K) and what the base chose. Each
    run: algorithm, K, seed, kde, likelihood (None without Eq. 6), quality, base (its base.json)."""
    groups = {}
    for run in runs:
        groups.setdefault((run["algorithm"], run["K"]), []).append(run)
    rows = []
    for (algorithm, k), group in groups.items():
        row = {"algorithm": algorithm, "K": k, "base": group[0]["base"]["base"], "n_seeds": len(group),
               "choice": "; ".join(dict.fromkeys(base_choice(r["base"]) for r in group)),
               "validation": float(np.mean([max(r["kde"]["standard"]["validation_scores"]) for r in group]))}
        if not np.isfinite(row["validation"]):  # K could not be selected: say so rather than skip this K
            raise ValueError(f"{algorithm}/K{k}: the standard KDE's validation score is {row['validation']}")
        for key, (_, path) in WHICH_BASE_SCORES.items():
            scale = 100.0 if key in PERCENT else 1.0
            row[key], row[f"{key}_std"] = over_seeds([_dig(r, path, scale) for r in group])
        rows.append(row)
    return rows


def which_base_best(by_k):
    """Per algorithm (first-seen order), the row of the K with the best validation score."""
    best = {}
    for row in by_k:
        if row["algorithm"] not in best or row["validation"] > best[row["algorithm"]]["validation"]:
            best[row["algorithm"]] = row
    return list(best.values())


def cell(mean, std):
    if mean is None:
        return "–"  # does not apply (a NaN result shows as nan)
    return f"{mean:.2f}" if std is None else f"{mean:.2f} ± {std:.2f}"


REFERENCES = {"training_images": "training images (a memoriser)", "mean_image": "the mean training image"}


def which_base_display(best, references):
    """The which-base table as shown: one row per algorithm (its base and choice), "mean ± std"
    cells, then the two references' sample-quality scores."""
    rows = [{"base": f"{r['base']} ({r['algorithm']})", "chose": r["choice"], "K": str(r["K"]),
             **{name: cell(r[key], r[f"{key}_std"]) for key, (name, _) in WHICH_BASE_SCORES.items()},
             "seeds": str(r["n_seeds"])} for r in best]
    for key, name in REFERENCES.items():
        scores = {WHICH_BASE_SCORES[m][0]: f"{references[key][m]:.2f}" for m in ("fid", "precision", "recall")}
        rows.append({"base": f"reference: {name}", **{c: scores.get(c, "–") for c in rows[0] if c != "base"}})
    return rows


def which_base_caption(runs, quality, every_k=False):
    """Every setting named from the runs' own results; every_k: the by-K table's (no K selected)."""
    d = describe(kde_settings(runs), {r["seed"] for r in runs})
    n_seeds = len({r["seed"] for r in runs})
    spread = f"mean ± std over {n_seeds} seeds ({d['seeds']})" if n_seeds > 1 else f"one seed ({d['seeds']}), no spread"
    ks = sorted({r["K"] for r in runs})
    ks_of = {a: sorted({r["K"] for r in runs if r["algorithm"] == a}) for a in dict.fromkeys(r["algorithm"] for r in runs)}
    fewer = {a: k for a, k in ks_of.items() if k != ks}
    only = ("; " + ", ".join(f"{a} only at K = {', '.join(map(str, k))}" for a, k in fewer.items())) if fewer else ""
    rows = (f"every K (of {ks}{only})" if every_k else
            f"per row the K (of {ks}{only}) with the best standard-convention KDE score on the validation split")
    return (f"Which base (MNIST): IML's trained autoencoders with each base distribution, and the other "
            f"algorithms, {spread}; {rows}. Held-out code LL: the base's mean "
            f"log-density of the test images' codes; Eq. 6 LL: the paper's per-layer change of variables on the test "
            f"images, exact only for square layers (its linear layers are not square), with and without the "
            f"output sigmoid's Jacobian term (models without an inverse: –); manifold term: −½ log det JᵀJ of the "
            f"decoder (its Jacobian J at the test images' codes, on a subset), the log-volume a density on the "
            f"K-dimensional image manifold adds to the code LL (–: not computed). KDE paper "
            f"convention: {d['paper']}; "
            f"standard: {d['standard']}. FID and precision/recall (k = 3) in the penultimate features of a "
            f"classifier trained on the training split (test accuracy {100 * quality['classifier_test_accuracy']:.2f}%),"
            f" {quality['n_samples']} samples against the {quality['n_real']} test images; the references are "
            f"scored the same way. Near-copies: the percentage of samples nearer a training image than the "
            f"1st percentile of the test images' nearest-training distances; C_T: Meehan et al. (2020)'s "
            f"data-copying statistic over k-means cells of the training images (below 0: samples closer to the "
            f"training images than test images are); both – where not computed. "
            f"Base fit: seconds to fit the base on the training codes (choices made on the "
            f"validation codes). Data: {d['data']}.")

"""Tables built from cached per-run results: KDE by K, and Table 1 (best KDE over K)."""

import csv
import io
from collections import defaultdict

import numpy as np

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


def gmm_note(n_components, covariance_type, max_codes):
    """How a GMM base was fitted, in the captions' words."""
    return f"{n_components}-component {covariance_type} GMM fitted on {max_codes or 'all'} training codes"


def run_name(run):
    return f"{run['algorithm']}/K{run['K']}/seed{run['seed']}"


def _spread(values, fallback, within_run):
    """(spread, what it is): the std over seeds; with a single seed, the run's own spread."""
    if len(values) > 1:
        return float(np.std(values, ddof=1)), f"std over {len(values)} seeds"
    return float(fallback), within_run


def _mean_or_none(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def summarise_by_k(runs):
    """Group per-run results by (algorithm, K): means over seeds and their spread.

    Each run: dict with algorithm, K, seed, kde (the run's kde.json) and optionally likelihood
    (its likelihood.json). The standard convention's validation score is the validation mean
    at the σ the run chose (the best on its grid): what selects K on validation.
    """
    s = kde_settings(runs)
    draws, test_images = f"std over {s['paper']['n_draws']} draws", f"s.e. over {s['standard']['n_test']} test images"
    groups = defaultdict(list)
    for run in runs:
        groups[(run["algorithm"], run["K"])].append(run)
    summary = []
    for (algorithm, k), group in sorted(groups.items()):
        paper = [r["kde"]["paper"]["mean"] for r in group]
        standard = [r["kde"]["standard"]["mean"] for r in group]
        paper_spread, paper_kind = _spread(paper, group[0]["kde"]["paper"]["std"], draws)
        standard_spread, standard_kind = _spread(standard, group[0]["kde"]["standard"]["sem"], test_images)
        likelihoods = [r.get("likelihood") or {} for r in group]
        summary.append({
            "algorithm": algorithm, "K": k, "n_seeds": len(group),
            "kde_paper_mean": float(np.mean(paper)), "kde_paper_spread": paper_spread,
            "kde_paper_spread_is": paper_kind,
            "kde_standard_mean": float(np.mean(standard)), "kde_standard_spread": standard_spread,
            "kde_standard_spread_is": standard_kind,
            "kde_standard_validation": float(np.mean([max(r["kde"]["standard"]["validation_scores"])
                                                      for r in group])),
            "standard_sigma": ";".join(f"{r['kde']['standard']['sigma']:.4g}" for r in group),
            "exact_vs_base_r": _mean_or_none([lik.get("pearson_r") for lik in likelihoods]),
            "exact_vs_base_r_no_sigmoid": _mean_or_none([lik.get("pearson_r_without_sigmoid") for lik in likelihoods]),
        })
    return summary


def best_over_k(summary, dataset, comparable=True, families=None):
    """Table 1: per algorithm, for the paper convention the K with the best mean test score (the
    paper's protocol); for the standard one the K with the best mean validation score, and the
    test score at that K. The paper's number stands beside it only when `comparable` (scored
    with the paper's σ and draw size). families: see `family`."""
    table = []
    for algorithm in sorted({r["algorithm"] for r in summary}):
        rows = [r for r in summary if r["algorithm"] == algorithm]
        best_paper = max(rows, key=lambda r: r["kde_paper_mean"])
        best_standard = max(rows, key=lambda r: r["kde_standard_validation"])
        table.append({
            "algorithm": algorithm,
            "K_paper": best_paper["K"],
            "kde_paper": best_paper["kde_paper_mean"], "kde_paper_spread": best_paper["kde_paper_spread"],
            "kde_paper_spread_is": best_paper["kde_paper_spread_is"],
            "paper_reported": PAPER_TABLE1.get(dataset, {}).get(family(algorithm, families)) if comparable else None,
            "K_standard": best_standard["K"],
            "kde_standard": best_standard["kde_standard_mean"],
            "kde_standard_spread": best_standard["kde_standard_spread"],
            "kde_standard_spread_is": best_standard["kde_standard_spread_is"],
            "n_seeds": best_paper["n_seeds"],
        })
    return table


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
        "exact_vs_base_r": "exact vs base r (with the output sigmoid's term)",
        "exact_vs_base_r_no_sigmoid": "exact vs base r (without it, the authors' code)",
    }


def table1_headers(table, settings):
    p = settings["paper"]
    return {
        "algorithm": "algorithm",
        "K_paper": "K (selected on the test set, the paper's protocol)",
        "kde_paper": f"KDE paper convention (σ = {p['sigma']:g}, log-sum of {p['n_per_draw']})",
        "kde_paper_spread": "± " + _one_kind(table, "kde_paper_spread_is"),
        "paper_reported": "paper's Table 1",
        "K_standard": "K (selected on the validation split)",
        "kde_standard": "KDE standard convention (log-mean), test score at that K",
        "kde_standard_spread": "± " + _one_kind(table, "kde_standard_spread_is"),
        "n_seeds": "seeds",
    }


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
            f"± {_one_kind(summary, 'kde_standard_spread_is')}. Exact-vs-base r: Pearson correlation of Eq. 6's "
            f"exact log-likelihood and the base log-likelihood on test images, with and without the output "
            f"sigmoid's Jacobian term.{bases} Data: {d['data']}.")
    table1 = (f"Table 1 ({name}): best KDE score over K per algorithm, mean over {d['seeds']}. Paper convention "
              f"({d['paper']}): K selected on the test set (the paper's protocol), {beside}; "
              f"± {_one_kind(table, 'kde_paper_spread_is')}. Standard convention ({d['standard']}): K selected "
              f"on the validation split, test score at that K; ± {_one_kind(table, 'kde_standard_spread_is')}."
              f"{bases} Data: {d['data']}.")
    return by_k, table1


def _fmt(value):
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def to_csv(rows):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _columns(rows, headers):
    """(keys, shown names): the keys named in headers (all keys without headers)."""
    headers = headers or {key: key for key in rows[0]}
    return list(headers), list(headers.values())


def to_markdown(rows, caption, headers=None):
    columns, names = _columns(rows, headers)
    lines = [f"**{caption}**", "", "| " + " | ".join(names) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def to_latex(rows, caption, headers=None):
    columns, names = _columns(rows, headers)
    esc = lambda s: str(s).replace("_", r"\_").replace("%", r"\%")  # noqa: E731
    lines = [r"\begin{table}[t]", r"\centering", r"\caption{" + esc(caption) + "}",
             r"\begin{tabular}{" + "l" * len(columns) + "}", r"\toprule",
             " & ".join(esc(c) for c in names) + r" \\", r"\midrule"]
    lines += [" & ".join(esc(_fmt(r[c])) for c in columns) + r" \\" for r in rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


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
    in_tables = sorted({family(r["algorithm"], families) for rows in per_dataset.values() for r in rows},
                       key=FAMILIES.index)
    table = []
    for fam in in_tables:
        row = {"algorithm": fam.upper()}
        for dataset, rows in per_dataset.items():
            # iml before iml_allcodes
            match = next((r for r in rows if family(r["algorithm"], families) == fam), None)
            score = f"{float(match['kde_paper']):.1f} ± {float(match['kde_paper_spread']):.1f}" if match else None
            row[f"{dataset} (ours)"] = score
            row[f"{dataset} (paper)"] = (match or {}).get("paper_reported") or None  # empty: not comparable
        table.append(row)
    return table


def write_combined_table1(datasets, csv_paths, out_paths, families=None):
    per_dataset = {}
    for dataset, path in zip(datasets, csv_paths):
        with open(path) as f:
            per_dataset[dataset] = list(csv.DictReader(f))
    spreads = "; ".join(f"{d}: ± {_one_kind(rows, 'kde_paper_spread_is')}" for d, rows in per_dataset.items())
    write_table(combined_table1(per_dataset, families), "Table 1: best KDE score over K, K selected on the test set (the "
                "paper's protocol), paper convention, beside the paper's numbers; mean over seeds "
                f"({spreads}). Each column's σ, samples per draw, seeds, base fits and data split are named in "
                "its <dataset>_table1 caption.", *out_paths)

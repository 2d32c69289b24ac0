"""Which of the paper's claims reproduced: one row per claim of claims.yaml (shipped beside this
module), with the paper's number or statement, ours, the criterion and PASS / FAIL / NOT RUN,
read from the same run summaries the tables read (<dataset>/<algorithm>/K<k>/seed<s>/*.json,
figures/toy2d.json, tables/audio*.csv under a results folder or a published copy of one).

    python3 -m iml.verdict docs/runs/offline docs/verdict.md
"""

import argparse
from pathlib import Path

import pandas as pd
import yaml

from iml import tables
from iml.io import load_json, save_text

CLAIMS = Path(__file__).with_name("claims.yaml")
CLAIM_KEYS = ("id", "source", "paper", "measure", "criterion", "why", "evidence", "not_run")
PROVENANCE_KEYS = ("commit", "dirty", "versions", "device", "threads", "settings_hash")


class NotRun(Exception):
    """A claim's result is absent; the message says which summaries are missing."""


def load_claims(path=CLAIMS):
    """The claims file's entries, each checked for the keys the verdict needs."""
    claims = yaml.safe_load(Path(path).read_text())
    if not isinstance(claims, list) or not claims:
        raise ValueError(f"{path}: expected a list of claims")
    for i, claim in enumerate(claims):
        missing = [k for k in CLAIM_KEYS if k not in claim]
        if missing:
            raise ValueError(f"{path}: claim {claim.get('id', i)!r} lacks {', '.join(missing)}")
        if claim["measure"].get("kind") not in MEASURES:
            raise ValueError(f"{path}: claim {claim['id']!r}: unknown measure kind {claim['measure'].get('kind')!r} "
                             f"(known: {', '.join(MEASURES)})")
    return claims


# -- the run summaries -------------------------------------------------------------------------

def load_runs(root):
    """{dataset: [run dicts as the tables take them]}; none when `root` holds no run."""
    from iml.publish import load_published

    return load_published(root)


def runs_of(runs, dataset, algorithms):
    """The runs of `algorithms` on `dataset`; NotRun naming the algorithms without any."""
    chosen = [r for r in runs.get(dataset, []) if r["algorithm"] in algorithms]
    missing = [a for a in algorithms if a not in {r["algorithm"] for r in chosen}]
    if missing:
        raise NotRun(f"no {dataset} run summaries of {', '.join(missing)}")
    return chosen


def provenance_of(run):
    """A run's provenance as its kde.json records it; None for a run summarised before it was recorded."""
    return run["kde"].get("provenance")


def check_poolable(runs):
    """Refuse to pool seeds of one (algorithm, K) whose settings hash differs (a run without
    provenance differs from one with): their mean would mix two experiments."""
    groups = {}
    for run in runs:
        prov = provenance_of(run)
        groups.setdefault((run["algorithm"], run["K"]), {})[run["seed"]] = prov and prov["settings_hash"]
    for (algorithm, k), hashes in groups.items():
        if len(set(hashes.values())) > 1:
            shown = ", ".join(f"seed {s}: {h or 'no provenance'}" for s, h in sorted(hashes.items()))
            raise ValueError(f"{algorithm}/K{k}: refusing to pool seeds produced with different settings ({shown}); "
                             "rerun them with one configuration")


def best_rows(runs, dataset, algorithms):
    """{algorithm: its Table 1 row (best over K, mean and spread over seeds)}."""
    chosen = runs_of(runs, dataset, algorithms)
    check_poolable(chosen)
    summary = tables.summarise_by_k(chosen)
    return {row["algorithm"]: row for row in tables.best_over_k(summary, dataset)}, chosen


def _spread_note(row, convention):
    seeds = row["n_seeds"]
    kind = row[f"{convention}_spread_is"]
    return kind if seeds > 1 else f"single run, ± {kind}"


def _score(row, convention):
    k = row["K_paper" if convention == "kde_paper" else "K_standard"]
    return f"{row['algorithm']} {row[convention]:.1f} ± {row[f'{convention}_spread']:.1f} (K {k})"


# -- the measures: each returns (ours in words, passed) or raises NotRun -------------------------

def measure_ranking(m, results):
    """Best-over-K scores in `order` (strictly decreasing); with `above`, every algorithm of
    `order` above every one of `above`."""
    names = list(m["order"]) + list(m.get("above", []))
    rows, _ = best_rows(results["runs"], m["dataset"], names)
    conv = m["convention"]
    value = {a: float(rows[a][conv]) for a in names}
    if m.get("above"):
        passed = min(value[a] for a in m["order"]) > max(value[a] for a in m["above"])
    else:
        passed = all(value[a] > value[b] for a, b in zip(m["order"], m["order"][1:]))
    shown = " > ".join(_score(rows[a], conv) for a in sorted(names, key=lambda a: -value[a]))
    return f"{shown}; {_spread_note(rows[names[0]], conv)}", passed


def measure_band(m, results):
    """One algorithm's best-over-K score within rel_tol of the paper's number; says when the
    data split is not the paper's."""
    rows, chosen = best_rows(results["runs"], m["dataset"], [m["algorithm"]])
    row, conv = rows[m["algorithm"]], m["convention"]
    low, high = sorted(m["target"] * (1 + s * m["rel_tol"]) for s in (-1, 1))
    value = float(row[conv])
    split = chosen[0]["kde"]["split"]
    note = "" if split.get("pool") == m.get("paper_pool", split.get("pool")) else \
        f"; the split is not the paper's ({split['description']})"
    return f"{_score(row, conv)}; {_spread_note(row, conv)}; band [{low:.2f}, {high:.2f}]{note}", low <= value <= high


def measure_correlation(m, results):
    """The mean over seeds of a likelihood.json key at each K, all above zero."""
    runs = [r for r in runs_of(results["runs"], m["dataset"], [m["algorithm"]]) if r["likelihood"] is not None]
    if not runs:
        raise NotRun(f"no {m['dataset']} likelihood.json of {m['algorithm']}")
    check_poolable(runs)
    by_k = pd.DataFrame([{"K": r["K"], "r": r["likelihood"][m["key"]]} for r in runs]).groupby("K")["r"]
    means, seeds = by_k.mean(), by_k.size()
    n = sorted(set(seeds))
    counted = f"mean over {'/'.join(map(str, n))} seeds" if max(n) > 1 else "single run per K"
    if len(means) == 1:
        shown = f"{m['key']} {means.iloc[0]:.2f} at K {means.index[0]}"
    else:
        shown = (f"{m['key']} from {means.min():.2f} (K {means.idxmin()}) to {means.max():.2f} over K "
                 f"{', '.join(map(str, means.index))}")
    return f"{shown}; {counted}", bool((means > 0).all())


def measure_toy_modes(m, results):
    """Fig. 1's summary: one panel's smaller mode fraction at least `at_least` or below `below`."""
    path = results["root"] / "figures" / "toy2d.json"
    if not path.exists():
        raise NotRun()
    panel = load_json(path)["models"][m["panel"]]
    smaller = min(panel["mode_fractions"])
    passed = smaller >= m["at_least"] if "at_least" in m else smaller < m["below"]
    shares = " / ".join(f"{f:.2f}" for f in panel["mode_fractions"])
    return f"{panel['name']}: mode fractions {shares}; single run", passed


def _table(m, results):
    """The measure's table, its rows narrowed to those matching every column value of `rows`."""
    path = results["root"] / m["table"]
    if not path.exists():
        raise NotRun()
    frame = pd.read_csv(path)
    for column, value in m.get("rows", {}).items():
        frame = frame[frame[column] == value]
    if frame.empty:
        raise NotRun(f"no row with {m['rows']}")
    return frame


def _row_name(row):
    return row.get("dataset", row.name)


def measure_table_compare(m, results):
    """A table's column `larger` at least its column `smaller` in every row."""
    frame = _table(m, results)
    shown = "; ".join(f"{_row_name(r)}: {m['larger']} {r[m['larger']]:.2f} vs {m['smaller']} {r[m['smaller']]:.2f}"
                      for _, r in frame.iterrows())
    return f"{shown}; {_seeds_said(frame)}", bool((frame[m["larger"]] >= frame[m["smaller"]]).all())


def measure_table_at_least(m, results):
    """A table's column at least `minimum` in every row that has it (an empty cell: the row does not
    measure it, e.g. the recognised share of a dataset of all digits)."""
    frame = _table(m, results)
    if m["column"] not in frame:
        raise NotRun(f"no column {m['column']}")
    frame = frame[frame[m["column"]].notna()]
    if frame.empty:
        raise NotRun(f"no row has {m['column']}")
    shown = "; ".join(f"{_row_name(r)}: {r[m['column']]:.2f}" for _, r in frame.iterrows())
    return f"{m['column']} {shown}; {_seeds_said(frame)}", bool((frame[m["column"]] >= m["minimum"]).all())


def _seeds_said(frame):
    """How many runs each row's numbers are the mean of (a table with a seeds column)."""
    if "seeds" not in frame:
        return "single run each"
    counts = sorted({len(str(s).split()) for s in frame["seeds"]})
    return "single run each" if counts == [1] else f"mean over {' or '.join(map(str, counts))} seeds"


MEASURES = {"ranking": measure_ranking, "band": measure_band, "correlation": measure_correlation,
            "toy_modes": measure_toy_modes, "table_compare": measure_table_compare,
            "table_at_least": measure_table_at_least}


# -- the verdict ---------------------------------------------------------------------------------

def judge(claim, results):
    """One verdict row; a claim whose summaries are absent is NOT RUN with the claim's reason."""
    row = {k: claim[k] for k in ("id", "source", "paper")}
    try:
        ours, passed = MEASURES[claim["measure"]["kind"]](claim["measure"], results)
        row |= {"ours": ours, "verdict": "PASS" if passed else "FAIL", "reason": ""}
    except NotRun as missing:
        detail = f" ({missing})" if str(missing) else ""
        row |= {"ours": "–", "verdict": "NOT RUN", "reason": claim["not_run"] + detail}
    evidence = results["root"] / claim["evidence"]
    return row | {"criterion": claim["criterion"], "evidence": claim["evidence"] if evidence.exists() else "–",
                  "why": claim["why"]}


def _shown(value):
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in sorted(value.items()))
    return "not recorded" if value is None else str(value)


def provenance_lines(runs):
    """The provenance of the summaries read, in words: each distinct value of each field."""
    found = [p for rs in runs.values() for r in rs if (p := provenance_of(r)) is not None]
    total = sum(len(rs) for rs in runs.values())
    if not found:
        return [f"- no provenance recorded in any of the {total} run summaries (they predate it): commit, package "
                "versions, device and settings are unknown"]
    lines = [f"- {len(found)} of {total} run summaries record their provenance"]
    for key in PROVENANCE_KEYS[:-1]:
        values = sorted({_shown(p.get(key)) for p in found})
        lines.append(f"- {key}: {'; '.join(values)}")
    hashes = {}  # one per algorithm and dataset when its seeds pool (check_poolable)
    for dataset, rs in sorted(runs.items()):
        for r in rs:
            if (p := provenance_of(r)) is not None:
                hashes.setdefault(f"{dataset}/{r['algorithm']}", set()).add(p["settings_hash"])
    lines.append("- settings_hash: " + "; ".join(f"{name} {', '.join(sorted(h))}" for name, h in sorted(hashes.items())))
    return lines


def only(runs, keep):
    """The runs named in `keep` (dicts of dataset, algorithm, K, seed): a results folder may hold
    runs of an earlier configuration, which the verdict must not pool with this one's."""
    wanted = {(k["dataset"], k["algorithm"], int(k["K"]), int(k["seed"])) for k in keep}
    kept = {d: [r for r in rs if (d, r["algorithm"], r["K"], r["seed"]) in wanted] for d, rs in runs.items()}
    return {d: rs for d, rs in kept.items() if rs}


def verdict(root, claims_path=CLAIMS, runs=None):
    """(rows, provenance lines) for the summaries under `root` (of the runs `runs` names, when given)."""
    root = Path(root)
    found = load_runs(root) if root.exists() else {}
    results = {"root": root, "runs": found if runs is None else only(found, runs)}
    rows = [judge(claim, results) for claim in load_claims(claims_path)]
    return rows, provenance_lines(results["runs"])


def to_markdown(rows, provenance, root_name):
    counts = {v: sum(r["verdict"] == v for r in rows) for v in ("PASS", "FAIL", "NOT RUN")}
    shown = [{"claim": r["id"], "paper": f"{r['source']}: {r['paper']}", "ours": r["ours"], "criterion": r["criterion"],
              "verdict": r["verdict"] + (f": {r['reason']}" if r["reason"] else ""), "evidence": r["evidence"]}
             for r in rows]
    table = pd.DataFrame(shown).to_markdown(index=False, disable_numparse=True)
    why = [f"- **{r['id']}**: {r['why']}" for r in rows]
    return "\n".join([
        f"# Verdict: the paper's claims on `{root_name}`", "",
        f"{counts['PASS']} PASS, {counts['FAIL']} FAIL, {counts['NOT RUN']} NOT RUN. Ours: mean ± spread over seeds "
        "(the spread named in each row), or a single run, said so. Criteria from iml/claims.yaml.", "",
        table, "", "## Why each criterion", "", *why, "", "## Provenance of the summaries", "", *provenance, ""])


def write_verdict(root, md_path, csv_path=None, claims_path=CLAIMS, runs=None):
    rows, provenance = verdict(root, claims_path, runs)
    save_text(md_path, to_markdown(rows, provenance, Path(root).as_posix()))
    if csv_path:
        save_text(csv_path, tables.to_csv(rows))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="a results folder, or a published copy of its summaries")
    parser.add_argument("md", help="the verdict's Markdown file")
    parser.add_argument("--csv", help="the verdict as CSV too")
    args = parser.parse_args(argv)
    for row in write_verdict(args.root, args.md, args.csv):
        print(f"{row['verdict']:8} {row['id']}")


if __name__ == "__main__":
    main()

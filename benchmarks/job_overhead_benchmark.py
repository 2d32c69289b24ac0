"""The fixed cost of a workflow job (a new Python process, Snakemake's script preamble and the
imports of the step it calls) and the share of a finished run's time it takes.

Each rule's script is started with its imports only (the preamble's Snakemake modules and the
script's own `from iml... import` lines, and torch where the step sets its threads), best of
`--repeats`; the job counts and job-seconds come from a finished run's `benchmarks/` folder; the
wall time is `--wall` when given, else the span from the first job's start to the last job's end
as those files record it.

Run:  python benchmarks/job_overhead_benchmark.py [--results results/quick] [--wall SECONDS] [--cores 2]
"""

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREAMBLE = "import pickle; from snakemake.logging import logger; from snakemake.iocontainers import Snakemake"


def rule_scripts():
    """{rule name: its workflow script}, `use rule a as b` giving b a's script."""
    scripts, aliases = {}, {}
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        text = smk.read_text()
        for match in re.finditer(r"^rule (\w+):(.*?)(?=^rule |^use rule |\Z)", text, re.S | re.M):
            script = re.search(r'script:\s*"\.\./workflow_scripts/(\w+\.py)"', match.group(2))
            if script:
                scripts[match.group(1)] = ROOT / "workflow_scripts" / script.group(1)
        aliases.update(dict((b, a) for a, b in re.findall(r"^use rule (\w+) as (\w+)", text, re.M)))
    return scripts | {b: scripts[a] for b, a in aliases.items() if a in scripts}


def import_lines(script):
    text = script.read_text()
    lines = [line for line in text.splitlines() if re.match(r"(from \S+ )?import ", line)]
    if "snakemake.threads" in text:  # logs.log_to_file imports torch to set its threads
        lines.append("import torch")
    return "; ".join([PREAMBLE, *lines])


def start_up_seconds(code, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
        times.append(time.perf_counter() - t0)
    return min(times)


def finished_jobs(results):
    """{benchmark folder (the rule): [(job seconds, end time)]} of a finished run."""
    jobs = {}
    for tsv in Path(results, "benchmarks").glob("*/*.tsv"):
        rows = tsv.read_text().splitlines()
        if len(rows) > 1:
            jobs.setdefault(tsv.parent.name, []).append((float(rows[1].split("\t")[0]), tsv.stat().st_mtime))
    return jobs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results/quick", help="a finished run's results folder")
    parser.add_argument("--wall", type=float, help="the run's wall time in seconds (default: from its benchmarks)")
    parser.add_argument("--cores", type=int, default=2, help="the --cores the run used")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    jobs = finished_jobs(args.results)
    if not jobs:
        sys.exit(f"{args.results}/benchmarks: no finished jobs; run the workflow first")
    scripts = rule_scripts()
    bare = start_up_seconds("pass", args.repeats)
    print(f"python start-up alone: {bare:.2f} s")
    print(f"{'rule':<22}{'jobs':>5}{'fixed s/job':>13}{'job-s':>9}{'fixed share':>13}")
    total_fixed = total_job = 0.0
    cost_of = {}
    for rule in sorted(jobs):
        script = scripts.get(rule)
        if script not in cost_of:
            cost_of[script] = start_up_seconds(import_lines(script), args.repeats) if script else bare
        fixed, seconds = cost_of[script], sum(s for s, _ in jobs[rule])
        n = len(jobs[rule])
        total_fixed += n * fixed
        total_job += seconds
        print(f"{rule:<22}{n:>5}{fixed:>13.2f}{seconds:>9.1f}{n * fixed / max(seconds, 1e-9):>12.0%}")
    all_jobs = [job for rows in jobs.values() for job in rows]
    wall = args.wall or max(end for _, end in all_jobs) - min(end - s for s, end in all_jobs)
    n_jobs = len(all_jobs)
    print(f"\n{n_jobs} jobs, {total_job:.0f} job-seconds; fixed cost {total_fixed:.0f} s "
          f"(mean {total_fixed / n_jobs:.2f} s/job, median over rules "
          f"{statistics.median(cost_of.values()):.2f} s), {total_fixed / total_job:.0%} of the job-seconds")
    print(f"wall time {wall:.0f} s{'' if args.wall else ' (first job start to last job end)'}: the fixed "
          f"cost spread over {args.cores} cores is {total_fixed / args.cores:.0f} s, {total_fixed / args.cores / wall:.0%} "
          "of it")


if __name__ == "__main__":
    main()

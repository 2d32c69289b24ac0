"""The workflow through `snakemake --profile profiles/slurm` on a real single-node SLURM.

tests/slurm/start_slurm.sh starts munged, slurmctld and slurmd on this machine (root; the Debian packages
slurmctld slurmd slurm-client munge and the pip package snakemake-executor-plugin-slurm, which .ci/run
installs); the daemons it started are stopped at the end. Skipped where that cannot work (not root, no
SLURM binaries, no plugin), except under CI, where it fails instead. This node has no GPU, so the
slices set resources.train.gpu to 0: with 1, the paper's value, the plugin asks for `sbatch --gpus=1`,
which this SLURM refuses ("Invalid generic resource (gres) specification").
"""

import csv
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.helpers import REPO, copy_workflow, local_snakemake_env, skip_or_fail, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]

SCRIPTS = REPO / "tests" / "slurm"
PARTITION = os.environ.get("IML_SLURM_PARTITION", "debug")  # the partition start_slurm.sh configures
RESULTS = "results/quick"
RUN = f"{RESULTS}/mnist/iml/K10/seed0"
# the smallest slice of the quick preset, through every chain: download (local rule), preprocess,
# train, fit_base, the feature classifier, the run's evaluation (samples, KDE, quality, Eq. 6), tables, figures
TARGETS = [f"{RESULTS}/tables/mnist_kde_by_k.csv", f"{RESULTS}/tables/mnist_table1.csv",
           f"{RESULTS}/figures/mnist_kde_vs_k.png", f"{RESULTS}/figures/mnist_exact_vs_base.png",
           f"{RUN}/samples.png"]
SLURM_RULES = {"preprocess_mnist", "train", "fit_base", "train_classifier", "evaluate_exact",
               "make_tables", "make_figures"}
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")


def _why_slurm_cannot_start():
    if os.geteuid() != 0:
        return "starting munged, slurmctld and slurmd needs root"
    for daemon in ["/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd"]:
        if not os.path.exists(daemon):
            return f"{daemon} is missing (apt-get install slurmctld slurmd slurm-client munge)"
    for client in ["sbatch", "squeue", "sinfo", "scancel", "scontrol"]:
        if shutil.which(client) is None:
            return f"{client} is missing (apt-get install slurm-client)"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[test]')"
    return None


def _skip_or_fail(reason):
    skip_or_fail(f"SLURM cannot be started here: {reason}")


@pytest.fixture(scope="module")
def slurm():
    """A running single-node SLURM; stops the daemons that this fixture's start started."""
    reason = _why_slurm_cannot_start()
    if reason:
        _skip_or_fail(reason)
    start = subprocess.run(["bash", str(SCRIPTS / "start_slurm.sh")], text=True, timeout=180,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if start.returncode == 3:  # refused: e.g. a slurm.conf that start_slurm.sh did not write
        _skip_or_fail(start.stdout.strip())
    assert start.returncode == 0, f"tests/slurm/start_slurm.sh failed:\n{start.stdout}"
    print(start.stdout.strip())
    yield PARTITION
    if "started" in start.stdout:
        subprocess.run(["bash", str(SCRIPTS / "stop_slurm.sh")], timeout=120, check=False)


# the quick preset cut down to one run (iml, K = 10, seed 0) on 1000 training images for 2 epochs;
# 1 thread for the evaluation steps, so that two of them share the 2-CPU node; the feature classifier
# on 1000 images is held to a bar of 80% (it checks that the job runs, not the paper's 98%)
SLICE = {"mnist": {"algorithms": ["iml"], "K": [10]},
         "algorithms": {"iml": {"train": {"epochs": 2}}},
         "data": {"mnist": {"sizes": {"train": 1000}}},
         "evaluate": {"classifier": {"accuracy_bar": 0.8}},
         "resources": {"train": {"gpu": 0},  # no GPU on this node
                       "evaluate": {"threads": 1}}}


def _workdir(path, mirror_url):
    """A copy of the workflow with slice.yaml (SLICE and the data mirror)."""
    workdir = copy_workflow(path)
    (workdir / "slice.yaml").write_text(yaml.safe_dump({**SLICE, "data": {**SLICE["data"], "mirror": mirror_url}}))
    return workdir


@pytest.fixture(scope="module")
def cluster_workdir(slurm, tmp_path_factory, mirror_url):
    """The workflow copy that runs on SLURM, with a test-only profile layered over profiles/slurm."""
    workdir = _workdir(tmp_path_factory.mktemp("slurm"), mirror_url)
    # a later --profile replaces whole top-level keys: keep the real profile's default-resources
    profile = yaml.safe_load((workdir / "profiles" / "slurm" / "config.yaml").read_text())
    (workdir / "slurm-test").mkdir()
    (workdir / "slurm-test" / "config.yaml").write_text(yaml.safe_dump({
        "default-resources": {**profile["default-resources"], "slurm_partition": f"'{slurm}'"},
        # first status check 4 s after a submission instead of 20 s, then after 14 s more, 24 s more, ...
        # (the plugin adds 10 s per round in which nothing finished): most steps here take 8 to 18 s
        "slurm-init-seconds-before-status-checks": 4,
        "seconds-between-status-checks": 1,
    }))
    return workdir


ON_SLURM = ["--profile", "profiles/slurm", "--profile", "slurm-test"]
QUICK_SLICE = ["--configfile", "presets/quick.yaml", "slice.yaml"]  # last: --configfile is greedy


def _jobs(output):
    """(rule, snakemake job id, local?) of every job a snakemake run printed."""
    jobs = []
    for kind, rule, body in re.findall(r"^(localrule|rule) (\w+):\n((?:[ \t]+.*\n)*)", output, re.M):
        jobid = re.search(r"^\s+jobid: (\d+)$", body, re.M)
        jobs.append((rule, jobid.group(1) if jobid else None, kind == "localrule"))
    return jobs


def _slurm_states(slurm_ids):
    """SLURM job id -> (state, comment) from squeue, which keeps finished jobs for MinJobAge seconds."""
    out = subprocess.run(["squeue", "--states=all", "-h", "-o", "%i|%T|%k", "-j", ",".join(slurm_ids)],
                         text=True, stdout=subprocess.PIPE, check=True).stdout
    return {i: (state, comment) for i, state, comment in (line.split("|", 2) for line in out.splitlines())}


def _assert_same_numbers(a, b, where):
    """Equal structure, equal strings, numbers equal to 1e-9 (relative)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            _assert_same_numbers(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_numbers(x, y, f"{where}[{i}]")
    elif isinstance(a, (int, float)) and not isinstance(a, bool):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), f"{where}: {a} (SLURM) != {b} (local)"
    else:
        assert a == b, f"{where}: {a!r} (SLURM) != {b!r} (local)"


def _number(text):
    try:
        return float(text)
    except ValueError:
        return text


def test_quick_slice_on_slurm_equals_the_local_run(cluster_workdir, tmp_path_factory, mirror_url):
    cluster = cluster_workdir
    local = _workdir(tmp_path_factory.mktemp("local"), mirror_url)
    # the reference, run locally at the same time with the same thread counts (config resources)
    with open(local / "run.log", "w") as log:
        reference = subprocess.Popen([sys.executable, "-m", "snakemake", *TARGETS, "--cores", "2", *QUICK_SLICE],
                                     cwd=local, env=local_snakemake_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        t0 = time.time()
        proc = snakemake(cluster, *TARGETS, *ON_SLURM, *QUICK_SLICE, timeout=900, env=dict(os.environ))
        print(f"slice on SLURM: {time.time() - t0:.0f} s")
        assert reference.wait(timeout=900) == 0, (local / "run.log").read_text()[-5000:]
    finally:
        if reference.poll() is None:
            reference.kill()
    out = proc.stdout

    # every job but the downloads went through sbatch, and SLURM ran each to completion
    jobs = _jobs(out)
    assert {rule for rule, _, is_local in jobs if is_local} == {"download_mnist"}
    remote = {jobid: rule for rule, jobid, is_local in jobs if not is_local}
    assert set(remote.values()) == SLURM_RULES, out[-3000:]
    submitted = {jobid: slurm_id for jobid, slurm_id, _ in SUBMITTED.findall(out)}
    assert submitted.keys() == remote.keys(), out[-3000:]  # each non-local job, and no local one
    states = _slurm_states(list(submitted.values()))
    for jobid, slurm_id in submitted.items():
        state, comment = states[slurm_id]
        assert state == "COMPLETED" and comment.startswith(f"rule_{remote[jobid]}"), (slurm_id, state, comment)
    assert "SLURM run ID" in out and "Falling back to 'sacct'" not in out

    # the same numbers as the local run: same seeds, same thread counts, CPU
    for name in ["kde.json", "likelihood.json"]:
        _assert_same_numbers(json.loads((cluster / RUN / name).read_text()),
                             json.loads((local / RUN / name).read_text()), name)
    for name in ["mnist_kde_by_k.csv", "mnist_table1.csv"]:
        tables = []
        for workdir in (cluster, local):
            with open(workdir / RESULTS / "tables" / name) as f:
                tables.append([{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)])
        assert [row["algorithm"] for row in tables[0]] == ["iml"]
        _assert_same_numbers(*tables, name)
    for name in ["mnist_kde_vs_k.png", "mnist_exact_vs_base.png"]:
        assert (cluster / RESULTS / "figures" / name).stat().st_size > 1000


def test_scancelled_training_job_fails_the_run_and_resumes_on_rerun(cluster_workdir):
    # the slice's workdir (its data splits are reused when the test above ran) with more epochs, so
    # that there is a checkpoint to resume from and training left to cancel
    workdir, epochs = cluster_workdir, 4
    (workdir / "cancel.yaml").write_text(yaml.safe_dump({"algorithms": {"iml": {"train": {"epochs": epochs}}}}))
    model = f"{RUN}/model.pt"
    args = [model, *ON_SLURM, *QUICK_SLICE, "cancel.yaml"]
    ckpt = workdir / RUN / "train.ckpt"
    log_path = workdir / "cancel.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "snakemake", *args], cwd=workdir,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # the training job's SLURM id, then its first checkpoint
        deadline = time.time() + 300
        train_id = None
        while time.time() < deadline and proc.poll() is None and not (train_id and ckpt.exists()):
            found = [s for _, s, path in SUBMITTED.findall(log_path.read_text()) if "/rule_train/" in path]
            train_id = found[0] if found else None
            time.sleep(0.2)
        assert proc.poll() is None and train_id and ckpt.exists(), log_path.read_text()[-3000:]
        subprocess.run(["scancel", train_id], check=True)
        assert proc.wait(timeout=300) != 0  # snakemake notices at its next status check and stops
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # snakemake scancels its jobs on SIGTERM
            proc.wait(timeout=60)
    out = log_path.read_text()
    assert re.search(rf"SLURM-job '{train_id}' failed, SLURM status is: 'CANCELLED'", out), out[-3000:]
    assert "Error in rule train" in out
    assert ckpt.exists() and not (workdir / model).exists()

    # the same command again: rerun-incomplete (in the profile) reruns train, which resumes
    rerun = snakemake(workdir, *args, timeout=600, env=dict(os.environ))
    assert re.search(r"Job \d+ has been submitted with SLURM jobid \d+ \(log: \S+/rule_train/", rerun.stdout)
    train_log = (workdir / RESULTS / "logs" / "train" / "mnist_iml_K10_seed0.log").read_text()
    resumed = re.search(rf"resuming from \S+ after epoch (\d+) of {epochs}", train_log)
    assert resumed and 1 <= int(resumed.group(1)) < epochs, train_log
    assert int(re.search(rf"epoch (\d+)/{epochs}", train_log).group(1)) == int(resumed.group(1)) + 1
    with open(workdir / RUN / "loss.csv") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == list(range(1, epochs + 1))
    assert (workdir / model).exists() and not ckpt.exists()

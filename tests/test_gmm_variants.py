"""The GMM base fitted on 3000 codes (the authors' code) and on all codes, from one trained model."""

import re

import numpy as np
import yaml

from iml.bases import build_base
from tests.helpers import copy_workflow, snakemake


def test_all_codes_variant_shares_the_trained_model(tmp_path):
    workdir = copy_workflow(tmp_path)
    (workdir / "both.yaml").write_text(yaml.safe_dump({"mnist": {"algorithms": ["iml", "iml_allcodes"], "K": [10]}}))
    proc = snakemake(workdir, "-n", "--configfile", "presets/quick.yaml", "both.yaml")
    jobs = re.findall(r"rule (\w+):\n(?:    .*\n)*?    output: (.*)", proc.stdout)
    trained = [out for rule, out in jobs if rule == "train" and "/mnist/" in out]
    assert len(trained) == 1 and "/iml/K10/seed0/model.pt" in trained[0]  # one training for both fits
    fit = re.search(r"input: .*/iml/K10/seed0/model.pt\n    output: .*/iml_allcodes/K10/seed0/base.npz", proc.stdout)
    assert fit, proc.stdout[-3000:]


def test_max_codes_fits_a_seeded_subset_of_the_codes():
    codes = np.random.default_rng(0).standard_normal((5000, 3))
    capped = build_base("gmm", {"n_components": 2, "max_codes": 3000}, random_state=1).fit(codes)
    subset = codes[np.random.default_rng(1).choice(5000, 3000, replace=False)]  # the base's first draw
    on_subset = build_base("gmm", {"n_components": 2, "max_codes": None}, random_state=1).fit(subset)
    np.testing.assert_array_equal(capped.mixture.means_, on_subset.mixture.means_)
    np.testing.assert_array_equal(capped.mixture.covariances_, on_subset.mixture.covariances_)
    full = build_base("gmm", {"n_components": 2, "max_codes": None}, random_state=1).fit(codes)
    assert not np.allclose(capped.mixture.means_, full.mixture.means_)  # the cap took effect

"""The conda environments the rules declare must ask for what the package itself requires."""

import re
import tomllib

import yaml

from tests.helpers import REPO

SPEC = re.compile(r"^([A-Za-z0-9_.-]+)\s*(.*)$")


def parse(requirements):
    return {m.group(1).lower(): m.group(2).replace(" ", "") for m in map(SPEC.match, requirements)}


def env_requirements(path):
    deps = yaml.safe_load(path.read_text())["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    return parse([d for d in conda if not d.startswith(("python", "pip"))] +
                 [d for d in pip if not d.startswith("-")])


def test_every_env_matches_the_package_dependencies():
    package = parse(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert envs
    for env in envs:
        assert env_requirements(env) == package, env.name
        text = env.read_text()
        assert "-e ../" in text, f"{env.name} must install the project package itself"


def test_every_rule_uses_an_existing_env():
    for smk in (REPO / "rules").glob("*.smk"):
        for env in re.findall(r'conda:\s*\n\s*"([^"]+)"', smk.read_text()):
            assert (smk.parent / env).resolve().exists(), f"{smk.name}: {env}"

"""One source per fact: each model's and base's settings are its constructor's annotated keyword
parameters (iml.settings); the config schema must offer exactly those, with matching types."""

import dataclasses
import inspect
import types
import typing
from pathlib import Path

import pytest
import yaml

from iml.bases import BASES
from iml.models import FAMILIES, MODELS, family_of, spec
from iml.settings import settings_class

SCHEMA = yaml.safe_load((Path(__file__).parents[1] / "schemas" / "config.schema.yaml").read_text())
JSON_TYPES = {int: {"integer"}, float: {"number"}, bool: {"boolean"}, str: {"string"}, type(None): {"null"}}


def resolve(node):
    """A schema node with its $ref merged in (2020-12 allows siblings beside $ref)."""
    if "$ref" not in node:
        return node
    target = SCHEMA
    for key in node["$ref"].removeprefix("#/").split("/"):
        target = target[key]
    return {**resolve(target), **{k: v for k, v in node.items() if k != "$ref"}}


def schema_kind(node):
    """(JSON types the node accepts, its enum values or None)."""
    node = resolve(node)
    if "enum" in node:
        return {next(iter(JSON_TYPES[type(v)])) for v in node["enum"]}, set(node["enum"])
    if "oneOf" in node or "anyOf" in node:
        kinds = [schema_kind(n) for n in node.get("oneOf", node.get("anyOf"))]
        enums = [e for _, e in kinds if e is not None]
        return set().union(*(t for t, _ in kinds)), (set().union(*enums) if enums else None)
    kind = node["type"]
    return set(kind if isinstance(kind, list) else [kind]), None


def annotation_kind(hint):
    """(JSON types a setting annotated `hint` takes, its Literal values or None)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return {next(iter(JSON_TYPES[type(v)])) for v in args}, set(args)
    if origin in (typing.Union, types.UnionType):
        kinds = [annotation_kind(a) for a in args]
        enums = [e for _, e in kinds if e is not None]
        nullable = {None} if type(None) in args else set()
        return set().union(*(t for t, _ in kinds)), (nullable | set().union(*enums) if enums else None)
    if origin is tuple:
        return {"array"}, None
    return JSON_TYPES[hint], None


def assert_schema_matches(cls, properties, where):
    fields = {f.name: f.type for f in dataclasses.fields(settings_class(cls))}
    assert set(properties) == set(fields), (
        f"{where}: settings of {cls.__name__} missing from the schema: {sorted(set(fields) - set(properties))}; "
        f"in the schema but not taken by {cls.__name__}: {sorted(set(properties) - set(fields))}")
    for name, hint in fields.items():
        assert schema_kind(properties[name]) == annotation_kind(hint), f"{where}.{name}: schema and {hint} differ"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_setting_is_in_the_schema_with_its_type(name):
    algorithm = resolve(SCHEMA["properties"]["algorithms"]["properties"][name])
    model = algorithm["properties"]["model"]
    assert model["additionalProperties"] is False  # a misspelt setting is refused
    assert_schema_matches(MODELS[name].builder, model.get("properties", {}), f"algorithms.{name}.model")


@pytest.mark.parametrize("name", sorted(BASES))
def test_every_base_setting_is_in_the_schema_with_its_type(name):
    node = SCHEMA["$defs"][f"{name}_settings"]
    assert node["additionalProperties"] is False
    assert_schema_matches(BASES[name].builder, node.get("properties", {}), f"bases.{name}")
    assert SCHEMA["properties"]["bases"]["properties"][name]  # and the config can set it


def test_the_schema_offers_each_base_and_model_the_registries_have():
    assert set(SCHEMA["$defs"]["algorithm"]["properties"]["base"]["enum"]) == set(BASES)
    checked = {case["if"]["properties"]["base"]["const"]: case["then"]["properties"]["base_settings"]["$ref"]
               for case in SCHEMA["$defs"]["base_settings_checked"]["allOf"]}
    assert checked == {name: f"#/$defs/{name}_settings" for name in BASES}  # base_settings checked as bases.<name>
    configurable = SCHEMA["properties"]["algorithms"]["properties"]
    variants = {a for a, node in configurable.items() if node == {"$ref": "#/$defs/variant"}}
    assert set(configurable) - variants == set(MODELS)
    assert "model_of" in SCHEMA["$defs"]["variant"]["properties"]
    assert set(SCHEMA["$defs"]["variant"]["properties"]["base"]["enum"]) <= set(BASES)


def test_the_registry_declares_what_each_model_can_do():
    for name, model in MODELS.items():
        assert model.family in FAMILIES, name
        assert model.encoder == hasattr(model.builder, "encode"), name
        assert model.exact_likelihood == hasattr(model.builder, "log_volume"), name  # Eq. 6 needs log V(x)
    assert [f for f in FAMILIES] == sorted(FAMILIES, key=lambda f: MODELS[f].order)


def test_a_variant_takes_the_capabilities_of_the_model_it_uses():
    config = yaml.safe_load((Path(__file__).parents[1] / "config.yaml").read_text())
    families = family_of(config["algorithms"])
    assert families["iml_allcodes"] == "iml" and families["wgan_dcgan"] == "wgan"
    assert spec("iml_allcodes", config["algorithms"]).exact_likelihood
    with pytest.raises(ValueError, match="unknown algorithm 'iml_allcodes'.*model_of"):
        spec("iml_allcodes")  # without the config, a variant is not guessed from its name


def test_reading_the_registry_imports_no_network_code():
    """The Snakefile reads the registry at start-up; torch is loaded only when a model is built."""
    import subprocess
    import sys

    code = "import sys, iml.models, iml.tables; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[1])
    assert out.stdout.strip() == "False"


def test_the_classifier_settings_are_the_schemas_and_the_configs():
    """evaluate.classifier: its model settings are classifier.DEFAULTS's (which config.yaml states),
    beside the rule's own seed and accuracy_bar."""
    from iml.metrics import classifier

    config = yaml.safe_load((Path(__file__).parents[1] / "config.yaml").read_text())["evaluate"]["classifier"]
    node = SCHEMA["properties"]["evaluate"]["properties"]["classifier"]
    rule_only = {"seed", "accuracy_bar"}
    assert set(node["properties"]) == set(node["required"]) == set(classifier.DEFAULTS) | rule_only
    assert {k: v for k, v in config.items() if k not in rule_only} == classifier.DEFAULTS
    assert config["accuracy_bar"] == classifier.ACCURACY_BAR == 0.98  # the paper settings' bar


def test_the_speech_settings_are_the_schemas_and_the_configs():
    """audio.speech: the classifier's model and training settings are speech.DEFAULTS's, the
    detector's speech.VAD_DEFAULTS's (config.yaml states both), beside the rule's own keys."""
    from iml.metrics import speech
    from iml.steps.speech import CLASSIFIER_KEYS

    config = yaml.safe_load((Path(__file__).parents[1] / "config.yaml").read_text())["audio"]["speech"]
    node = SCHEMA["properties"]["audio"]["properties"]["speech"]["properties"]
    assert set(node["classifier"]["properties"]) == set(speech.DEFAULTS) | set(CLASSIFIER_KEYS)
    assert {k: v for k, v in config["classifier"].items() if k not in CLASSIFIER_KEYS} == speech.DEFAULTS
    assert set(node["vad"]["properties"]) == set(speech.VAD_DEFAULTS) and config["vad"] == speech.VAD_DEFAULTS


# settings config.yaml runs with a value other than the code's default, and why; every other
# setting config.yaml names equals the default of the constructor or function that takes it
RUNS_OTHERWISE = {
    "bases.gmm.max_iter": "the workflow allows its GMMs 500 EM iterations before warning of non-convergence",
    "bases.gmm.max_codes": "the authors' code fits its GMM on 3000 codes drawn at random; direct use fits all",
    "bases.dpgmm.max_codes": "a cap on the DPGMM's fit time in the which-base runs; direct use fits all",
    **{f"bases.flow.{k}": "the workflow trains longer and lets early stopping decide; the default keeps a "
       "direct fit to minutes on two CPU cores" for k in ("epochs", "batch_size", "patience")},
    **{f"algorithms.{a}.model.{k}": "the WGAN authors' RMSprop schedule; the default is the Adam option"
       for a in ("wgan", "wgan_dcgan") for k in ("optimizer", "n_critic_warmup")},
    "audio.sequence": "the paper's concatenated training sequence; the HMM's default chains each recording",
    "algorithms.iml_audio_upsample.model.decoder": "the variant that names the other decoder; the default is the paper's",
}


def _default(fn, name):
    """The default of parameter `name` of a function or a class's constructor (a tuple as a list);
    inspect.Parameter.empty where it has none."""
    parameter = inspect.signature(fn).parameters.get(name)
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return inspect.Parameter.empty
    return list(parameter.default) if isinstance(parameter.default, tuple) else parameter.default


def _config_and_code_defaults():
    """{config path: [(config.yaml's value, a code default)]} for each setting both give, one pair per
    constructor or function that takes it."""
    from iml.bases.hmm import GaussianHMMBase
    from iml.data import download, fsdd
    from iml.metrics import kde

    config = yaml.safe_load((Path(__file__).parents[1] / "config.yaml").read_text())
    takers = [(f"bases.{name}", settings, [BASES[name].builder]) for name, settings in config["bases"].items()]
    takers += [(f"algorithms.{a}.model", s["model"], [MODELS[a].builder])
               for a, s in config["algorithms"].items() if "model" in s]
    takers += [("data", {k: config["data"][k] for k in ("retries", "timeout")}, [download.fetch, fsdd.fetch_fsdd]),
               ("evaluate.kde.paper", config["evaluate"]["kde"]["paper"], [kde.paper_kde_score]),
               ("evaluate.kde", {k: config["evaluate"]["kde"][k] for k in ("block_rows", "block_cols")},
                [kde.kde_log_likelihood]),
               ("audio", {"sequence": config["audio"]["sequence"]}, [GaussianHMMBase])]
    pairs = {}
    for where, settings, functions in takers:
        for name, value in settings.items():
            for fn in functions:
                default = _default(fn, name)
                if default is not inspect.Parameter.empty:
                    pairs.setdefault(f"{where}.{name}", []).append((value, default))
    return pairs


def test_each_config_value_is_the_codes_default_unless_declared_otherwise():
    """One value per setting (docs/layout.md, Defaults): a value config.yaml names that a
    constructor or function also defaults is that default, save RUNS_OTHERWISE's."""
    pairs = _config_and_code_defaults()
    assert {"bases.hmm.n_states", "bases.gmm.n_components", "data.retries", "evaluate.kde.paper.sigma"} <= set(pairs)
    differ = {where for where, found in pairs.items() if any(value != default for value, default in found)}
    assert differ == set(RUNS_OTHERWISE), (
        f"config.yaml and the code's defaults differ undeclared: "
        f"{ {w: pairs[w] for w in differ - set(RUNS_OTHERWISE)} }; declared but equal: {set(RUNS_OTHERWISE) - differ}")

"""Each model's and base's settings, declared once: its constructor's annotated keyword
parameters and their defaults. settings_class(cls) gives them as a dataclass; the config
schema (schemas/config.schema.yaml) is checked against it by tests/test_settings.py, so every
setting can be given in the config and a misspelt one is refused when the config is read."""

import dataclasses
import functools
import inspect
import typing

# constructor parameters the workflow fills from the run, not from settings
RUN_INPUTS = {"latent_dim": "the run's K", "data_dim": "the dataset's", "random_state": "the run's seed"}


@functools.cache
def settings_class(cls):
    """A frozen dataclass of cls's settings: (name, annotated type, default) per parameter."""
    hints = typing.get_type_hints(cls.__init__)
    fields = []
    for name, param in list(inspect.signature(cls.__init__).parameters.items())[1:]:
        if name in RUN_INPUTS:
            continue
        if name not in hints or param.default is inspect.Parameter.empty:
            raise TypeError(f"{cls.__name__}: setting {name!r} needs a type annotation and a default")
        fields.append((name, hints[name], dataclasses.field(default=param.default)))
    return dataclasses.make_dataclass(f"{cls.__name__}Settings", fields, frozen=True)


def defaults(cls):
    """{setting: default} of cls."""
    return dataclasses.asdict(settings_class(cls)())

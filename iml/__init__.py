"""Learning the base distribution in implicit generative models (two-stage IML)."""

__version__ = "0.1.0"

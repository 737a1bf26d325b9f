"""crystalbench: a reproducible benchmark of asymmetric-unit crystal graphs and ForceNet."""

__version__ = "0.1.0"

"""Model files, runs and results: the pipeline behind the ``plasticsim`` command.

A *model* (a TOML file, or the same structure as a dict) describes a network, its neurons
and noise, how to prune it (the exact offline rule, the online Brian2 sleep simulator,
baseline controls) and how to evaluate the result (spectra, dynamics). The schema is
documented in ``models/README.md``; :data:`SCHEMA` is its machine-readable form. Every
unknown key, wrong type or out-of-range value is a :class:`ModelError` that names the
file, the key and the rule.

:func:`run_model` runs a model and returns :class:`Results` (metrics, arrays, figures);
:meth:`Results.save` writes them atomically to a directory.

Times in a model are in units of the membrane time constant ``tau`` (DESIGN.md §1),
except ``neurons.tau`` itself, in milliseconds, which sets the physical time scale of the
online Brian2 simulation and labels the figures.

Randomness: one integer seed per run. Every stage (network, offline sampling, each
control, online simulation, dynamics noise, dynamics inputs) draws from its own child of
``numpy.random.SeedSequence(seed)``, spawned in a fixed order, so the stages are
independent, each is reproducible on its own, and switching one stage off does not change
the numbers of the others.

The package, one concept per module: ``_schema`` (the schema and its checks), ``_model``
(loading and ``--set`` overrides), ``_network``, ``_run`` (the stages and
:func:`run_model`), ``_online`` (the online stage), ``_spiking`` (the stages of a spiking
model), ``_progress`` and ``_results``
(saving and reading). Import from ``plasticsim.experiment``; the modules are private.
"""

from ._model import Model, load_model, models_dir, resolve_model, shipped_models
from ._progress import LogProgress, NoProgress
from ._results import Results, read_results
from ._run import run_model
from ._schema import METHODS, SCHEMA, ModelError

__all__ = [
    "SCHEMA",
    "METHODS",
    "ModelError",
    "Model",
    "Results",
    "LogProgress",
    "NoProgress",
    "load_model",
    "run_model",
    "read_results",
    "shipped_models",
    "resolve_model",
    "models_dir",
]

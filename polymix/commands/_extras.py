"""Which `pip install 'polymix[...]'` brings a module a command needs.

The core install is enough for a local `polymix run`; the trainer (`train`, `model-info`,
`plan`) needs `polymix[train]` and Google Cloud paths and the Dataflow runner need
`polymix[dataflow]`. A command that reaches a module of an extra that is not installed ends
with one line naming the extra, not an ImportError traceback.
"""

from __future__ import annotations

EXTRA_OF_MODULE = {
    "jax": "train",
    "jaxlib": "train",
    "optax": "train",
    "orbax": "train",
    "grain": "train",
    "tensorboardX": "train",
    "google": "dataflow",
    "apitools": "dataflow",
}


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The one-line fix for a missing module of an extra; None for any other missing module."""
    root = (exc.name or "").split(".", 1)[0]
    extra = EXTRA_OF_MODULE.get(root)
    if extra is None:
        return None
    return f"this needs {exc.name}, which comes with `pip install 'polymix[{extra}]'`"

"""What the sandbox's fork server imports once, before any worker is forked from it.

Every module a job may need is imported here, so that a worker starts with
it already loaded: torch, the library, SymPy (four ways to a derivative),
scikit-learn (the t-SNE datasets and comparison). Then one small function is
explored and drawn, which loads what torch imports on first use (its first
operation on the ``meta`` device imports TorchDynamo: a second). Nothing here
may start a thread pool: the fork server forks, and a process that forks must
not hold OpenMP or Numba threads. So torch runs on one thread here, and
Numba's kernels are loaded by each heavy worker after the fork
(:func:`warm_heavy`).
"""
from __future__ import annotations

import gc

import torch  # noqa: F401

import explorer  # noqa: F401
import explorer.compare  # noqa: F401
import explorer.demos.regression  # noqa: F401
import explorer.demos.tsne  # noqa: F401
import explorer.derivatives  # noqa: F401
import explorer.mechanics  # noqa: F401
import explorer.presets  # noqa: F401
import explorer.symbolic  # noqa: F401
import explorer.views  # noqa: F401
import sklearn.datasets  # noqa: F401
import sklearn.manifold  # noqa: F401


def warm_light() -> None:
    """One exploration of a small function, drawn: every lazy import of that path, done once."""
    from explorer.views import Request, view

    torch.set_num_threads(1)  # one thread: no OpenMP pool in a process that forks
    request = Request("w = sin(x) * y; w**2 + F.softplus(x @ y)", (("x", "[1.0, 2.0]"), ("y", "[0.5, 0.25]")))
    for style in ("annotated", "torchviz"):   # torchviz's view imports torchviz: a third of a second, once here
        view(request, ("graph", style, ()))


warm_light()
# Objects made so far are never collected: a collection in a worker would write to every one of them
# and so copy the fork server's pages into each worker (Python's advice for forking servers).
gc.freeze()


def warm_heavy(threads: int) -> None:
    """Load the t-SNE kernels (from Numba's disk cache: about 0.5 s) with ``threads`` threads."""
    try:
        import numba

        from explorer.demos.tsne import warm_kernels
    except ImportError:  # Numba is optional at run time: the torch path needs nothing warmed
        return
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    warm_kernels()

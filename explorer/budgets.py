"""How big a heavy run a stranger may start: the budgets a hosted server holds every visitor to.

They are checked where the work runs (the sandboxed entry points, in the
worker), whatever a page or a URL asks, and refused as an
:class:`~explorer.ExpressionError`. This module imports nothing of the
sandbox, so that the library's entry points can check them without a cycle.

>>> BUDGETS.check_tsne(1797, 20_000)   # digits, the longest run the t-SNE page offers
>>> BUDGETS.check_model(20_000)
Traceback (most recent call last):
...
explorer.expression.ExpressionError: a model of depth 20,000 is more than this server builds for one visitor (at most 5,000)
"""
from __future__ import annotations

from dataclasses import dataclass

from explorer.expression import ExpressionError


@dataclass(frozen=True)
class Budgets:
    """The largest heavy runs a hosted server starts, each about a minute of one worker on a small CPU.

    Checked where the work runs, in the sandboxed entry points (:func:`explorer.demos.regression.live`,
    :func:`explorer.demos.tsne.prepared` and ``live``, :func:`explorer.presets.model_exploration`), whatever a
    page or a URL asks. The sizes follow the speeds that ``bench/tsne.py`` and ``bench/regression.py`` print
    (the README keeps their figures).
    """

    tsne_pair_iterations: float = 2e11   # N² × iterations: 5,000 points for 8,000 iterations, digits for 60,000
    tsne_points: int = 5000              # points of any t-SNE work, ours or scikit-learn's (P alone is N² float64)
    sklearn_exact_points: int = 2000     # scikit-learn's exact TSNE: about a minute on digits, growing as N²
    regression_seconds: float = 60.0     # estimated from points, batch size and epochs:
    regression_step: float = 2.5e-4      #   seconds of one optimiser step, plus
    regression_point: float = 5e-8       #   seconds per point of its batch (bench/regression.py)
    model_depth: int = 5000              # layers or steps of a built-in model (about 25,000 graph nodes)

    def check_tsne(self, n: int, iterations: int = 0) -> None:
        """Refuse t-SNE work on more than ``tsne_points`` points, or a run of ``iterations`` iterations beyond
        the budget, saying what fits."""
        if n > self.tsne_points:
            raise ExpressionError(f"t-SNE on {n:,} points is more than this server computes for one visitor: "
                                  f"at most {self.tsne_points:,} points")
        cost = float(n) * n * iterations
        if cost > self.tsne_pair_iterations:
            most = int(self.tsne_pair_iterations / (float(n) * n))
            raise ExpressionError(f"{iterations:,} iterations on {n:,} points is more than this server runs for "
                                  f"one visitor: at most {most:,} iterations for {n:,} points")

    def check_sklearn(self, n: int, method: str) -> None:
        """Refuse scikit-learn's exact TSNE on more than ``sklearn_exact_points`` points (Barnes-Hut goes on)."""
        self.check_tsne(n)
        if method == "exact" and n > self.sklearn_exact_points:
            raise ExpressionError(f"scikit-learn's exact TSNE on {n:,} points takes minutes: this server runs it on "
                                  f"at most {self.sklearn_exact_points:,} points (Barnes-Hut has no such limit)")

    def check_regression(self, n: int, epochs: int, batch: int | None) -> None:
        """Refuse a regression run estimated over ``regression_seconds``."""
        per_epoch = 1 if not batch or batch >= n else -(-n // batch)
        points = n if per_epoch == 1 else batch
        seconds = epochs * per_epoch * (self.regression_step + points * self.regression_point)
        if seconds > self.regression_seconds:
            raise ExpressionError(f"{epochs:,} epochs of {per_epoch:,} steps on {n:,} points would take about "
                                  f"{seconds:,.0f} s; this server runs at most about {self.regression_seconds:g} s "
                                  f"for one visitor: fewer epochs, fewer points or bigger batches")

    def check_model(self, depth: int | None) -> None:
        """Refuse a built-in model deeper than ``model_depth`` (``None``: the model's default depth, within it)."""
        if depth is not None and depth > self.model_depth:
            raise ExpressionError(f"a model of depth {depth:,} is more than this server builds for one visitor "
                                  f"(at most {self.model_depth:,})")


BUDGETS = Budgets()

__all__ = ["BUDGETS", "Budgets"]

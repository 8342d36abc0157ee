"""The budgets of heavy runs (explorer/budgets.py); that each holds where its work runs: test_hosting.py."""
from __future__ import annotations

import pytest

from explorer import ExpressionError
from explorer.budgets import BUDGETS, Budgets


def test_budgets_refuse_runs_too_big_for_a_shared_server_and_say_what_fits():
    BUDGETS.check_tsne(1797, 20_000)  # digits, the longest run the page offers
    with pytest.raises(ExpressionError, match="at most 8,000 iterations for 5,000 points"):
        BUDGETS.check_tsne(5000, 20_000)
    BUDGETS.check_regression(100, 500, None)  # the seed's run
    with pytest.raises(ExpressionError, match="fewer epochs"):
        BUDGETS.check_regression(1_000_000, 100_000, 1)
    with pytest.raises(ExpressionError, match="at most 5,000"):
        BUDGETS.check_model(20_000)


def test_t_sne_points_and_scikit_learns_exact_method_have_budgets_of_their_own():
    with pytest.raises(ExpressionError, match="at most 5,000 points"):
        BUDGETS.check_tsne(5001)
    BUDGETS.check_sklearn(1797, "exact")       # digits: scikit-learn's exact method is offered
    BUDGETS.check_sklearn(5000, "barnes_hut")
    with pytest.raises(ExpressionError, match="at most 2,000 points"):
        BUDGETS.check_sklearn(2001, "exact")


def test_a_smaller_budget_refuses_sooner():
    small = Budgets(model_depth=10, regression_seconds=1.0)
    small.check_model(10)
    with pytest.raises(ExpressionError, match="at most 10"):
        small.check_model(11)
    with pytest.raises(ExpressionError, match="about 1 s"):
        small.check_regression(100, 5000, None)

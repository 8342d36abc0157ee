"""The SGD regression demo: convergence to least squares, divergence above the stability limit."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from explorer.demos.regression import fit, least_squares, loss_at, make_data, stability_limit

ROOT = Path(__file__).resolve().parents[2]


def last(iterator):
    result = None
    for result in iterator:
        pass
    return result


def test_full_batch_gradient_descent_reaches_least_squares():
    data = make_data(200, seed=1, dtype=torch.float64)
    end = last(fit(data, lr=0.5, epochs=400, report_every=400))
    b0, b1 = least_squares(data)
    assert abs(end.b0 - b0) < 1e-6 and abs(end.b1 - b1) < 1e-6


def test_minibatch_sgd_ends_within_one_percent_of_the_least_squares_loss():
    data = make_data(1000, seed=2)
    end = last(fit(data, lr=0.01, batch_size=32, epochs=30, report_every=30))
    assert loss_at(data, end.b0, end.b1) <= 1.01 * loss_at(data, *least_squares(data))


def test_the_stability_limit_separates_convergence_from_divergence():
    data = make_data(100, seed=0, dtype=torch.float64)
    limit = stability_limit(data)
    x = torch.stack([torch.ones(100, dtype=torch.float64), data.x])
    assert limit == pytest.approx(2 / torch.linalg.eigvalsh(2 / 100 * x @ x.T).max().item())
    below = last(fit(data, lr=0.95 * limit, epochs=2000, report_every=2000, init=(0.0, 0.0)))
    assert below.loss == pytest.approx(loss_at(data, *least_squares(data)), rel=1e-6)
    above = list(fit(data, lr=1.05 * limit, epochs=3000, report_every=10, init=(0.0, 0.0)))
    assert above[-1].diverged or above[-1].loss > 1e6 * above[0].loss


@pytest.mark.parametrize("optimizer, lr", [("momentum", 0.05), ("adam", 0.05)])
def test_momentum_and_adam_converge(optimizer, lr):
    data = make_data(100, seed=3, dtype=torch.float64)
    end = last(fit(data, optimizer=optimizer, lr=lr, epochs=1500, report_every=1500))
    assert loss_at(data, end.b0, end.b1) == pytest.approx(loss_at(data, *least_squares(data)), rel=1e-5)


def test_snapshots_come_every_k_epochs_and_at_the_end():
    data = make_data(50, seed=0)
    epochs = [s.epoch for s in fit(data, epochs=250, report_every=100)]
    assert epochs == [0, 100, 200, 249]


def test_device_selection():
    assert make_data(10, device="cpu").x.device.type == "cpu"
    with pytest.raises(ValueError, match="unknown device"):
        make_data(10, device="tpu")


@pytest.mark.parametrize("kwargs, fragment", [
    ({"optimizer": "lbfgs"}, "optimizer"), ({"lr": -1}, "learning rate"), ({"epochs": 0}, "epochs"),
    ({"batch_size": 0}, "batch_size"), ({"report_every": 0}, "report_every"),
])
def test_parameters_are_validated(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        list(fit(make_data(10), **kwargs))
    with pytest.raises(ValueError, match="n must be"):
        make_data(1)


def test_command_line_json():
    done = subprocess.run([sys.executable, "-m", "explorer", "regression", "--json", "--epochs", "200"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"params", "ols_params", "final_loss", "device", "lr_limit"} <= set(result)
    assert result["final_loss"] == pytest.approx(result["ols_loss"], rel=1e-5)
    bad = subprocess.run([sys.executable, "-m", "explorer", "regression", "--lr", "-1"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "learning rate" in bad.stderr

"""Fit y = b0 + b1·x by gradient descent with autograd, and compare with least squares.

Examples:
  python -m explorer regression --json
  python -m explorer regression --optimizer adam --lr 0.05 --epochs 300
  python -m explorer regression --batch-size 10 --lr 0.05 --n 1000 --noise 0.5

Without --json it prints the loss and gradients every --every epochs, as seed
004 does, then the fitted and least-squares parameters. The JSON object has
params, ols_params, final_loss (on all the data), ols_loss, lr_limit (2/λmax
of the loss's Hessian), diverged, epochs, seconds, optimizer and device.
"""
from __future__ import annotations

import argparse
import sys
import time

from explorer.choices import DEVICE_CHOICES

HELP = "fit a line by gradient descent (SGD, momentum, Adam) and compare with least squares"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=100, help="number of points (default 100)")
    parser.add_argument("--b0", type=float, default=2.0, help="true intercept (default 2)")
    parser.add_argument("--b1", type=float, default=1.0, help="true slope (default 1)")
    parser.add_argument("--noise", type=float, default=1.0, help="noise standard deviation (default 1)")
    parser.add_argument("--optimizer", choices=("sgd", "momentum", "adam"), default="sgd")
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    parser.add_argument("--batch-size", type=int, default=None, help="minibatch size (default: all points)")
    parser.add_argument("--epochs", type=int, default=500, help="default 500")
    parser.add_argument("--every", type=int, default=100, help="print every this many epochs (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from explorer.cli import print_json
    from explorer.demos.regression import fit, least_squares, loss_at, make_data, seed_log, stability_limit

    if args.every < 1:
        raise ValueError("--every must be at least 1")
    data = make_data(args.n, args.b0, args.b1, args.noise, seed=args.seed, device=args.device)
    start = time.perf_counter()
    last = None
    for snapshot in fit(data, optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size,
                        epochs=args.epochs, seed=args.seed, report_every=args.every):
        last = snapshot
        if not args.json:
            print(seed_log(snapshot))
        else:
            print(f"epoch {snapshot.epoch + 1}/{args.epochs}", file=sys.stderr, end="\r")
    seconds = time.perf_counter() - start
    ols = least_squares(data)
    result = {
        "params": {"b0": last.b0, "b1": last.b1},
        "ols_params": {"b0": ols[0], "b1": ols[1]},
        "final_loss": loss_at(data, last.b0, last.b1) if not last.diverged else float("inf"),
        "ols_loss": loss_at(data, *ols),
        "lr_limit": stability_limit(data),
        "diverged": last.diverged,
        "epochs": last.epoch + 1,
        "seconds": seconds,
        "optimizer": args.optimizer,
        "lr": args.lr,
        "device": str(data.x.device),
    }
    if args.json:
        print_json(result)
        return 0
    print(f"b0: {last.b0}\nb1: {last.b1}")
    print(f"least squares: b0 = {ols[0]:.6f}, b1 = {ols[1]:.6f}; loss {result['final_loss']:.6g} "
          f"vs {result['ols_loss']:.6g}; stable learning rates < {result['lr_limit']:.4g}"
          + ("; DIVERGED" if last.diverged else ""))
    return 0

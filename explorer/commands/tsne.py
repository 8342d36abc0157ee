"""Run exact t-SNE with the standard schedule and check its KL gradient against the paper.

Examples:
  python -m explorer tsne --dataset digits --json
  python -m explorer tsne --dataset iris --perplexity 20 --iterations 500
  python -m explorer tsne --dataset blobs --n 2000 --tol 0 --save-embedding blobs.csv

The JSON object has kl (the exact KL(P||Q) of the final embedding, in float64),
seconds (wall time from the perplexity search to the last iteration),
iterations, grad_check_max_rel_error (autograd against equation 5 of van der
Maaten & Hinton, in float64: at a random Y with and without early exaggeration,
and at the first and last embedding of each phase of the run, with its α),
grad_checks (each of those), reference_ratio (autograd / the reference code's
gradient: 4), trustworthiness (10 neighbours), device, dataset and n. Progress
goes to stderr.
"""
from __future__ import annotations

import argparse
import sys
import time

from explorer.choices import DEVICE_CHOICES

HELP = "run t-SNE and check its KL gradient against the paper's formula"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=("digits", "iris", "wine", "blobs"), default="digits")
    parser.add_argument("--n", type=int, default=None, help="use only the first N points (blobs: make N)")
    parser.add_argument("--perplexity", type=float, default=30.0)
    parser.add_argument("--iterations", type=int, default=1000, help="at most this many (default 1000)")
    parser.add_argument("--early-exaggeration", type=float, default=12.0)
    parser.add_argument("--exploration-iterations", type=int, default=250,
                        help="iterations of early exaggeration (default 250)")
    parser.add_argument("--learning-rate", default="auto", help="'auto' (default: max(N/12/4, 50)) or a number")
    parser.add_argument("--tol", type=float, default=1e-4,
                        help="stop when KL improves by less than this (relative) in 50 iterations; 0 never")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    parser.add_argument("--save-embedding", metavar="FILE.csv", help="write the final embedding (x, y, label)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from explorer.cli import print_json
    from explorer.device import resolve_device
    from explorer.demos.tsne import (
        checks_along_run, gradient_check, joint_probabilities, load_dataset, score, tsne,
    )

    lr = args.learning_rate if args.learning_rate == "auto" else float(args.learning_rate)
    X, labels = load_dataset(args.dataset, args.n, seed=args.seed)
    start = time.perf_counter()
    P = joint_probabilities(X, args.perplexity)
    snapshots = []
    for snapshot in tsne(X, P=P, n_iter=args.iterations, early_exaggeration=args.early_exaggeration,
                         exploration_iter=args.exploration_iterations, learning_rate=lr, tol=args.tol,
                         seed=args.seed, device=args.device):
        snapshots.append(snapshot)
        if snapshot.kl is not None:
            print(f"iteration {snapshot.iteration:>5}  KL {snapshot.kl:.4f}  ({snapshot.phase})",
                  file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    last = snapshots[-1]
    gen = torch.Generator().manual_seed(args.seed)
    Y0 = torch.randn(X.shape[0], 2, generator=gen, dtype=torch.float64)
    checks = [("random Y", alpha, gradient_check(P, Y0, alpha)) for alpha in (1.0, args.early_exaggeration)]
    checks += [(f"iteration {s.iteration}", s.exaggeration, c) for s, c in checks_along_run(P, snapshots)]
    if args.save_embedding:
        np.savetxt(args.save_embedding, np.column_stack([last.Y, labels]), delimiter=",",
                   header="x,y,label", comments="", fmt=["%.6g", "%.6g", "%s"])
    scored = score(X, P, last.Y)
    result = {
        "dataset": args.dataset, "n": int(X.shape[0]),
        "kl": scored["kl"],
        "seconds": seconds, "iterations": last.iteration,
        "grad_check_max_rel_error": max(c.max_rel_error for _, _, c in checks),
        "grad_checks": [{"at": at, "exaggeration": alpha, "max_rel_error": c.max_rel_error}
                        for at, alpha, c in checks],
        "reference_ratio": checks[0][2].reference_ratio,
        "trustworthiness": scored["trustworthiness"],
        "device": str(resolve_device(args.device)),
    }
    if args.json:
        print_json(result)
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0

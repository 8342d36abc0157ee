"""Run exact t-SNE with the standard schedule and check its KL gradient against the paper.

Examples:
  python -m explorer tsne --dataset digits --json
  python -m explorer tsne --dataset iris --perplexity 20 --iterations 500

The JSON object has kl (the exact KL(P||Q) at the end), seconds, iterations,
grad_check_max_rel_error (autograd against equation 5 of van der Maaten &
Hinton, float64, with and without early exaggeration), reference_ratio
(autograd / the reference code's gradient: 4), trustworthiness (10
neighbours), device, dataset and n. Progress goes to stderr.
"""
from __future__ import annotations

import argparse
import sys

HELP = "run t-SNE and check its KL gradient against the paper's formula"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=("digits", "iris", "wine", "blobs"), default="digits")
    parser.add_argument("--n", type=int, default=None, help="use only the first N points")
    parser.add_argument("--perplexity", type=float, default=30.0)
    parser.add_argument("--iterations", type=int, default=1000, help="at most this many (default 1000)")
    parser.add_argument("--early-exaggeration", type=float, default=12.0)
    parser.add_argument("--learning-rate", default="auto", help="'auto' (default) or a number")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=("auto", "cuda", "mps", "cpu"), default="auto")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    import torch

    from explorer.cli import print_json
    from explorer.device import resolve_device
    from explorer.demos.tsne import gradient_check, joint_probabilities, load_dataset, trustworthiness, tsne

    lr = args.learning_rate if args.learning_rate == "auto" else float(args.learning_rate)
    X, labels = load_dataset(args.dataset, args.n, seed=args.seed)
    P = joint_probabilities(X, args.perplexity)
    gen = torch.Generator().manual_seed(args.seed)
    Y0 = torch.randn(X.shape[0], 2, generator=gen, dtype=torch.float64)
    checks = [gradient_check(P, Y0, alpha) for alpha in (1.0, args.early_exaggeration)]
    last = None
    for snapshot in tsne(X, P=P, perplexity=args.perplexity, n_iter=args.iterations,
                         early_exaggeration=args.early_exaggeration, learning_rate=lr, seed=args.seed,
                         device=args.device):
        last = snapshot
        if snapshot.kl is not None:
            print(f"iteration {snapshot.iteration:>5}  KL {snapshot.kl:.4f}  ({snapshot.phase})",
                  file=sys.stderr, flush=True)
    result = {
        "dataset": args.dataset, "n": int(X.shape[0]), "kl": last.kl, "seconds": last.seconds,
        "iterations": last.iteration,
        "grad_check_max_rel_error": max(c.max_rel_error for c in checks),
        "reference_ratio": checks[0].reference_ratio,
        "trustworthiness": trustworthiness(X, last.Y),
        "device": str(resolve_device(args.device)),
    }
    if args.json:
        print_json(result)
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0

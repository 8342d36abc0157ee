"""Copy as PyTorch code: the generated script runs in a plain Python process and prints our numbers.

All scripts of one test run in one subprocess (a driver runs each file and
keeps what it prints), so that torch is imported once, not once per script.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from explorer import explore
from explorer.codegen import pytorch_script
from explorer.expression import Call, Compare, ExpressionError, Index, Seq, parse
from explorer.functions import FUNCTIONS
from explorer.presets import PRESETS
from explorer.vjp import VectorChoice

SPECS = {
    "x": "[0.2, 0.4, 0.7]", "y": "[0.5, 0.1, 0.9]", "p": "[1.0, 2.0, 3.0]", "q": "[0.5, -1.0, 2.0]",
    "A": "rand(2, 3)", "B": "eye(3) + 0.1*rand(3, 3)", "s": "0.3", "k": "tensor([0, 2])", "t": "[0.0, 1.0, 0.5]",
}

# One use of every function of the table at least (test_every_function_is_covered checks it).
FUNCTION_EXAMPLES = [
    "sin(x) + cos(x) + tan(x)", "asin(x) + acos(x) + atan(x) + atan2(x, y)", "sinh(x) + cosh(x) + tanh(x)",
    "asinh(x) + acosh(x + 2) + atanh(x)", "exp(x) + exp2(x) + expm1(x)", "log(x) + log2(x) + log10(x) + log1p(x)",
    "sqrt(x) + rsqrt(x) + square(x) + reciprocal(x)", "pow(x, 3) + abs(x - 0.5) + sign(x - 0.3) * x + erf(x)",
    "sigmoid(x) + relu(x - 0.3) + F.softplus(x, beta=2) + gelu(x, approximate='tanh') + silu(x)",
    "elu(x - 0.5, alpha=0.5) + leaky_relu(x - 0.5, 0.1) + leaky_relu(x, negative_slope=0.2)",
    "softmax(A) + softmax(A, dim=0) + log_softmax(A, 1)", "logsumexp(A) + logsumexp(A, dim=1).sum()",
    "sum(A, 0) + A.sum(dim=0, keepdim=True) + mean(A) + prod(x)", "var(x) + std(x, unbiased=False) + cumsum(x, 0)",
    "max(x) + max(A, dim=1) .sum() + max(x, y) + min(x) + min(A, dim=0) + min(x, y)",
    "amax(A, dim=0) + amin(A, dim=0) + maximum(x, y) + minimum(x, y)",
    "clamp(x, min=0.3, max=0.6) + clip(x, 0.25) + where(x > 0.5, x, y)",
    "dot(x, y) + matmul(A, x) .sum() + mv(A, y) .sum() + mm(A, A.T) .sum() + outer(x, y) .sum()",
    "cross(p, q) + norm(x) + norm(A, dim=1).sum() + torch.linalg.vector_norm(x, ord=3) + torch.linalg.norm(A)",
    "det(B) + torch.linalg.inv(B) + inverse(B) + trace(B) + diag(x)",
    "t(A) + transpose(A, 0, 1) + A.T + x.T.sum()", "reshape(A, 6) + reshape(A, (3, 2)).sum() + flatten(A)",
    "stack([x, y]) + cat([x, y], dim=0).sum()",
    "w1 = x * y\nw2 = -w1**2 + (-x)**2 + 2**x**2\n(w2, w1 / (x + y) - (x - y) * 3, x[0] + x[-1] + A[:, 1:3].sum())",
    "s * x[None, :] @ A.T + A[..., 0].sum() + pi * e",
    # Everyday PyTorch: keywords for positional arguments, torch's constants, names bound again.
    "torch.cumsum(A, dim=1) + A.cumsum(dim=0) + torch.var(x, correction=0) + torch.std(A, dim=0, correction=0)[0]"
    " + x.pow(exponent=2)[0] + transpose(A, dim0=0, dim1=1).sum() + torch.diag(B, diagonal=1).sum()"
    " + torch.pi * torch.e",
    "h = x * y\nh = h + 1\nh += h * 2\ne = h - 1\nx = x * 3\n(e * pi, h, x)",
    "F.mse_loss(x, y) + F.l1_loss(x, y, reduction='sum') + torch.nn.functional.smooth_l1_loss(x, y, beta=0.5)"
    " + F.huber_loss(x, y, reduction='none', delta=0.2)",
    "F.binary_cross_entropy(x, y) + F.binary_cross_entropy_with_logits(A, softmax(A, 1), reduction='sum')",
    "F.cross_entropy(A, k) + F.cross_entropy(A, softmax(2 * A, 1), label_smoothing=0.1)"
    " + F.nll_loss(log_softmax(A, 1), k, reduction='sum') + F.kl_div(log_softmax(x, 0), softmax(y, 0), "
    "reduction='batchmean')",
    "torch.sort(x).values + torch.sort(x, descending=True).indices + x.topk(2).values.sum()"
    " + torch.kthvalue(x, 2).values + A.median(1).values.sum() + A.median(1).indices.sum()"
    " + torch.mode(A, 0).values.sum() + torch.max(A, dim=1).indices.sum() + argmax(x) + torch.argmin(A, dim=0).sum()",
    "x.detach() * x + torch.detach(y) * x",
    "torch.tensor([1.0, 2.0, 3.0]) * x + torch.ones(3) + torch.zeros(2, 3).sum(0) + torch.eye(3) @ x"
    " + torch.arange(3) * x + torch.arange(3.) + torch.linspace(0, 1, 3) + torch.tensor([[1., 2, 3]]) @ B",
    "A.view(3, 2).sum(1) + A.view(-1)[0:3] + x.unsqueeze(0).squeeze(0) + A.permute(1, 0).sum(1)"
    " + torch.permute(A, (1, 0)).contiguous()[0, 1] + x.expand(2, 3).sum(0) + A.mT.sum(1) + x.unsqueeze(dim=1).squeeze()",
    # Issue 20: layers as functions, names used as values, dimensions by position, unpacking, constructor keywords.
    "F.linear(A, A, A[:, 0]).sum() + torch.nn.functional.linear(x, A, bias=y[0:2]).sum() + F.layer_norm(A, 3, x, y)[1]"
    " + F.layer_norm(A, (2, 3), eps=0.01)[0] + F.normalize(A, dim=0).sum(0) + F.normalize(x, 2, 0) + F.normalize(A)[1]"
    " + F.dropout(x, training=False) + torch.nn.functional.dropout(y, 0.0) + F.dropout(x, 0.4, False)"
    " + F.layer_norm(A, normalized_shape=3)[0] + F.layer_norm(A, normalized_shape=(3,))[1] + F.linear(x, A, 0.5).sum()",
    "F.binary_cross_entropy_with_logits(x, t) + t(A).sum() * t",
    "values, indices = torch.sort(x, 0, True)\nv, i = torch.max(A, 1)\n_, j = A.min(0, True)\nh, g = y, x\n"
    "(values * indices + v.sum() * i.sum() + j.sum() * h * g, torch.max(A, 1, True).values * A + torch.min(x, 0.5)"
    " + max(x, y) + torch.sum(A, 1, True) + torch.norm(A, 2, 0) + torch.cross(p, q, 0) + torch.var(A, 0, False))",
    "torch.linspace(3, 10, steps=3) * torch.arange(0, 3, step=1) * x + torch.eye(n=3) @ y + torch.tensor([0.5] * 3)"
    " + torch.arange(end=3.0) + stack([x] * 2).sum(0) + torch.topk(x, 2, 0, False).values.sum()"
    " + torch.max(A, 1)[0].sum() + torch.sort(x)[1]",
    "values, indices = x.sort(0, True)",   # the last line unpacked: two outputs, the indices without a gradient
]


def explore_specs(source: str) -> dict[str, str]:
    return {name: SPECS[name] for name in parse(source).inputs}


def run_scripts(tmp_path: Path, scripts: dict[str, str]) -> dict[str, dict]:
    """Run each script in one fresh Python process; return its stdout and its input gradients."""
    for key, script in scripts.items():
        (tmp_path / f"{key}.py").write_text(script)
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent("""
        import contextlib, io, json, runpy, sys, torch
        results = {}
        for path in sys.argv[1:]:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                namespace = runpy.run_path(path)
            grads = {k: v.grad.tolist() for k, v in namespace.items()
                     if isinstance(v, torch.Tensor) and v.is_leaf and v.grad is not None}
            results[path] = {"stdout": out.getvalue(), "grads": grads}
        print(json.dumps(results))
    """))
    paths = [str(tmp_path / f"{key}.py") for key in scripts]
    done = subprocess.run([sys.executable, str(driver), *paths], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    return {key: results[str(tmp_path / f"{key}.py")] for key in scripts}


def check_same_numbers(ex, result: dict) -> None:
    stdout = result["stdout"]
    for out in ex.outputs:
        assert f"= {out!s}\n" in stdout, (str(out), stdout)
    for name, grad in ex.grads.items():
        if name not in ex.graph.leaves:  # no gradient reaches it (detached): PyTorch leaves .grad None
            assert f"{name}.grad = None\n" in stdout and not grad.any(), (name, stdout)
            continue
        assert f"{name}.grad = {grad!s}\n" in stdout, (name, str(grad), stdout)
        script_name = name if name in result["grads"] else name + "_"
        torch.testing.assert_close(torch.tensor(result["grads"][script_name], dtype=grad.dtype), grad,
                                   rtol=1e-6, atol=1e-7)


def test_every_preset_script_prints_the_explorers_numbers(tmp_path):
    presets = [p for p in PRESETS if p.explorable]
    explorations, scripts = {}, {}
    for p in presets:
        explorations[p.key] = p.explore(device="cpu")
        scripts[p.key] = pytorch_script(p.source, p.inputs, dtype=p.dtype, device="cpu", v=p.v)
    results = run_scripts(tmp_path, scripts)
    for key, ex in explorations.items():
        check_same_numbers(ex, results[key])


def test_every_function_of_the_table_is_written_as_torch_computes_it(tmp_path):
    explorations, scripts = {}, {}
    for i, source in enumerate(FUNCTION_EXAMPLES):
        specs = explore_specs(source)
        explorations[f"f{i}"] = explore(source, inputs=specs, seed=3, device="cpu")
        scripts[f"f{i}"] = pytorch_script(source, specs, seed=3, device="cpu")
    results = run_scripts(tmp_path, scripts)
    for key, ex in explorations.items():
        check_same_numbers(ex, results[key])


def calls_of(expr) -> set[str]:
    """The operations an expression tree calls."""
    found, stack = set(), [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Call):
            found.add(node.op)
            stack.extend(node.args)
        elif isinstance(node, Index):
            stack.append(node.value)
        elif isinstance(node, Compare):
            stack += [node.left, node.right]
        elif isinstance(node, Seq):
            stack.extend(node.items)
    return found


def test_every_function_is_covered():
    used = set()
    for source in FUNCTION_EXAMPLES:
        program = parse(source)
        for expr in [e for _, e in program.assignments] + list(program.outputs):
            used |= calls_of(expr)
    missing = set(FUNCTIONS) - used
    assert not missing, f"add an example for {sorted(missing)} (and check how codegen writes it)"


def test_random_inputs_v_and_names_that_clash_with_the_script(tmp_path):
    source = "print = x * dtype\n(print, sin(v) * device)"
    specs = {"x": "2*pi*rand(4)", "dtype": "randn(4)", "v": "linspace(0, 1, 4)", "device": "arange(4)"}
    vector = [[1.0, 0.0, 2.0, 0.0], [0.5, 0.5, 0.5, 0.5]]
    ex = explore(source, inputs=specs, seed=11, device="cpu",
                 v=VectorChoice("typed", values=str(vector[0] + vector[1])))
    script = pytorch_script(source, specs, seed=11, device="cpu", v=vector)
    assert "generator = torch.Generator().manual_seed(11)" in script
    check_same_numbers(ex, run_scripts(tmp_path, {"clash": script})["clash"])


def test_the_users_text_is_only_ever_a_comment():
    source = 'x + 1  # """; import os\ny = 2'
    with pytest.raises(ExpressionError):
        pytorch_script(source, {"x": 1})
    script = pytorch_script('x + 1  # """ import os', {"x": 1})
    assert "#     x + 1  # \"\"\" import os" in script
    assert script.count('"""') == 2 + 1  # the docstring's two, and the one inside the comment


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="dtype must be one of float32, float64"):
        pytorch_script("x", {"x": 1}, dtype="float16")
    with pytest.raises(ValueError, match="no input spec for y"):
        pytorch_script("x * y", {"x": 1})
    with pytest.raises(ValueError, match="one v for each of the 2 outputs"):
        pytorch_script("(x, 2 * x)", {"x": 1}, v=[1.0])
    with pytest.raises(ValueError, match="device must be"):
        pytorch_script("x", {"x": 1}, device="tpu")

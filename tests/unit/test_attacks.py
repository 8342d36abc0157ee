"""Hostile input: every string is refused with ExpressionError, quickly, with no side effect.

The families follow DEVELOPERS.md: code execution, dunder chains, module paths
without underscores, format strings, frames, Unicode look-alikes, huge
numbers, huge tensors and broadcasts, deep nesting, parser-crashing input.
"""
from __future__ import annotations

import os
import resource
import sys
import time

import pytest
import torch

import explorer
from explorer import ExpressionError
from explorer.cli import main
from explorer.expression import check

BIG = {"x": "ones(3000)", "A": "ones(1500, 1500)", "y": "ones(3000)"}

CODE_EXECUTION = [
    "__import__('os').system('touch /tmp/pwned')", "eval('1+1')", "exec('x=1')", "open('/etc/passwd')",
    "compile('1', 'f', 'eval')", "globals()", "locals()", "vars()", "dir()", "help()", "input()",
    "print(1)", "breakpoint()", "getattr(x, 'grad')", "setattr(x, 'a', 1)", "delattr(x, 'a')",
    "type(x)", "object()", "lambda: 0", "[c for c in (1, 2)]", "import os", "from os import system",
    "exit()", "quit()", "memoryview(b'')", "bytearray(10**9)", "isinstance(x, int)", "super()",
    "id(x)", "hash(x)", "iter(x)", "next(x)", "callable(x)", "classmethod(x)", "x if x else x",
    "x and x", "not x", "~x", "x % 2", "x // 2", "x << 2", "x | x", "x ^ x", "x & x",
    "def f(): pass", "class A: pass", "for i in x: pass", "while True: pass", "with x: pass",
    "try:\n  x\nexcept: pass", "raise x", "assert x", "del x", "global x", "x %= 2", "x: int = 1",
    "return x", "yield x", "(y := x)", "{1: x}", "{x}", "*x", "await x", "async def f(): pass",
]

DUNDER_CHAINS = [
    "().__class__.__bases__[0].__subclasses__()", "x.__class__", "x.__dict__", "sin.__globals__",
    "(1).__class__", "x.grad_fn.__call__(x)", "x._version", "x.__reduce__()", "[].__class__.__mro__",
    "torch.__dict__", "torch.__builtins__", "F.__loader__", "x.__len__()", "x.__array_interface__",
    "__builtins__", "__loader__", "__spec__", "__name__", "_x + 1", "x.__add__(x)", "sin.__self__",
    "x.__getattribute__('data')", "torch.sin.__module__",
]

MODULE_PATHS = [
    "torch.os.system('ls')", "torch.hub.load('a', 'b')", "torch.load('f')", "torch.save(x, 'f')",
    "torch.utils.cpp_extension.load_inline('a', 'b')", "torch.ops.aten.sin(x)", "torch.jit.script(x)",
    "torch.compile(x)", "torch.set_num_threads(1)", "torch.set_default_dtype(torch.float64)",
    "torch.manual_seed(1)", "torch.set_grad_enabled(False)", "torch.cuda.init()",
    "torch.distributed.init_process_group()", "torch.backends.cudnn", "torch.Tensor.sin(x)",
    "torch.tensor([1])", "torch.from_file('/etc/passwd')", "torch.sys.exit()", "torch.subprocess",
    "torch.autograd.grad(x, x)", "torch.multiprocessing", "torch.testing.assert_close(x, x)",
    "torch.fx.symbolic_trace(x)", "torch.library", "torch.classes", "torch.storage",
    "F.torch.os", "torch.nn.Module()", "torch.nn.functional.torch.load('x')", "torch.linalg.os",
    "torch.special.sys", "torch.sin", "torch", "F", "torch.nn.functional", "np.sin(x)", "math.sin(x)",
    "os.system('ls')", "sys.exit()", "x.numpy()", "x.tolist()", "x.data", "x.grad", "x.storage()",
    "x.untyped_storage()", "x.backward()", "x.register_hook(x)", "x.requires_grad_(False)",
    "x.detach()", "x.apply_(x)", "x.map_(x, x)", "x.to('cuda')", "x.cuda()", "x.share_memory_()",
    "x.resize_(10**9)", "x.zero_()", "x.fill_(1)", "x.copy_(x)", "x.new_empty(10**9)",
    "x.expand(10**6, 10**6)", "x.repeat(10**5, 10**5)", "x.item()", "x.type()", "x.grad_fn",
    "x.device", "x.shape", "x.dtype", "x.set_()", "sin(x).grad_fn.next_functions", "F.relu",
    "x.sin", "rand(3)", "ones(10**9)", "torch.rand(10)",
]

FORMAT_STRINGS = [
    'f"{x}"', '"{0.__class__}".format(x)', '"%s" % x', "'a' * 10**9", "b'abc'", '"".join(x)',
    'f"{x!r:>{10**9}}"', "'x'", "sin('x')", "x + 'a'", "sum(x, dim='0')", "gelu(x, approximate='os')",
]

FRAMES = [
    "sys._getframe()", "x.gi_frame", "(y for y in x).gi_frame.f_back.f_globals", "sin.__code__",
    "x.tb_frame", "inspect.currentframe()", "x.f_back", "x.f_globals['__builtins__']",
]

UNICODE = [
    "\uff45\uff56\uff41\uff4c('1')", "__\uff49\uff4d\uff50\uff4f\uff52\uff54__('os')", "\ufb01le",
    "x\u00b7y", "\U0001d42c\U0001d422\U0001d427(x)", "x\u200b+1", "x\u202e+1", "\u0455in(x)",
    "torch\u2024os", "x\u00a0+ 1", "x \uff0b 1", "\uff58**2", "x\x00", "x\x1b[2J", "x\u00b2",
    "x \u2212 1", "x \u00d7 y", "\u03b8 + 1", "x\u2028+1", "\ufeffx",
]

HUGE_NUMBERS = [
    "9**9**9", "10**10**10", "(10**300)**2*x", "2.0**10000 * x", "-(9**999) + x", "1e999*x",
    "1" * 5000, "x * " + "9" * 400, "1/0 + x", "0**-1 + x", "2**2**2**2**2 * x", "x + 10.0**309",
    "(-8)**(1/3) * x",
]

HUGE_TENSORS = [
    ("outer(x, x)", BIG), ("x[:, None] * y", BIG), ("A @ A @ A", BIG), ("det(A @ A)", BIG),
    ("outer(x, y) + outer(y, x)", BIG), ("x.reshape(10**9)", BIG),
    ("\n".join(f"w{i} = x * {i}" for i in range(20)) + "\nw0", {"x": "ones(3000000)"}),
    ("x", {"x": "rand(10**5, 10**5)"}), ("x", {"x": "ones(10**9)"}), ("x", {"x": "eye(10**6)"}),
    ("x", {"x": "linspace(0, 1, 10**10)"}), ("x", {"x": "arange(0, 10**12)"}),
    ("x", {"x": "full((10**5, 10**5), 1)"}), ("x", {"x": "zeros(2**62)"}), ("x", {"x": "rand(-1)"}),
    ("x", {"x": "rand(2**31, 2**31)"}), ("x", {"x": "[[1, 2], [3]]"}), ("x", {"x": "rand(3) + y"}),
    ("x", {"x": "__import__('os')"}), ("x", {"x": "'abc'"}), ("x", {"x": "ones(5000, 5000)"}),
    ("x + y", {"x": "ones(3000, 1)", "y": "ones(3000)"}), ("cat([x, x, x, x, x, x], 0)", {"x": "ones(1000, 1000)"}),
    ("sum(x, dim=5)", {"x": "ones(3)"}), ("x[7]", {"x": "ones(3)"}), ("x @ y", {"x": "ones(3)", "y": "ones(4)"}),
    ("x.reshape(2, 2)", {"x": "ones(3)"}), ("y", {"x": "ones(3)"}), ("x * q", {"x": "ones(3)"}),
]

DEEP_NESTING = [
    "(" * 1000 + "x" + ")" * 1000, "-" * 5000 + "x", "sin(" * 100 + "x" + ")" * 100,
    "x" + "+x" * 1500, "[" * 500 + "x" + "]" * 500, "x" + "[0]" * 200, "-" * 3000 + "x",
    "x" + "**x" * 300, "f(" * 400 + ")" * 400,
]

PARSER_CRASHERS = [
    "\x00", "x = ", ")", "'''", "'unterminated", "\\", "x[", "def", "  x", "x;;", ";", "# only a comment",
    "", "   ", "x =\n", "if x:\n  y", "@", "x@", "**x", "x**", "x = 1\n" * 100 + "x", "x\r\n+\r\n1",
    "x\x0c+1", "x[0] = 1", "sin = x", "pi = 3", "x.a = 1\nx", "x\ny", "()", "x[1.5]",
    "x[x]", "x[::-1]", "x[0:2:0]", "sum(x, dim=x)", "sum(x, keepdim=1)", "sin(x, x)", "sin()",
    "clamp(x, min=y)", "softplus(x, beta=x)", "norm(x, p='fro')", "x.foo()", "x.T.T.foo",
    "max(x, dim=0, keepdim=2)", "where(x, x)", "1 < x < 2", "x is x", "x in x", "x.sum(**x)",
    "sin(*x)", "x(1)", "(x)(1)", "sin(x)(1)", "x[0](1)", "4", "pi * e",
]

# What the everyday-PyTorch spellings add: detach and the picked values and indices lead to no other attribute,
# constant tensors and expand stay within the budgets, keyword values stay literals of their kind.
NEW_SURFACE = [
    "x.detach().__class__", "x.detach().grad", "x.detach().data", "torch.detach(x).requires_grad_()",
    "x.detach().numpy()", "torch.sort(x).values.__class__", "torch.sort(x)._fields", "torch.sort(x)[2]",
    "torch.sort(x).count(1)", "torch.max(x, dim=0).indices.__index__()", "x.values", "x.indices", "x.values()",
    "torch.sort(x).values.numpy()", "torch.max(x, dim=0).values.data", "torch.mode(x).values.__reduce__()",
    "torch.tensor(x)", "torch.tensor([x])", "torch.tensor([1.0], requires_grad=True) * x",
    "torch.ones(3, dtype=torch.float64) * x", "torch.ones(3, device='cuda') * x", "torch.tensor('abc')",
    "torch.arange(x)", "torch.ones(x.shape)", "x.view(torch.Size([3]))", "x.expand(*x)",
    "F.cross_entropy(x, y, weight=x)", "F.mse_loss(x, y, reduction='os')", "F.kl_div(x, y, reduction=print)",
    "torch.e.__class__", "torch.pi.real * x", "torch.inf.__class__", "torch.tensor([1, 2]).new_ones(10**9)",
    "e = __import__('os')\ne", "x += x\nx.__class__", "h = x\nh.__dict__", "c += 1\nc.__class__",
    "x @= x.T.__class__", "torch.e = 1\nx", "x.T = 1\nx", "torch.ones(10**9) * x", "x.expand(10**5, 10**5)",
    "x[0:1].expand(10**5, 10**5).sum()", "torch.arange(10**10) * x[0]", "torch.linspace(0, 1, 10**9) * x[0]",
    "torch.eye(10**5) * x[0]", "torch.zeros(10**5, 10**5) + x[0]", "torch.ones(2**62) * x", "torch.ones(-1) * x",
    "torch.ones(3.5) * x", "x.view(10**9)", "x.unsqueeze(10**9)", "x.permute(0, 0, 0)", "x.topk(10**9).values",
    "torch.kthvalue(x, 10**6).values", "x.squeeze(dim=x)", "torch.median(x, dim=7).values", "F.nll_loss(x, x)",
    "F.cross_entropy(x, torch.tensor([5]))", "[0] * 10**8", "[0] * 10**10", "x * [1., 2, 3]", "(0,) * 10**9 + x",
    "[[0] * 10**4] * 10**4", "x + [x]", "[x, x][0]", "h = [x, x]\nh", "[x] < x",
]

# What issue 20 adds: layers as functions, dropout only without its random mask, dimensions and True/False by
# position, tensors by keyword, unpacking, repeated lists, names of functions used as values.
ISSUE_20_SURFACE = [
    "F.dropout(x, training=True)", "F.dropout(x)", "F.dropout(x, 0.5)", "F.dropout(x, 0.5, True)",
    "torch.nn.functional.dropout(x, p=0.2)", "F.dropout(x, training=False, inplace=True)", "F.dropout(x, inplace=False)",
    "F.dropout(x, training=x)", "F.dropout(x, p=x, training=False)", "F.dropout(x, training=1)",
    "F.dropout(x, 0.5, training=False, train=True)", "torch.dropout(x, 0.0, False)", "F.dropout(x, 2.0, False)",
    "F.dropout(x, training=False).__class__", "F.dropout(x, training=not True)", "F.dropout_(x)", "F.dropout2d(x)",
    "F.linear(x, x, bias=__import__('os'))", "F.linear(x, x.__class__)", "F.linear(x, x, x, x)",
    "F.linear(x, weight=x)", "F.linear(x, x, bias=x, weight=x)", "F.linear(x, torch.ones(10**5, 10**5))",
    "F.linear(x.expand(10**4, 3), torch.ones(10**4, 3))", "F.linear(x, x, bias='b')",
    "F.layer_norm(x, x)", "F.layer_norm(x, (10**9,))", "F.layer_norm(x, (3,), eps='a')", "F.layer_norm(x, (3,), bias=x)",
    "F.layer_norm(x, (3,), x, x, x)", "F.layer_norm(x, normalized_shape=x)", "F.layer_norm(x, [__import__('os')])",
    "F.normalize(x, dim=x)", "F.normalize(x, dim=10**9)", "F.normalize(x, 2, 0, 1)", "F.normalize(x, out=x)",
    "torch.max(x, 1).values.__class__", "torch.max(x, 0, keepdim=x)", "torch.max(x, 0, x)", "torch.max(x, 10**9)",
    "torch.max(x, x, x)", "torch.max(x, x, dim=0)", "torch.max(x, 'a')", "torch.max(x, 0).count(1)",
    "torch.max(x, 0)[0][0]", "torch.max(x, 0)[0:1]", "torch.sort(x)[0, 0]", "torch.min(x, 0, True, True)", "torch.max(x, 2**62).values", "torch.max(x, -10**9)",
    "torch.sum(x, 1, True, True)", "torch.sum(x, __import__('os'))", "torch.sum(x, 0, 'True')", "torch.sum(x, 0, x)",
    "torch.sort(x, 0, x).values", "torch.topk(x, 10**9, 0).values", "torch.topk(x, x, 0).values",
    "torch.var(x, 0, True, True, True)", "torch.norm(x, 2, x)", "torch.cross(x, x, x)", "torch.sum(x, (0, x))",
    "a, b = torch.sort(x)\na.__class__", "a, b = torch.sort(x)\nb.data", "a, b, c = torch.sort(x)\na",
    "a.b, c = torch.sort(x)\nc", "x[0], y = torch.sort(x)\ny", "*a, b = torch.sort(x)\nb",
    "a, b = __import__('os'), x\nb", "__a, b = torch.sort(x)\nb", "a, b = torch.sort\nb", "a, b = torch.sin(x)\na",
    "a, sin = torch.sort(x)\na", "a, torch = torch.sort(x)\na", "a = b = x\na", "(a, b) = x, x.grad\na",
    "[a, b] = torch.sort(x)\na", "a, b = torch.sort(x)\na, b = b.__class__, a\na",
    "torch.tensor([1.0] * 10**7)", "torch.tensor([[1.0] * 1000] * 1000)", "torch.tensor([1.0] * 2**62)",
    "torch.tensor([1.0] * 1e9)", "torch.tensor([1.0] * x)", "torch.tensor([1.0] * -1) * x", "stack([x] * 10**6)",
    "torch.tensor(10**9 * [1.0])", "torch.tensor([1.0] * 10 * 10**6)", "torch.tensor(([1.0] * 10**3) * 10**3)",
    "torch.tensor([1.0] * True)", "torch.tensor([x] * 3)", "x * [1.0] * 3",
    "torch.linspace(0, 1, steps=10**9) * x[0]", "torch.arange(0, 10**10, step=1) * x[0]",
    "torch.linspace(0, 1, steps=x)", "torch.arange(step=__import__('os'))", "torch.arange(0, 3, step=0)",
    "torch.eye(n=10**6) * x[0]", "torch.linspace(0, 1, steps=5, dtype=torch.float64) * x[0]",
    "torch.arange(end=10, out=x)", "torch.linspace(0, 1, 3, steps=3)",
    "t.__class__", "t = x\nt", "sum.__self__", "x * max.__call__", "t(x).T.__class__", "torch.t", "F.linear",
]

CASES = (
    [(s, {}) for s in CODE_EXECUTION + DUNDER_CHAINS + MODULE_PATHS + FORMAT_STRINGS + FRAMES + UNICODE
     + HUGE_NUMBERS + DEEP_NESTING + PARSER_CRASHERS + NEW_SURFACE + ISSUE_20_SURFACE]
    + HUGE_TENSORS
)


def test_the_corpus_is_large_and_covers_every_family():
    assert len(CASES) >= 150
    assert len(set(s for s, _ in CASES)) > 0.95 * len(CASES)


def _default_inputs(source: str, given: dict) -> dict:
    """Give every free name a small value, so that a refusal is the expression's fault, not a missing input."""
    if given:
        return given
    try:
        program = explorer.parse(source)
    except ExpressionError:
        return {}
    return {name: "rand(3)" for name in program.inputs}


_WATCHED = ("os.system", "subprocess.Popen", "os.exec", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn",
            "os.remove", "os.rename", "os.mkdir", "shutil.rmtree", "socket.connect", "exec", "ctypes.dlopen")
_EVENTS: list[str] = []
_WATCHING = [False]


def _audit(event: str, args: tuple) -> None:
    # Audit hooks cannot be removed, so one hook records only while a test watches.
    if not _WATCHING[0]:
        return
    if event == "exec" and _inside_torch():
        return  # torch builds some of its own kernels with exec; user text never gets there
    if event in _WATCHED:
        _EVENTS.append(event)
    elif event == "open" and len(args) > 1 and isinstance(args[1], str) and set(args[1]) & set("wax+"):
        _EVENTS.append(f"open({args[0]!r}, {args[1]!r})")


def _inside_torch() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith(_TORCH_DIR):
            return True
        frame = frame.f_back
    return False


_TORCH_DIR = os.path.dirname(torch.__file__)
# torch imports its compiler stack lazily on first use of some meta kernels, and
# that import makes a cache folder: import it now so that only what the user's
# text causes is watched.
import torch._dynamo  # noqa: E402,F401
sys.addaudithook(_audit)


@pytest.fixture
def no_side_effects(monkeypatch, tmp_path):
    """Fail if anything writes a file, starts a process, executes code or changes torch's global state."""
    monkeypatch.chdir(tmp_path)
    before = (torch.get_num_threads(), torch.get_default_dtype(), torch.is_grad_enabled(),
              torch.are_deterministic_algorithms_enabled())
    rng = torch.get_rng_state().clone()
    _EVENTS.clear()
    _WATCHING[0] = True
    try:
        yield _EVENTS
    finally:
        _WATCHING[0] = False
    after = (torch.get_num_threads(), torch.get_default_dtype(), torch.is_grad_enabled(),
             torch.are_deterministic_algorithms_enabled())
    assert before == after, "torch's global state changed"
    assert torch.equal(rng, torch.get_rng_state()), "the global random state changed"
    assert list(tmp_path.iterdir()) == [], "a file was written"
    assert not os.path.exists("/tmp/pwned")


@pytest.mark.parametrize("source, inputs", CASES, ids=[repr(s)[:60] for s, _ in CASES])
def test_refused_quickly_without_side_effects(source, inputs, no_side_effects):
    specs = _default_inputs(source, inputs)
    start = time.perf_counter()
    with pytest.raises(ExpressionError) as refusal:
        explorer.explore(source, inputs=specs, device="cpu")
    elapsed = time.perf_counter() - start
    message = str(refusal.value)
    assert message and "Traceback" not in message and len(message) < 400
    assert no_side_effects == []
    # A hang guard, not a benchmark: refusals take milliseconds.
    assert elapsed < 10, f"refusing took {elapsed:.1f} s"


def test_syntax_errors_say_where():
    with pytest.raises(ExpressionError) as err:
        explorer.parse("sin(x +* 2)")
    assert err.value.line == 1 and err.value.column is not None
    assert "column" in str(err.value)


def test_unicode_lookalike_names_the_character():
    with pytest.raises(ExpressionError, match="FULLWIDTH"):
        explorer.parse("\uff45\uff56\uff41\uff4c(x)")
    with pytest.raises(ExpressionError, match=r"x\*\*2"):
        explorer.parse("x\u00b2")


# --- Python-level blow-ups (issue 11): refused before anything is built -----------------------------------

def _peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # kilobytes on Linux: the high-water mark


@pytest.mark.parametrize("source", ["[0] * 10**8", "[0] * 10**10", "(0,) * 10**9 + x", "[[0] * 10**4] * 10**4",
                                    "'a' * 10**9", "[x] * 10**9", "x * [1., 2, 3]"])
def test_list_and_string_repetition_is_refused_by_the_parser(source):
    before = _peak_kb()
    with pytest.raises(ExpressionError) as refusal:
        explorer.parse(source)          # the parser: nothing has run yet
    with pytest.raises(ExpressionError):
        explorer.explore(source, inputs={"x": "rand(3)"} if "x" in source else {}, device="cpu")
    assert _peak_kb() - before < 50_000, "memory grew: the list was built"
    if "[1., 2, 3]" in source:
        assert "torch.tensor([1.0, 2.0, 3.0])" in str(refusal.value)


@pytest.mark.parametrize("source", ["torch.ones(10**9) * x", "x[0:1].expand(10**5, 10**5)", "torch.arange(10**10) * x[0]",
                                    "torch.linspace(0, 1, 10**9) * x[0]", "torch.eye(10**5) * x[0]",
                                    "torch.zeros(10**5, 10**5) + x[0]", "x[0].expand(10**9).sum()"])
def test_constant_tensors_and_expand_are_refused_by_size_in_the_dry_run(source):
    program = explorer.parse(source)
    before = _peak_kb()
    with pytest.raises(ExpressionError, match="would make a tensor of .* elements"):
        check(program, {"x": torch.ones(3)})
    assert _peak_kb() - before < 50_000


def test_literal_lists_are_capped_before_they_are_built():
    roomy = explorer.Limits(max_chars=100_000, max_syntax_nodes=100_000)
    with pytest.raises(ExpressionError, match="the list is too long: 1,501 items"):
        explorer.parse("torch.tensor([" + "1, " * 1500 + "1]) * x", limits=roomy)
    with pytest.raises(ExpressionError, match="the list is too long: 1,000,000 items"):
        explorer.explore("x", x=[0.0] * 10**6, device="cpu")     # refused before it is written out as text
    nested: list = []
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(ExpressionError, match="nested too deeply"):
        explorer.explore("x", x=nested, device="cpu")


@pytest.mark.parametrize("error", [MemoryError, RecursionError, OverflowError])
def test_pythons_own_limits_become_refusals_at_every_entry_point(monkeypatch, error, capsys):
    import ast

    import explorer.exploration as exploration
    import explorer.inputs as inputs

    def blow_up(*args, **kwargs):
        raise error()

    monkeypatch.setattr(exploration, "evaluate", blow_up)    # the real run, inside explore()
    with pytest.raises(ExpressionError):
        explorer.explore("sin(x)", x=1.0, device="cpu")
    assert main(["explore", "sin(x)", "--var", "x=1", "--device", "cpu"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    monkeypatch.setattr(inputs, "evaluate", blow_up)         # an input spec
    with pytest.raises(ExpressionError):
        inputs.make_input("rand(3)")
    monkeypatch.setattr(ast, "parse", blow_up)               # the parser
    with pytest.raises(ExpressionError):
        explorer.parse("x")

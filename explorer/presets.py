"""The worked examples of the seeds, one preset each, with the numbers the seeds print.

A preset is a function, its inputs and options, and the numbers its seed
prints for them. The expected numbers are typed in from the seed text (never
computed by this library), so a test that runs every preset through
:func:`explorer.explore` checks the library against the seeds themselves.
Where a seed prints its inputs rounded to four decimals, the preset types the
rounded values and its tolerance says how far the printed results may then be
off.

Examples that belong to another page (the t-SNE gradient check, the SGD
regression, repeated backward calls, second derivatives, divergence) carry
that page's ``url_path`` in :attr:`Preset.page`; the ones with a function can
still be opened in the explorer.

>>> from explorer.presets import preset
>>> p = preset("poly")
>>> p.source, p.inputs, p.expected.grads
('x**3 + 2*x**2 + 8*x', {'x': '4'}, {'x': [72.0]})
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from explorer.exploration import Exploration, explore, trace
from explorer.vjp import VectorChoice

# The seed documents (shared/seeds/*.txt), by the number that starts their file name.
SEEDS = {
    "000": "Check of automatic differentiation: the t-SNE KL gradient, autograd vs the paper's formula",
    "001": "Autograd package in PyTorch: polynomials, sin, tanh, the w1..w6 graph, backward(v)",
    "002": "Some calculus with torch::autograd: sin'', partial derivatives, dot(x, x), divergence",
    "003": "DS4420: the joy of autograd: log(1 + x.x) and sin(Ax + b)",
    "004": "Automatic differentiation with pytorch: log(x1 x2) sin(x2), four ways, SGD regression",
}


@dataclass(frozen=True)
class Expected:
    """Numbers a seed prints for a preset.

    ``outputs`` holds one nested list per output; ``grads`` maps an input name
    to its gradient as a nested list, or to ``{flat index: value}`` when the
    seed gives only some elements. A number ``n`` agrees with the library's
    ``m`` when ``|n - m| <= atol``. ``sent`` maps an input name to the
    gradients its consumers send it during backward (the terms of the
    chain-rule sum); ``extra`` holds numbers that another page shows (its
    keys are documented by the preset's description).
    """

    outputs: tuple | None = None
    grads: Mapping[str, Any] = field(default_factory=dict)
    atol: float = 1e-4
    sent: Mapping[str, tuple] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Preset:
    """One worked example: what to type, where it comes from, and what it prints.

    ``inputs`` are input specs as the inputs panel takes them (text);
    ``v`` the vector of ``backward(v)`` (``None``: ones, as the seeds use);
    ``page`` the ``url_path`` of the page that shows the example best;
    ``model`` the name of a model preset of :mod:`explorer.models` (then
    ``source`` is empty and ``model_options`` are its keyword arguments).
    """

    key: str
    title: str
    seed: str
    reference: str
    source: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    dtype: str = "float32"
    v: str | None = None
    description: str = ""
    expected: Expected = field(default_factory=Expected)
    page: str = "explore"
    model: str | None = None
    model_options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def explorable(self) -> bool:
        """Whether the explorer page can open this preset (it has a function to type)."""
        return bool(self.source)

    @property
    def vector(self) -> VectorChoice:
        """The ``v`` of ``backward(v)`` as the explorer chooses it: ones where the seed passes ones, else typed.

        >>> preset("sin_affine").vector, preset("poly").vector.kind
        (VectorChoice(kind='ones', index=0, seed=0, values=''), 'ones')
        """
        if self.v is None or self.v.startswith("ones("):
            return VectorChoice()
        return VectorChoice("typed", values=self.v)

    def explore(self, *, device: str | None = "auto") -> Exploration:
        """The preset run through :func:`explorer.explore`: its function, inputs, dtype and ``v``.

        >>> preset("poly").explore().grads["x"]
        tensor([72.])
        """
        return explore(self.source, inputs=dict(self.inputs), v=self.vector, dtype=self.dtype, device=device)

    def agreement(self, ex: Exploration) -> tuple[bool, list[str]]:
        """Whether the numbers of ``ex`` agree with what the seed prints (within ``expected.atol``), and the
        seed's numbers as text.

        >>> p = preset("partials")
        >>> p.agreement(p.explore())
        (True, ['x.grad = [5.0]', 'y.grad = [8.0]'])
        """
        lines, agree = [], True
        for name, printed in self.expected.grads.items():
            ours = ex.grads[name].reshape(-1).double()
            if isinstance(printed, dict):  # only some elements are printed
                pairs = [(ours[i].item(), value) for i, value in printed.items()]
                lines.append(f"{name}.grad[{', '.join(map(str, printed))}] = "
                             f"{', '.join(f'{v:g}' for v in printed.values())}")
            else:
                pairs = list(zip(ours.tolist(), _flat(printed)))
                lines.append(f"{name}.grad = {printed}")
            agree &= all(abs(a - b) <= self.expected.atol for a, b in pairs)
        for out, printed in zip(ex.outputs, self.expected.outputs or ()):
            mine = out.reshape(-1).double().tolist()
            agree &= all(abs(a - b) <= self.expected.atol for a, b in zip(mine, _flat(printed)))
            lines.append(f"output = {printed}")
        return agree, lines


def _flat(printed: list) -> list[float]:
    """A printed nested list of numbers, flattened (in float64, as the comparison is made)."""
    return torch.tensor(printed, dtype=torch.float64).reshape(-1).tolist()


def _vector(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


def _matrix(rows: list[list[float]]) -> str:
    return "[" + ", ".join(_vector(r) for r in rows) + "]"


# Seed 001, In [9]: X = 2*pi*rand(10), printed to four decimals.
_SIN_X = [5.6419, 1.1369, 4.7996, 0.8205, 0.4615, 0.4596, 2.5004, 1.2695, 2.5845, 0.4513]
_SIN_Z = [-0.5982, 0.9073, -0.9962, 0.7315, 0.4453, 0.4436, 0.5981, 0.9549, 0.5287, 0.4362]
_SIN_GRAD = [0.80134296, 0.420412, 0.08707973, 0.6818824, 0.8953653, 0.896241,
             -0.80138785, 0.29677498, -0.84881455, 0.89987385]

# Seed 001, In [15]-[17]: XY = 2*pi*rand(10, 2).
_XY = [[5.9066, 1.1849], [6.0019, 1.2083], [3.8134, 4.7397], [2.1871, 2.9670], [0.4878, 4.3015],
       [2.5796, 3.2423], [1.0124, 5.7254], [4.4697, 4.1561], [5.1514, 6.0768], [0.3598, 1.5586]]
_XY_Z = [0.5587, 0.6574, -1.6221, 0.9898, -0.4481, 0.4324, 0.3188, -1.8199, -1.1101, 1.3520]
_XY_GRAD = [[0.9299176, 0.37643185], [0.9606921, 0.3545953], [-0.78267014, 0.02728887],
            [-0.578051, -0.9847898], [0.88338107, -0.39942288], [-0.8461944, -0.9949382],
            [0.5298115, 0.8484107], [-0.24032214, -0.5280292], [0.42501867, 0.9787835],
            [0.9359573, 0.01222623]]

# Seed 001, In [18]-[20]: X = 2*rand(10) - 1 through tanh.
_TANH_X = [-0.1015, 0.4655, 0.7771, -0.6037, -0.8693, 0.2803, -0.9955, -0.4249, 0.3446, -0.9768]
_TANH_Z = [-0.1012, 0.4345, 0.6510, -0.5397, -0.7010, 0.2732, -0.7597, -0.4010, 0.3316, -0.7517]
_TANH_GRAD = [0.9897621, 0.8111834, 0.57615125, 0.7087302, 0.5085927, 0.9253647,
              0.42288297, 0.8391874, 0.8900712, 0.43500286]

# Seed 003 (a), In [12]-[16]: the seed prints nine of the ten values of x. The tenth is
# reconstructed from the printed gradient 2x/(1+x.x): each of the nine printed pairs gives
# 2/(1+x.x) = 0.62958, so x[9] = 0.0310 / 0.62958 = 0.0492.
_LOG_X = [0.1801, 0.3444, 0.4006, 0.6215, 0.2568, 0.3863, 0.5832, 0.4745, 0.8343, 0.0492]
_LOG_GRAD = [0.1134, 0.2168, 0.2522, 0.3913, 0.1617, 0.2432, 0.3672, 0.2987, 0.5252, 0.0310]

# Seed 003 (b), In [33]-[40].
_MV_X = [0.0143, 0.9790, 0.6805, 0.8771, 0.0953]
_MV_A = [[0.9670, 0.5487, 0.0196, 0.4444, 0.3262], [0.3794, 0.7918, 0.9998, 0.0907, 0.8979],
         [0.0238, 0.1552, 0.9408, 0.4540, 0.7213], [0.0461, 0.6931, 0.9383, 0.2263, 0.5735],
         [0.1622, 0.9763, 0.6564, 0.8489, 0.6759], [0.1780, 0.4534, 0.0268, 0.5234, 0.3507],
         [0.1702, 0.2508, 0.9425, 0.4099, 0.5830], [0.7704, 0.2154, 0.5592, 0.2581, 0.9374],
         [0.5028, 0.6831, 0.5410, 0.7700, 0.9633], [0.1757, 0.9128, 0.7975, 0.6231, 0.2041]]
_MV_B = [0.2230, 0.8327, 0.9930, 0.4835, 0.0355, 0.7217, 0.7977, 0.3526, 0.9574, 0.4611]
_MV_F = [0.9350, 0.6309, 0.7764, 0.8853, 0.7785, 0.9942, 0.8621, 0.9553, 0.3643, 0.6254]
_MV_GRAD = [-0.5727, -2.9134, -3.6513, -2.2281, -2.8390]

_ROUNDED = ("The seed prints its inputs to four decimals; typed back in, they reproduce its "
            "printed results to within {atol:g}.")

PRESETS: tuple[Preset, ...] = (
    Preset(
        "poly", "x³ + 2x² + 8x at 4", "001", "seed 001, In [3]-[4]",
        "x**3 + 2*x**2 + 8*x", {"x": "4"},
        description="dz/dx = 3x² + 4x + 8, which is 3·16 + 16 + 8 = 72 at x = 4.",
        expected=Expected(grads={"x": [72.0]}),
    ),
    Preset(
        "poly_w", "The w1 … w6 graph", "001", "seed 001, 'Computation Graph'",
        "w1 = x\nw2 = w1**3\nw3 = w1**2\nw4 = 2*w3\nw5 = 8*w1\nw6 = w2 + w4 + w5\nw6",
        {"x": "4"},
        description=(
            "The polynomial as named intermediates: the node table shows ẇ2 = 3x² = 48, "
            "ẇ3 = 2x = 8, ẇ4 = 2ẇ3 = 16 and ẇ5 = 8 arriving at x, and 48 + 16 + 8 = 72. "
            "The seed's table writes w5 = 8·w2 and w6 = w2 + w4 + w3 but sums ẇ2 + ẇ4 + ẇ5; "
            "the preset types what the sum means: w5 = 8·w1 and w6 = w2 + w4 + w5."
        ),
        expected=Expected(grads={"x": [72.0]}, sent={"x": (48.0, 16.0, 8.0)}),
    ),
    Preset(
        "sin", "sin(x) at 4", "001", "seed 001, In [8]",
        "sin(x)", {"x": "4"},
        description="dz/dx = cos(x), and cos(4) ≈ -0.6536.",
        expected=Expected(grads={"x": [-0.6536]}),
    ),
    Preset(
        "sin_vector", "sin over 10 values", "001", "seed 001, In [9]-[10]",
        "sin(X)", {"X": _vector(_SIN_X)},
        description=("The output is a vector, so backward needs v: the seed passes ones and "
                     "gets cos(X) back. " + _ROUNDED.format(atol=1e-4)),
        expected=Expected(outputs=(_SIN_Z,), grads={"X": _SIN_GRAD}),
    ),
    Preset(
        "poly_xy", "x³ + y² + ax + b", "001", "seed 001, In [11]-[13]",
        "x**3 + y**2 + a*x + b", {"x": "4", "y": "2", "a": "1", "b": "6"},
        description="∂z/∂x = 3x² + a = 49 and ∂z/∂y = 2y = 4 at x = 4, y = 2.",
        expected=Expected(grads={"x": [49.0], "y": [4.0]}),
    ),
    Preset(
        "sin_xy", "sin(x) + sin(y)", "001", "seed 001, In [14]",
        "sin(x) + sin(y)", {"x": "4", "y": "2"},
        description="∂z/∂x = cos(4) ≈ -0.6536 and ∂z/∂y = cos(2) ≈ -0.4161.",
        expected=Expected(grads={"x": [-0.6536], "y": [-0.4161]}),
    ),
    Preset(
        "sin_columns", "sin of XY's two columns", "001", "seed 001, In [15]-[17]",
        "sin(XY[:, 0]) + sin(XY[:, 1])", {"XY": _matrix(_XY)},
        description=("Two variables in the columns of one matrix: the gradient has the "
                     "same two columns, cos of each. " + _ROUNDED.format(atol=1e-4)),
        expected=Expected(outputs=(_XY_Z,), grads={"XY": _XY_GRAD}),
    ),
    Preset(
        "tanh", "tanh over 10 values", "001", "seed 001, In [18]-[20]",
        "tanh(X)", {"X": _vector(_TANH_X)},
        description="dz/dx = 1 - tanh²(x). " + _ROUNDED.format(atol=1e-4),
        expected=Expected(outputs=(_TANH_Z,), grads={"X": _TANH_GRAD}),
    ),
    Preset(
        "accumulate", "backward ×3: 72, 144, 216", "001", "seed 001, In [6]-[7]",
        "x**3 + 2*x**2 + 8*x", {"x": "4"}, page="mechanics",
        description=("A second backward() without retain_graph fails; with it, gradients add "
                     "up: 72, 144, 216. extra['accumulated'] holds the three printed values."),
        expected=Expected(grads={"x": [72.0]}, extra={"accumulated": (72.0, 144.0, 216.0)}),
    ),
    Preset(
        "sin_second", "sin'(0) and sin''(0)", "002", "seed 002, 'real-valued function'",
        "sin(x)", {"x": "0"}, page="higher-order",
        description=("With create_graph=True the derivative has a graph of its own: sin'(0) = "
                     "cos(0) = 1 and sin''(0) = -sin(0) = 0, both with error exactly 0. "
                     "extra['second_derivative'] is sin''(0)."),
        expected=Expected(grads={"x": [1.0]}, extra={"second_derivative": (0.0,)}),
    ),
    Preset(
        "partials", "(x + y)(y + 3) at 1, 2", "002", "seed 002, partial derivatives",
        "(x + y) * (y + 3)", {"x": "1", "y": "2"},
        description="∂f/∂x = y + 3 = 5 and ∂f/∂y = 2y + x + 3 = 8.",
        expected=Expected(grads={"x": [5.0], "y": [8.0]}),
    ),
    Preset(
        "dot", "dot(x, x) = ||x||²", "002", "seed 002, real-valued function of a vector",
        "dot(x, x)", {"x": "ones(3)"}, page="jacobian",
        description=("The gradient is 2x = [2, 2, 2] at x = ones(3). Its divergence, the trace "
                     "of the Jacobian of 2x, is 6 (extra['divergence']); v = ones gives it only "
                     "because that Jacobian is diagonal."),
        expected=Expected(grads={"x": [2.0, 2.0, 2.0]}, extra={"divergence": 6.0}),
    ),
    Preset(
        "sin_linspace", "sin over 0, 0.001, …, 1", "002", "seed 002, vector-valued function",
        "sin(x)", {"x": "linspace(0, 1, 1001)"}, page="jacobian",
        description=("A diagonal Jacobian, cos(x) on its diagonal: v = ones and the identity "
                     "give the same Laplacian, at very different cost (know your Jacobian). "
                     "The gradient starts at cos(0) = 1."),
        expected=Expected(grads={"x": {0: 1.0}}),
    ),
    Preset(
        "log_dot", "log(1 + xᵀx)", "003", "seed 003 (a), In [12]-[16]",
        "z = dot(x, x)\nf = log(1 + z)", {"x": _vector(_LOG_X)}, dtype="float64",
        description=(
            "The gradient is 2x / (1 + xᵀx). The seed prints only nine of the ten values of x: "
            "the tenth, 0.0492, is reconstructed from the printed gradient (each printed pair "
            "gives 2 / (1 + xᵀx) = 0.6296, and 0.0310 / 0.6296 = 0.0492). "
            + _ROUNDED.format(atol=1.5e-4)),
        expected=Expected(grads={"x": _LOG_GRAD}, atol=1.5e-4),
    ),
    Preset(
        "sin_affine", "sin(Ax + b), v = ones", "003", "seed 003 (b), In [33]-[40]",
        "z = mv(A, x) + b\nf = sin(z)", {"A": _matrix(_MV_A), "x": _vector(_MV_X), "b": _vector(_MV_B)},
        dtype="float64", v="ones(10)",
        description=(
            "A vector output: backward(v) with v = ones gives vᵀJ = cos(Ax + b)ᵀA, the seed's "
            "'bespoke solution'. Without v PyTorch refuses (see the VJP tab). "
            + _ROUNDED.format(atol=5e-4)),
        expected=Expected(outputs=(_MV_F,), grads={"x": _MV_GRAD}, atol=5e-4),
    ),
    Preset(
        "log_sin", "log(x₁x₂)·sin(x₂)", "004", "seed 004, Example",
        "log(x[0]*x[1]) * sin(x[1])", {"x": "[0.5, 0.75]"},
        description=(
            "g(f(x)) with f(x) = (log(x₁x₂), sin(x₂)) and g(a, b) = ab: the gradient is "
            "[sin(x₂)/x₁, sin(x₂)/x₂ + log(x₁x₂)cos(x₂)] = [1.3633, 0.1912]. The seed's forward "
            "differences with step 1e-3 give [1.3619, 0.1919] (extra['forward_difference'], "
            "on the Four ways page)."),
        expected=Expected(grads={"x": [1.3633, 0.1912]},
                          extra={"forward_difference": (1.3619, 0.1919), "step": 1e-3}),
    ),
    Preset(
        "tsne_kl", "t-SNE KL gradient", "000", "seed 000",
        "", page="tsne",
        description=("The autograd gradient of the t-SNE KL loss agrees with van der Maaten & "
                     "Hinton's formula once the reference code's missing factor 4 is put back "
                     "(extra['agrees'])."),
        expected=Expected(extra={"agrees": True, "factor": 4.0}),
    ),
    Preset(
        "regression", "SGD linear regression", "004", "seed 004, linear regression",
        "", page="regression",
        description=("y = 2 + x + noise, n = 100, fitted by SGD with lr = 0.1 for 500 epochs; "
                     "the seed ends near b0 = 1.82, b1 = 1.01 and a loss of 1.0073 on its own "
                     "random data (extra)."),
        expected=Expected(extra={"n": 100, "lr": 0.1, "epochs": 500, "b0": 1.818988561630249,
                                 "b1": 1.00831937789917, "final_loss": 1.0072836875915527}),
    ),
)

# Model presets: real graphs too large to draw node by node, for the level-of-detail view.
MODEL_PRESETS: tuple[Preset, ...] = (
    Preset("mlp_200", "MLP, 200 layers", "-", "model preset", "", model="mlp",
           model_options={"depth": 200},
           description="A deep tanh multilayer perceptron: about five autograd nodes per layer."),
    Preset("mlp_4000", "MLP, 4,000 layers", "-", "model preset", "", model="mlp",
           model_options={"depth": 4000},
           description="Tens of thousands of autograd nodes: chains collapse, the nodes nearest the "
                       "loss are drawn."),
    Preset("transformer", "GPT-style decoder, 4 blocks", "-", "model preset", "", model="transformer",
           model_options={"depth": 4},
           description="Token and position embeddings, causal self-attention, MLP, layer norm and a tied LM "
                       "head, with next-token cross-entropy: drawn by modules, the four identical blocks "
                       "folded into one box (click it to open them)."),
    Preset("resnet", "ResNet-style CNN", "-", "model preset", "", model="resnet",
           model_options={"depth": 2},
           description="Convolutions, batch norm, ReLU and residual bottlenecks in four stages, pooling and a "
                       "linear head: drawn by modules, each stage's identical bottlenecks folded."),
    Preset("rnn_100", "RNN, 100 steps", "-", "model preset", "", model="rnn",
           model_options={"depth": 100, "max_nodes": 100},
           description="Backpropagation through time: W, U and b are used at every step and their "
                       "gradients sum over all steps."),
)


def model_exploration(name: str, depth: int | None = None, *, seed: int = 0):
    """The :class:`~explorer.Exploration` of built-in model ``name`` (:mod:`explorer.models`) at ``depth``.

    >>> ex = model_exploration("mlp", 2)
    >>> sorted(ex.grads)[:2]
    ['layer0.bias', 'layer0.weight']
    """
    from explorer.budgets import BUDGETS
    from explorer.exploration import trace_model
    from explorer.models import ARCHITECTURES, build_model

    BUDGETS.check_model(depth)   # the hosted entry point of the models: the budget holds whatever asks
    if name in ARCHITECTURES:   # a real architecture: traced under module hooks, drawn by modules
        found = ARCHITECTURES[name]
        model, args, loss = found.make(found.default_depth if depth is None else depth, seed=seed)
        return trace_model(model, *args, loss=loss)
    loss, params = build_model(name, depth, seed=seed)
    return trace(loss, params)


_BY_KEY = {p.key: p for p in PRESETS + MODEL_PRESETS}


def preset(key: str) -> Preset:
    """The preset named ``key`` (a ``ValueError`` listing the keys when there is none).

    >>> preset("partials").expected.grads
    {'x': [5.0], 'y': [8.0]}
    """
    try:
        return _BY_KEY[key]
    except (KeyError, TypeError):
        raise ValueError(f"unknown preset {key!r}; choose one of {', '.join(_BY_KEY)}") from None


def preset_for(source: str, inputs: tuple | Mapping[str, str], dtype: str) -> Preset | None:
    """The preset with this function, these inputs (specs, in order) and this dtype, if there is one: the
    explorer page shows the seed's numbers beside its own when what is typed is a worked example.

    >>> preset_for("x**3 + 2*x**2 + 8*x", (("x", "4"),), "float32").key
    'poly'
    >>> preset_for("x**3", (("x", "4"),), "float32") is None
    True
    """
    given = tuple(inputs.items()) if isinstance(inputs, Mapping) else tuple(inputs)
    for p in PRESETS:
        if (p.explorable and p.source.strip() == source.strip() and tuple(p.inputs.items()) == given
                and p.dtype == dtype):
            return p
    return None


def presets_of_seed(seed: str) -> list[Preset]:
    """The presets that reproduce seed ``seed`` (``"001"``), in the seed's order.

    >>> [p.key for p in presets_of_seed("002")][:2]
    ['sin_second', 'partials']
    """
    if seed not in SEEDS:
        raise ValueError(f"unknown seed {seed!r}; choose one of {', '.join(SEEDS)}")
    return [p for p in PRESETS if p.seed == seed]


__all__ = ["Expected", "MODEL_PRESETS", "PRESETS", "Preset", "SEEDS", "model_exploration", "preset", "preset_for",
           "presets_of_seed"]

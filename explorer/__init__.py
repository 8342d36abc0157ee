"""Autograd Explorer: see what PyTorch's autograd builds and computes.

>>> import explorer
>>> ex = explorer.explore("x**3 + 2*x**2 + 8*x", x=4)
>>> ex.grads["x"]
tensor([72.])
>>> import torch
>>> w = torch.tensor([1.0, 2.0], requires_grad=True)
>>> drawing = explorer.draw((w * w).sum())   # in Jupyter, the graph shows inline
>>> drawing.exploration.grads["w"], drawing.dot.startswith("digraph")
(tensor([2., 4.]), True)
"""
from explorer.exploration import Exploration, explore, trace, trace_model
from explorer.expression import ExpressionError, Limits, parse
from explorer.notebook import Drawing, draw

__all__ = ["Drawing", "ExpressionError", "Exploration", "Limits", "draw", "explore", "parse", "trace", "trace_model"]

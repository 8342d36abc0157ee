"""Autograd Explorer: see what PyTorch's autograd builds and computes.

>>> import explorer
>>> ex = explorer.explore("x**3 + 2*x**2 + 8*x", x=4)
>>> ex.grads["x"]
tensor([72.])
"""
from explorer.exploration import Exploration, explore, trace
from explorer.expression import ExpressionError, Limits, parse

__all__ = ["ExpressionError", "Exploration", "Limits", "explore", "parse", "trace"]

"""Autograd Explorer: see what PyTorch's autograd builds and computes.

>>> import explorer
>>> ex = explorer.explore("x**3 + 2*x**2 + 8*x", x=4)
>>> ex.grads["x"]
tensor([72.])
"""
from explorer.expression import ExpressionError, Limits, parse

try:
    from explorer.exploration import Exploration, explore, trace
except ImportError:  # explorer.graph lands in a parallel change; until then only parsing works
    pass

__all__ = ["ExpressionError", "Exploration", "Limits", "explore", "parse", "trace"]

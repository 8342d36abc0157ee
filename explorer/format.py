"""How numbers and tensors are written out: as JSON values, for scripts.

>>> import torch
>>> to_jsonable({"x": torch.tensor([1.0, float("inf")])})
{'x': [1.0, 'inf']}
"""
from __future__ import annotations

import math
from typing import Any


def to_jsonable(value: Any) -> Any:
    """Tensors, arrays and numbers as plain JSON values (NaN and infinities as strings)."""
    if hasattr(value, "detach") and hasattr(value, "tolist"):
        value = value.detach().cpu().tolist()
    elif hasattr(value, "tolist") and hasattr(value, "dtype"):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


__all__ = ["to_jsonable"]

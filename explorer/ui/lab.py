"""What the derivative-lab pages share: a function with its inputs, run in the sandbox, cached."""
from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from explorer.expression import ExpressionError, parse
from explorer.ui import runner
from explorer.ui.widgets import function_editor, inputs_panel, show_error


def function_and_inputs(key: str, default: str, defaults: dict[str, str]) -> tuple[str, dict[str, str]] | None:
    """The function editor and an input box per free name; None (with the error shown) if it does not parse."""
    for name, value in defaults.items():
        st.session_state.setdefault(f"{key}_var_{name}", value)
    source = function_editor(f"{key}_f", default=default, height=80)
    try:
        names = parse(source).inputs
    except ExpressionError as err:
        show_error(err, source)
        return None
    panel = inputs_panel(names, key_prefix=f"{key}_var_")
    return source, panel.specs


def _functions() -> dict[str, Callable]:
    from explorer import compare, derivatives, mechanics

    # Fixed names only: the page chooses the function, never the user.
    return {
        "jacobian": derivatives.jacobian, "divergence": derivatives.divergence, "curl": derivatives.curl,
        "higher_order": derivatives.higher_order, "compare": compare.compare,
        "second_backward": mechanics.second_backward, "accumulation": mechanics.accumulation,
        "leaf_and_non_leaf": mechanics.leaf_and_non_leaf,
    }


def run(fn_name: str, source: str, inputs: dict[str, str], *, lane: str = "light", **options: Any) -> Any:
    """``fn_name(source, inputs, **options)`` in the sandbox, cached for every session.

    Returns None, with the refusal or the busy notice shown, when there is no
    result. Timing runs go to the heavy lane (``lane="heavy"``).
    """
    try:
        return runner.result(_functions()[fn_name], source, dict(sorted(inputs.items())), lane=lane,
                             **dict(sorted(options.items())))
    except ExpressionError as err:
        show_error(err, source)
        return None

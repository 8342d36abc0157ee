"""What the derivative-lab pages share: a function with its inputs, run in the sandbox, cached."""
from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from explorer.expression import ExpressionError, parse
from explorer.ui.widgets import function_editor, inputs_panel, show_error

TIMEOUT = 10.0


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


@st.cache_data(show_spinner="computing…", max_entries=64)
def _cached(fn_name: str, source: str, inputs: tuple, options: tuple) -> tuple[Any, str | None]:
    from explorer import compare, derivatives, mechanics
    from explorer.sandbox import run_isolated

    # Fixed names only: the page chooses the function, never the user.
    table: dict[str, Callable] = {
        "jacobian": derivatives.jacobian, "divergence": derivatives.divergence, "curl": derivatives.curl,
        "higher_order": derivatives.higher_order, "compare": compare.compare,
        "second_backward": mechanics.second_backward, "accumulation": mechanics.accumulation,
        "leaf_and_non_leaf": mechanics.leaf_and_non_leaf,
    }
    try:
        return run_isolated(table[fn_name], source, dict(inputs), timeout=TIMEOUT, **dict(options)), None
    except ExpressionError as err:
        return None, err.message


def run(fn_name: str, source: str, inputs: dict[str, str], **options: Any) -> Any:
    """``fn_name(source, inputs, **options)`` in the sandbox, cached; shows the refusal and returns None on error."""
    result, error = _cached(fn_name, source, tuple(sorted(inputs.items())), tuple(sorted(options.items())))
    if error:
        st.error(error, icon=":material/error:")
    return result

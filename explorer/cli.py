"""The command line: ``python -m explorer COMMAND ...``.

Every subcommand lives in ``explorer/commands/<name>.py``. Bad input (an
``ExpressionError`` or a ``ValueError`` from parameter validation, or input
too large for Python itself) ends with exit status 2 and one line on stderr,
never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from typing import Any, Sequence

from explorer.choices import DEVICE_CHOICES, DTYPE_NAMES
from explorer.commands import COMMANDS


class _UsageError(Exception):
    """argparse's own errors, turned into our one-line exit-2 message."""


class _Parser(argparse.ArgumentParser):
    intermixed = False  # a subcommand whose positionals may stand between its options (INTERMIXED)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: {message}")

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if not self.intermixed:
            return super().parse_known_args(args, namespace)
        # argparse's intermixed parsing calls parse_known_args twice itself: plain parsing for those calls.
        self.intermixed = False
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self.intermixed = True


def add_input_arguments(parser: argparse.ArgumentParser, *, source_required: bool = True) -> None:
    """The options shared by every command that takes a function: SOURCE, --var, --seed, --dtype, --device."""
    parser.add_argument("source", metavar="SOURCE", nargs=None if source_required else "?",
                        help="the function, e.g. 'x**3 + 2*x**2 + 8*x'")
    parser.add_argument(
        "--var", action="append", default=[], metavar="NAME=SPEC",
        help="an input: a number (4), a list ([0.5, 0.75]) or a constructor (rand(10, 2), "
             "linspace(0, 1, 101), eye(3), ones(3)); repeat for each input",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random constructors (default 0)")
    parser.add_argument("--dtype", choices=DTYPE_NAMES, default="float32", help="default float32")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto",
                        help="auto picks CUDA, then MPS, then CPU")


def inputs_from_args(args: argparse.Namespace) -> dict[str, str]:
    """``--var NAME=SPEC`` options as ``{NAME: SPEC}`` (SPEC text is parsed later by ``explorer.inputs``)."""
    from explorer.expression import ExpressionError

    specs: dict[str, str] = {}
    for item in args.var:
        name, sep, spec = item.partition("=")
        name = name.strip()
        if not sep or not name or not spec.strip():
            raise ExpressionError(f"--var needs NAME=SPEC, got {item!r}")
        if name in specs:
            raise ExpressionError(f"--var {name} is given twice")
        specs[name] = spec.strip()
    return specs


def print_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout."""
    from explorer.format import to_jsonable   # torch: loaded by the command that prints, not by --help

    json.dump(to_jsonable(obj), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or (``only``) with the options of that one alone (``""``: of none, for
    the top level): the others are listed by name and ``HELP``, their arguments (and what those need to
    import) left out."""
    parser = _Parser(
        prog="python -m explorer",
        description="Autograd Explorer without a browser: render graphs, tables and demo results.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:  # fixed names, never from the command line
        if importlib.util.find_spec(f"explorer.commands.{name}") is None:
            continue  # a command whose module is not installed in this build
        module = importlib.import_module(f"explorer.commands.{name}")
        command = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        if only in (None, name):
            module.add_arguments(command)
        command.intermixed = getattr(module, "INTERMIXED", False)
        command.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; return its exit status (2 on bad input)."""
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        # The command is the first word that is no option (the top level has only -h): only its options are
        # built, so that a command does not import what another one needs (none without a command).
        chosen = next((word for word in argv if not word.startswith("-")), "")
        args = build_parser(chosen if chosen in COMMANDS else "").parse_args(argv)
        return int(args.run(args) or 0)
    except _UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:  # ExpressionError is a ValueError
        message = " ".join(str(err).split())
        print(f"error: {message}", file=sys.stderr)
        return 2
    except (MemoryError, RecursionError, OverflowError) as err:  # the library refuses these first; a net
        print(f"error: the input is too large to handle ({type(err).__name__})", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0

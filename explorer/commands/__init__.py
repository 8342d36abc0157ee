"""One module per subcommand of ``python -m explorer``.

Each module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``; its docstring is the subcommand's ``--help`` text.
``INTERMIXED = True`` lets its positionals come between its options
(``shot VIEW -o a.png VIEW -o b.png``).
Heavy imports (torch, and any library module that loads it) go inside ``run``, so that ``--help``
loads no torch (tests/unit/test_imports.py checks it; ``bench/cli_start.py`` times it).
"""
COMMANDS = ("explore", "graph", "jacobian", "compare", "tsne", "regression", "shot", "export")

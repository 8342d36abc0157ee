"""One module per subcommand of ``python -m explorer``.

Each module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``; its docstring is the subcommand's ``--help`` text.
``INTERMIXED = True`` lets its positionals come between its options
(``shot VIEW -o a.png VIEW -o b.png``).
Heavy imports go inside ``run`` so that ``--help`` stays fast.
"""
COMMANDS = ("explore", "graph", "jacobian", "compare", "tsne", "regression", "shot", "export")

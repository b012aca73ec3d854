"""``python -m servflow.cli``: the ``servflow`` command line without its console script."""

from servflow.cli import main

main()

"""``python -m servflow``: the command line, as the ``servflow`` script runs it."""

from servflow.cli import main

if __name__ == "__main__":
    main()

"""``python -m servflow`` and the ``servflow`` script: the command line.

``servflow --version`` answers from the installed metadata before the command line is built;
everything else goes to ``servflow.cli``.
"""

import sys


def run() -> None:
    """The ``servflow`` console script."""
    if sys.argv[1:] == ["--version"]:
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

        try:
            print(f"servflow {version('servflow')}")  # noqa: T201 - the command's answer
        except PackageNotFoundError:  # pragma: no cover - run from a source tree, not installed
            pass
        else:
            return
    from servflow.cli import main  # noqa: PLC0415 - the whole command line, when needed

    main()


if __name__ == "__main__":
    run()

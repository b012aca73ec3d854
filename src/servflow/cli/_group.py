"""The root of the command line: global options anywhere, usage errors in one line, tidy help.

``RootGroup`` is the class of ``servflow`` itself (``typer.Typer(cls=RootGroup)``):

- Click reads an option only on the command that declares it, so ``servflow request show
  SR-000001 --db desk.db`` would be refused (with a "did you mean" that names an option of
  ``show``). Before parsing, the root moves the global options it finds after the sub-command
  in front of it, unless that sub-command declares an option of the same name itself
  (``audit log --actor`` filters by actor; ``projections status --db`` is its own). The global
  ``--json`` given before a sub-command that has ``--json`` goes to that sub-command.
- A usage error (an unknown option, a bad choice, a missing argument) is one line on stderr,
  ``error[usage_error]: ... (hint: servflow queue --help)``, or JSON with ``--json``; exit code 2.
- Help shows no ``<bool>`` after a flag, and arguments as ``TICKET``/``[QUEUE]`` in usage lines.

The global options and the commands are read from the command tree as Typer built it, never
listed here: a group added later is covered as it is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from difflib import get_close_matches
from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

from servflow.cli._common import JSON_ERRORS, report_error

__all__ = ["RootGroup"]

#: The end of options on a command line: what follows is positional, never moved.
_END = "--"
#: The option that turns a command's output, and the errors, into JSON.
_JSON = "--json"


class RootGroup(TyperGroup):
    """``servflow``: global options before or after the sub-command; one-line usage errors."""

    def __init__(self, **attrs: Any) -> None:  # noqa: ANN401 - TyperGroup's keyword arguments
        super().__init__(**attrs)
        _polish(self)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: Any = None,  # noqa: ANN401 - click's Context
        **extra: Any,  # noqa: ANN401 - click's keyword arguments
    ) -> Any:  # noqa: ANN401 - click's Context
        """Parse the command line; a usage error is one line (JSON when ``--json`` is in it)."""
        as_json = _asks_json(args)
        with _one_line(as_json):
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        ctx.meta[JSON_ERRORS] = as_json
        return ctx

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # noqa: ANN401 - click's
        """Parse with the global options moved in front of the sub-command."""
        args, path = hoisted(self, args)
        # Only the commands on the line can show their help (and, past a group that the line
        # does not resolve, as in ``sla TICKET``, its commands): --help shows no <bool> there.
        last = path[-1]
        if isinstance(last, TyperGroup) and last is not self:
            path += list(last.commands.values())
        for command in path:
            context = ctx if command is self else typer.Context(command, info_name=command.name)
            _polish_help(command, context)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:  # noqa: ANN401 - click's Context and result
        """Run the sub-command; its usage errors are one line too."""
        with _one_line(bool(ctx.meta.get(JSON_ERRORS))):
            return super().invoke(ctx)


# -- global options anywhere ---------------------------------------------------------------


def hoisted(root: TyperGroup, args: Sequence[str]) -> tuple[list[str], list[Any]]:
    """``args`` with the root's options found after the sub-command moved in front of it.

    An option the sub-command (or, where that is not known yet, any command under the group
    reached) declares itself stays where it is, with its value. The root's ``--json`` given
    before a sub-command that has ``--json`` moves to that sub-command. Also the commands the
    line names, from the root down.
    """
    args = list(args)
    globals_ = _global_options(root)
    front_end = _root_part(root, args)
    front, rest = args[:front_end], args[front_end:]
    command: Any = root  # a click command: the root, then the sub-command reached
    path = [command]
    kept: list[str] = []
    moved: list[str] = []
    at = 0
    while at < len(rest):
        token = rest[at]
        if token == _END:
            kept += rest[at:]
            break
        name, inline = _split(token)
        own = _options(command).get(name) if token.startswith("-") else None
        if own is not None:
            width = 1 if inline or not _takes_value(own) else 2
            kept += rest[at : at + width]
        elif name in globals_ and token.startswith("--"):
            width = 1 if inline or not _takes_value(globals_[name]) else 2
            if at + width > len(rest):
                msg = "needs a value"
                raise typer.BadParameter(msg, param_hint=f"'{name}'")
            moved += rest[at : at + width]
        elif isinstance(command, TyperGroup) and token in command.commands:
            command, width = command.commands[token], 1
            path.append(command)
            kept.append(token)
        else:
            width = 1
            kept.append(token)
        at += width
    if _JSON in front and _JSON in _options(command) and command is not root:
        front.remove(_JSON)
        end = kept.index(_END) if _END in kept else len(kept)
        kept.insert(end, _JSON)
    return front + moved + kept, path


def _root_part(root: TyperGroup, args: Sequence[str]) -> int:
    """Where the root's own options end and the sub-command begins."""
    own = _options(root, descend=False)
    at = 0
    while at < len(args) and args[at].startswith("-") and args[at] != _END:
        name, inline = _split(args[at])
        option = own.get(name)
        at += 2 if option is not None and not inline and _takes_value(option) else 1
    return at


def _global_options(root: TyperGroup) -> dict[str, TyperOption]:
    """The root's options that set up every command (not ``--help`` or ``--version``)."""
    return {
        name: option
        for name, option in _options(root, descend=False).items()
        if not option.is_eager and name.startswith("--")
    }


def _options(command: Any, *, descend: bool = True) -> Mapping[str, TyperOption]:  # noqa: ANN401
    """The options a command declares, by each of their names.

    For a group (whose sub-command is not known yet) also those of every command under it.
    """
    found: dict[str, TyperOption] = {}
    for param in command.params:
        if isinstance(param, TyperOption):
            for name in (*param.opts, *param.secondary_opts):
                found[name] = param
    if descend and isinstance(command, TyperGroup):
        for sub in command.commands.values():
            for name, option in _options(sub).items():
                found.setdefault(name, option)
    return found


def _split(token: str) -> tuple[str, bool]:
    """``--db=x.db`` as ``("--db", True)``: an option's name, and whether its value is inline."""
    if token.startswith("--") and "=" in token:
        return token.split("=", 1)[0], True
    return token, False


def _takes_value(option: TyperOption) -> bool:
    return not option.is_flag and not option.count


def _asks_json(args: Sequence[str]) -> bool:
    """Whether ``--json`` is on the command line (before any ``--``)."""
    args = list(args)
    return _JSON in (args[: args.index(_END)] if _END in args else args)


# -- usage errors in one line --------------------------------------------------------------


@contextlib.contextmanager
def _one_line(as_json: bool) -> Iterator[None]:  # noqa: FBT001 - the one flag
    """Show a usage error as servflow shows every error: one line, a code, a hint; exit 2."""
    try:
        yield
    except typer.TyperException as error:  # click's UsageError and the like, vendored by Typer
        if type(error).__name__ == "NoArgsIsHelpError":
            raise  # no arguments at all: the help it shows is the answer
        ctx = getattr(error, "ctx", None)
        path = ctx.command_path if ctx is not None else "servflow"
        report_error(
            "usage_error", _message(error, ctx), hint=f"see {path} --help", as_json=as_json
        )
        raise typer.Exit(error.exit_code) from None


def _message(error: typer.TyperException, ctx: Any) -> str:  # noqa: ANN401 - click's Context
    """What was wrong; an unknown option with the options it may have meant, global ones too."""
    unknown = getattr(error, "option_name", None)
    if type(error).__name__ != "NoSuchOption" or not isinstance(unknown, str) or ctx is None:
        format_message = getattr(error, "format_message", None)
        return str(format_message() if callable(format_message) else error)
    known = set(_options(ctx.command))
    root = ctx.find_root().command
    if isinstance(root, TyperGroup):
        known |= set(_global_options(root))
    # Compared without their dashes, which every option shares.
    bare = {name.lstrip("-"): name for name in known if name.startswith("--")}
    close = [bare[name] for name in get_close_matches(unknown.lstrip("-"), sorted(bare), n=2)]
    maybe = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"No such option: {unknown}{maybe}"


# -- help ----------------------------------------------------------------------------------


class _Argument(TyperArgument):
    """An argument as usage lines name it, as Click does: ``TICKET``, ``[QUEUE]``, ``KEYS...``."""

    def get_usage_pieces(self, ctx: Any) -> list[str]:  # noqa: ANN401, ARG002 - click's Context
        """``TICKET`` when required, ``[QUEUE]`` when not; ``...`` when it takes several."""
        name = self.metavar or (self.name or "").upper()
        if not self.required:
            name = f"[{name}]"
        return [name + ("..." if self.nargs != 1 else "")]


def _polish(command: Any) -> None:  # noqa: ANN401 - a click command
    """Tidy the help of ``command`` and of every command under it.

    No type after a flag, and arguments named in usage lines as Click names them (Typer writes
    ``<bool>`` and ``{TICKET}``). ``--help`` itself is made only when asked for: ``_polish_help``.
    """
    for param in command.params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""  # a flag takes no value: nothing to show after it
        elif type(param) is TyperArgument:
            param.__class__ = _Argument  # the same argument; only its usage piece differs
    for sub in getattr(command, "commands", {}).values():
        _polish(sub)


def _polish_help(command: Any, ctx: Any) -> None:  # noqa: ANN401 - click's command and Context
    """``--help`` of ``command`` (made when first asked for) shows no type: it takes no value."""
    help_option = command.get_help_option(ctx)
    if isinstance(help_option, TyperOption) and help_option.metavar is None:
        help_option.metavar = ""

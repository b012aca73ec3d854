"""Rendering a message: Jinja2 templates in Spanish and English, overridable by the company.

A template is ``<language>/<kind>.txt`` (``es/receipt.txt``): its first line is the subject,
the rest (after an optional blank line) the body, plain text. The company's own folder, if
given, is looked in first; a language servflow has no template in falls back to the desk's
default language. Times are rendered in the given time zone, ``2026-03-04 17:00 (Europe/Madrid)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from servflow.errors import ConfigurationError

__all__ = ["Templates", "local"]

#: The languages servflow ships templates in.
LANGUAGES = ("en", "es")


def local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    """A time as a message shows it, in ``zone``."""
    if moment is None:
        return None
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"


class Templates:
    """The message templates: the company's folder first, then servflow's own."""

    def __init__(self, folder: str | Path | None = None, *, language: str = "en") -> None:
        import jinja2  # noqa: PLC0415 - only a dispatch needs it (``import servflow`` stays quick)

        loaders: list[jinja2.BaseLoader] = []
        if folder is not None:
            path = Path(folder)
            if not path.is_dir():
                msg = f"templates folder {path} does not exist or is not a folder"
                raise ConfigurationError(msg)
            loaders.append(jinja2.FileSystemLoader(path))
        loaders.append(jinja2.PackageLoader("servflow.desk.outbox", "templates"))
        # Plain text, not HTML: nothing to escape. Undefined names are errors, not blanks.
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            autoescape=False,  # noqa: S701 - plain-text messages
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.language = self.language_of(language) or "en"

    @staticmethod
    def language_of(tag: str | None) -> str | None:
        """The primary language of a tag: ``en-GB`` is ``en``."""
        if not tag:
            return None
        return tag.strip().split("-")[0].split("_")[0].lower() or None

    def render(
        self, kind: str, language: str | None, values: Mapping[str, object]
    ) -> tuple[str, str, str]:
        """The subject, body and language of a message of ``kind`` for a reader of ``language``."""
        import jinja2  # noqa: PLC0415 - loaded by ``__init__`` already

        chosen = self.language_of(language) or self.language
        try:
            template = self._env.get_template(f"{chosen}/{kind}.txt")
        except jinja2.TemplateNotFound:
            chosen = self.language
            try:
                template = self._env.get_template(f"{chosen}/{kind}.txt")
            except jinja2.TemplateNotFound:
                msg = f"no template for a {kind} message in {chosen!r} (nor in its fallback)"
                raise ConfigurationError(msg) from None
        try:
            text = template.render(**values)
        except jinja2.TemplateError as error:
            msg = f"template {chosen}/{kind}.txt cannot be rendered: {error}"
            raise ConfigurationError(msg) from None
        subject, _, body = text.strip().partition("\n")
        return subject.strip(), body.strip("\n") + "\n", chosen

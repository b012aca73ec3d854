"""The build's hook: what the pages' HTML needs before the theme lays it out.

- ``docs/<page>.md`` named in a docstring is a link. Docstrings name the guide that tells more
  as a path of the repository (``docs/how-to/erasure.md``), which reads well in the source and
  in ``help()``; on the site that path links to the page (and its anchor), relative to the page
  that shows it. A path to no page is a warning, so ``mkdocs build --strict`` fails on it.
- Names in table cells may break after an underscore (``waiting_on_customer``), so a wide table
  (the lifecycle's transitions) wraps its headers at word parts instead of running off the page
  or breaking short words (docs/assets/stylesheets/wrap.css).
"""

from __future__ import annotations

import logging
import re
from html import escape
from typing import Any

from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.servflow")

# A whole <code> element holding a docs path, not already inside a link.
_DOCS_PATH = re.compile(r"(?<!>)<code>docs/([\w./-]+\.md)(#[\w-]+)?</code>")
# A table cell: its tag, its content (no nested cell), its end.
_CELL = re.compile(r"(<t[hd][^>]*>)(.*?)(</t[hd]>)", re.DOTALL)
# An underscore inside a word, in text (not in a tag's attributes).
_UNDERSCORE = re.compile(r"(?<=\w)_(?=\w)(?![^<]*>)")


def on_page_content(html: str, page: Page, config: Any, files: Files) -> str:  # noqa: ANN401
    """Link the page's ``docs/...md`` code spans; let its table cells break after ``_``."""
    del config

    def link(match: re.Match[str]) -> str:
        path, anchor = match[1], match[2] or ""
        target = files.get_file_from_path(path)
        if target is None or not target.is_documentation_page():
            log.warning("%s names docs/%s, which is no page of the site", page.file.src_uri, path)
            return match[0]
        href = escape(target.url_relative_to(page.file) + anchor)
        return f'<a href="{href}">{match[0]}</a>'

    def breakable(match: re.Match[str]) -> str:
        return match[1] + _UNDERSCORE.sub("_<wbr>", match[2]) + match[3]

    return _CELL.sub(breakable, _DOCS_PATH.sub(link, html))

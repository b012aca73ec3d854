"""``import servflow`` stays quick: the senders import httpx and smtplib only when used."""

from __future__ import annotations

import subprocess
import sys


def test_importing_servflow_imports_neither_httpx_nor_smtplib() -> None:
    code = "import sys, servflow; print(*(m for m in ('httpx', 'smtplib') if m in sys.modules))"
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""

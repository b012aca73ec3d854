"""Ticket codes: how a request is named (``SR-000123``), and how a new one gets the next code.

A request's id is derived from its code (``request_id_for``), so the store itself keeps codes
unique: two writers claiming one code collide on the id, and the loser looks further up.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from servflow.domain.external import ExternalRef, parse_external
from servflow.domain.request import request_id_for
from servflow.domain.view import Request
from servflow.errors import ConfigurationError, RequestNotFoundError, StoreError, shown

__all__ = ["Ref", "Tickets", "describe", "resolve"]

#: How a request is named: its id, its ticket code (``"SR-000123"``), a ``Request`` view, or
#: its external reference (an ``ExternalRef``, or its text ``"ext:INC0012345"``).
Ref = UUID | str | Request | ExternalRef

_CODE = re.compile(r"^([A-Za-z][A-Za-z0-9]{0,9})-(\d{1,12})$")
_PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,9}$")
_MAX_CODE_ATTEMPTS = 200
#: The longest text ``resolve`` reads as a reference: a UUID in any of its spellings, with blanks.
_MAX_REF = 100
#: The longest text read as an external reference: ``ext:``, a source, ``:`` and the reference.
_MAX_EXTERNAL = 150
_T = TypeVar("_T")
#: Ticket claims in a row that found their number free before a desk guesses again.
_QUIET_CLAIMS = 8


def resolve(ref: Ref, find: Callable[[ExternalRef], UUID] | None = None) -> UUID:
    """The request id a reference names (without checking that the request exists).

    An external reference is looked up with ``find`` (which raises ``RequestNotFoundError``
    when no request has it); without ``find`` it names no request. The forms cannot be
    confused: a UUID and a ticket code never start with ``ext:``.
    """
    if isinstance(ref, Request):
        return ref.id
    if isinstance(ref, UUID):
        return ref
    external = ref if isinstance(ref, ExternalRef) else None
    if isinstance(ref, str) and len(ref) <= _MAX_EXTERNAL:
        text = ref.strip()
        code = _CODE.match(text)
        if code:
            return request_id_for(f"{code.group(1).upper()}-{int(code.group(2)):06d}")
        external = parse_external(text)
        if external is None and len(ref) <= _MAX_REF:
            try:
                return UUID(text)
            except ValueError:
                pass
    if external is not None and find is not None:
        return find(external)
    raise RequestNotFoundError(
        shown(ref),
        detail="not a request id, a ticket code such as 'SR-000123', a Request or an "
        "external reference such as 'ext:INC0012345'",
    )


def describe(ref: Ref) -> str:
    """A reference as error messages name it (``resolve`` accepted it, so it is short)."""
    if isinstance(ref, Request):
        return f"{ref.ticket_code} ({ref.id})"
    return str(ref).strip()  # an ExternalRef's text is its ``ext:`` form


class Tickets:
    """Gives each new request the lowest free ticket code, across every writer of the store."""

    def __init__(self, prefix: str, taken: Callable[[UUID], bool]) -> None:
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
            msg = (
                f"ticket_prefix {shown(prefix)} must be 1-10 capital letters or digits "
                "starting with a letter"
            )
            raise ConfigurationError(msg)
        self._prefix = prefix
        self._taken = taken
        self._lock = threading.Lock()
        self._next_number: int | None = None
        # Claims in a row whose number was found free; from _QUIET_CLAIMS on, ``claim`` tries
        # ``_next_number`` without checking it first.
        self._quiet_claims = _QUIET_CLAIMS

    def forget(self) -> None:
        """Look for the lowest free number afresh next time (numbers were looked at, not taken)."""
        with self._lock:
            self._next_number = None
            self._quiet_claims = 0

    def code(self, number: int) -> str:
        """The ticket code of a number."""
        return f"{self._prefix}-{number:06d}"

    def claim(self, save: Callable[[str], _T]) -> _T:
        """Call ``save(code)`` with free codes until one is not taken meanwhile (IntegrityError).

        ``save`` records the new request under the code; it raises ``IntegrityError`` when
        another writer took the code first.
        """
        with self._lock:
            for attempt in range(_MAX_CODE_ATTEMPTS):
                # After a quiet spell (no other writer took the numbers this desk looked at),
                # try the number after this desk's last claim straight away: the store refuses
                # it if taken, and the check before it would cost a read per request.
                guess = attempt == 0 and self._next_number is not None
                guess = guess and self._quiet_claims >= _QUIET_CLAIMS
                number = (self._next_number or 1) if guess else self._free_number()
                try:
                    saved = save(self.code(number))
                except IntegrityError:
                    self._next_number = number + 1
                    if guess:
                        self._quiet_claims = 0  # others are writing: check before claiming
                        continue
                    # Another writer took this code first: look further up and try again,
                    # after a jittered pause that grows, so racing writers stop colliding.
                    time.sleep(random.uniform(0, min(0.05, 0.0005 * 2 ** min(attempt, 7))))  # noqa: S311 - jitter, not secrets
                    continue
                self._next_number = number + 1
                return saved
        msg = f"could not claim a free ticket code after {_MAX_CODE_ATTEMPTS} attempts"
        raise StoreError(msg)

    def _free_number(self) -> int:
        """The lowest ticket number not yet taken, assuming taken numbers form a prefix 1..n.

        They do: a number is only tried once every lower one is known to be taken, and a
        save either takes it or records nothing. So after a conflict we gallop upwards and
        bisect, in O(log n) existence checks, instead of probing one number at a time.
        """
        start = self._next_number or 1
        if not self._is_taken(start):
            self._quiet_claims += 1
            return start
        if self._next_number is not None:
            self._quiet_claims = 0  # another writer took the number after this desk's last
        step = 1
        low = start  # taken
        high = start + step
        while self._is_taken(high):
            low = high
            step *= 2
            high = start + step
        while high - low > 1:  # low is taken, high is free
            middle = (low + high) // 2
            if self._is_taken(middle):
                low = middle
            else:
                high = middle
        return high

    def _is_taken(self, number: int) -> bool:
        return self._taken(request_id_for(self.code(number)))

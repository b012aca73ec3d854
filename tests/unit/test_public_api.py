"""The supported API is what ``servflow.__all__`` says, and every name in it explains itself."""

from __future__ import annotations

import inspect

import servflow


def test_the_public_api_is_listed_once_and_sorted() -> None:
    names = list(servflow.__all__)
    assert len(names) == len(set(names))
    constants = [n for n in names if n.isupper()]
    others = [n for n in names if not n.isupper()]
    assert names == constants + others
    assert constants == sorted(constants)
    assert others == sorted(others)  # as ruff (RUF022) sorts it: classes, dunders, functions


def test_every_public_name_exists_and_has_a_docstring() -> None:
    for name in servflow.__all__:
        value = getattr(servflow, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name} has no docstring"


def test_every_public_method_of_the_desk_has_a_docstring() -> None:
    for name, member in inspect.getmembers(servflow.ServiceDesk):
        if not name.startswith("_") and callable(member):
            assert inspect.getdoc(member), f"ServiceDesk.{name} has no docstring"

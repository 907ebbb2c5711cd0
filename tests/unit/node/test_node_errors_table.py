"""The node's explicit error table lists every MvoteError class defined in mvote.node."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import mvote.node
from mvote.chaincode.errors import MvoteError
from mvote.node.errors import ERRORS


def _node_error_classes() -> set[type[MvoteError]]:
    found: set[type[MvoteError]] = set()
    for info in pkgutil.walk_packages(mvote.node.__path__, "mvote.node."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, MvoteError) and obj.__module__.startswith("mvote.node"):
                found.add(obj)
    return found


def test_every_node_error_class_is_in_the_table() -> None:
    assert set(ERRORS) == _node_error_classes()


def test_the_table_names_each_class_once_with_distinct_codes() -> None:
    assert len(set(ERRORS)) == len(ERRORS)
    coded = [e.code for e in ERRORS if "code" in e.__dict__]
    assert len(set(coded)) == len(coded)

"""The verifier's declared public API: what auditors and integrators may import."""

from __future__ import annotations

import mvote.verifier as verifier
from mvote.chaincode._errors import MvoteError
from mvote.verifier import _errors as errors


def test_every_public_name_is_defined_and_listed_once() -> None:
    assert len(set(verifier.__all__)) == len(verifier.__all__)
    for name in verifier.__all__:
        assert getattr(verifier, name) is not None, name


def test_the_error_table_lists_every_coded_verifier_error() -> None:
    coded = {
        v
        for v in vars(errors).values()
        if isinstance(v, type)
        and issubclass(v, MvoteError)
        and v is not MvoteError
        and "code" in v.__dict__
    }
    assert set(errors.ERRORS) == coded
    assert len({e.code for e in errors.ERRORS}) == len(errors.ERRORS)
    assert set(errors.ERRORS) <= {getattr(verifier, n) for n in verifier.__all__}

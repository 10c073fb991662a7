"""The error tree maps every §10 code to its exit and HTTP status."""

from __future__ import annotations

import pytest
from pairofcleats import errors


@pytest.mark.parametrize(
    ("code", "exit_code", "http"),
    [
        ("INVALID_REQUEST", 2, 400),
        ("NO_INDEX", 1, 409),
        ("INDEX_INCOMPATIBLE", 1, 409),
        ("INDEX_INVALID", 1, 409),
        ("INDEX_LOCKED", 1, 409),
        ("CAPABILITY_MISSING", 1, 409),
        ("CANCELLED", 130, 499),
        ("UNAUTHORIZED", 1, 401),
        ("FORBIDDEN", 1, 403),
        ("PAYLOAD_TOO_LARGE", 2, 413),
        ("INTERNAL", 1, 500),
        ("ERR_STDOUT_GUARD", 1, 500),
    ],
)
def test_code_maps_to_exit_and_http(code: str, exit_code: int, http: int) -> None:
    assert errors.exit_code_for(code) == exit_code
    assert errors.http_status_for(code) == http


def test_every_class_is_under_the_root_and_listed() -> None:
    for code, cls in errors.CODES.items():
        assert issubclass(cls, errors.PairOfCleatsError)
        assert cls.code == code


def test_to_json_shape() -> None:
    err = errors.InvalidRequest("unbalanced quote at 4", position=4)
    assert err.to_json() == {
        "ok": False,
        "code": "INVALID_REQUEST",
        "message": "unbalanced quote at 4",
        "position": 4,
    }
    no = errors.NoIndex("no index for repo x")
    assert no.to_json()["hint"] == "build one with: pairofcleats index build"
    assert "pairofcleats index build" in no.one_line()


def test_unknown_code_is_internal() -> None:
    assert errors.error_class_for("WHATEVER") is errors.Internal

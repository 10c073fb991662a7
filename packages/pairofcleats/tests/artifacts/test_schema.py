"""``SCHEMA_HASH`` is a written-down constant (a cold search must not build JSON schemas)."""

from __future__ import annotations

from pairofcleats.artifacts import schema


def test_schema_hash_constant_matches_the_models() -> None:
    computed = schema.schema_hash()
    assert computed == schema.SCHEMA_HASH, (
        f"a state model or PIECE_SHAPES changed: set SCHEMA_HASH = {computed!r} in "
        "pairofcleats/artifacts/schema.py"
    )


def test_schema_hash_covers_every_state_model_and_piece_shape() -> None:
    names = set(schema.all_schemas())
    assert names == {"manifest", "indexState", "current", "buildState", "pieces"}

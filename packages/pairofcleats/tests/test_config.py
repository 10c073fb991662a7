"""Config schema and loading (§2; §16 item 22; §15 C6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pairofcleats.config import PairOfCleatsConfig, config_hash, config_status, load
from pairofcleats.errors import ConfigInvalid


def test_defaults() -> None:
    cfg = load(Path("/nonexistent-repo"), {})
    assert cfg.cache.keep_builds == 3
    assert cfg.indexing.modes == ["code", "prose", "extracted-prose"]
    assert cfg.indexing.postings.chargram_max_token_length == 48
    assert cfg.search.ann.hnsw_min_vectors == 20000
    assert cfg.service.api.port == 7345


def test_no_file_env_or_flags_equals_load_config_of_no_layers(tmp_path: Path) -> None:
    from groundwork.config import load_config

    cfg = load(tmp_path, {"PAIROFCLEATS_CACHE_ROOT": str(tmp_path / "cache")})
    assert cfg == load_config(PairOfCleatsConfig, [])
    assert cfg.wire() == load_config(PairOfCleatsConfig, []).wire()


def test_unvalidated_defaults_equal_validated_empty_config() -> None:
    """``load`` without layers skips validation; it must give exactly what ``{}`` validates
    to: same values and types, and no field marked as set (``exclude_unset`` dumps)."""
    from pairofcleats.config import _Strict

    built = load(Path("/nonexistent-repo"), {})
    validated = PairOfCleatsConfig.model_validate_json(b"{}", strict=True)

    def same(a: object, b: object, where: str) -> None:
        assert type(a) is type(b), where
        if isinstance(a, _Strict) and isinstance(b, _Strict):
            assert a.model_fields_set == b.model_fields_set, where
            for name in type(a).model_fields:
                same(getattr(a, name), getattr(b, name), f"{where}.{name}")
        else:
            assert a == b, where

    same(built, validated, "config")
    assert built.wire() == validated.wire()
    assert built.model_dump(exclude_unset=True) == validated.model_dump(exclude_unset=True)


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / ".pairofcleats.json").write_text('{\n  "indexing": {\n    "bogus": 1\n  }\n}\n')
    with pytest.raises(ConfigInvalid) as info:
        load(tmp_path, {})
    err = info.value
    assert err.exit_code == 2
    text = err.message + str(err.errors)
    assert ".pairofcleats.json" in text
    assert "indexing.bogus" in text


def test_wrong_type_names_key(tmp_path: Path) -> None:
    (tmp_path / ".pairofcleats.json").write_text('{"cache": {"keepBuilds": "many"}}')
    with pytest.raises(ConfigInvalid) as info:
        load(tmp_path, {})
    assert "cache.keepBuilds" in info.value.message + str(info.value.errors)


def test_jsonc_comments_and_precedence(tmp_path: Path) -> None:
    (tmp_path / ".pairofcleats.json").write_text(
        '{\n // comment\n "indexing": {"embeddings": {"provider": "off"}, "sqlite": false,},\n}\n'
    )
    cfg = load(tmp_path, {})
    assert cfg.indexing.embeddings.provider == "off" and cfg.indexing.sqlite is False
    cfg = load(tmp_path, {"PAIROFCLEATS_EMBEDDINGS": "stub"})
    assert cfg.indexing.embeddings.provider == "stub"
    cfg = load(
        tmp_path,
        {"PAIROFCLEATS_EMBEDDINGS": "stub"},
        {"indexing": {"embeddings": {"provider": "minilm"}}},
    )
    assert cfg.indexing.embeddings.provider == "minilm"


def test_config_hash_ignores_cache_and_service() -> None:
    a = PairOfCleatsConfig()
    b = PairOfCleatsConfig.model_validate(
        {"cache": {"root": "/x"}, "service": {"api": {"port": 1}}}
    )
    c = PairOfCleatsConfig.model_validate({"indexing": {"sqlite": False}})
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash(c)


def test_config_status_reports_errors(tmp_path: Path) -> None:
    st = config_status(tmp_path, {})
    assert (
        st["ok"]
        and st["valid"]
        and not st["exists"]
        and st["effective"]["cache"]["keepBuilds"] == 3
    )
    (tmp_path / ".pairofcleats.json").write_text('{"nope": 1}')
    st = config_status(tmp_path, {})
    assert not st["valid"] and st["errors"]


def _leaf_paths(schema_model: type, prefix: str = "") -> list[str]:
    from pydantic import BaseModel

    out = []
    for name, field in schema_model.model_fields.items():  # type: ignore[attr-defined]
        key = field.alias or name
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.extend(_leaf_paths(ann, f"{prefix}{key}."))
        else:
            out.append(prefix + key)
    return out


def test_every_known_key_round_trips_into_effective_config() -> None:
    leaves = _leaf_paths(PairOfCleatsConfig)
    assert "indexing.postings.phraseMaxN" in leaves
    wire = PairOfCleatsConfig().wire()
    for leaf in leaves:
        node = wire
        for part in leaf.split("."):
            assert part in node, leaf
            node = node[part]


def test_flat_values_equal_model_dump() -> None:
    """The search reads field and FTS weights through ``flat_values`` (no schema build): it
    must equal ``model_dump`` for defaults and for configured values."""
    from pairofcleats.config import FieldWeights, FtsWeights, flat_values

    cfg = load(Path("/nonexistent-repo"), {})
    for model in (cfg.search.fts_weights, FtsWeights.model_validate({"name": 2.5, "file": 0})):
        assert flat_values(model) == model.model_dump()
    fw = cfg.search.field_weights
    assert not isinstance(fw, bool)
    for model in (fw, FieldWeights.model_validate({"name": 3.0, "body": 0.5})):
        assert flat_values(model) == model.model_dump()


def test_invalid_value_hint_names_where_it_came_from(tmp_path: Path) -> None:
    """A bad flag or env value points at the flag or variable, not at a config file that
    does not exist; a bad file value points at the file."""
    file = tmp_path / ".pairofcleats.json"
    with pytest.raises(ConfigInvalid) as info:
        load(tmp_path, {}, {"indexing": {"embeddings": {"provider": "nope"}}})
    assert info.value.hint is not None
    assert "flag" in info.value.hint and str(file) not in info.value.hint
    with pytest.raises(ConfigInvalid) as info:
        load(tmp_path, {"PAIROFCLEATS_EMBEDDINGS": "nope"})
    assert info.value.hint is not None and "$PAIROFCLEATS_EMBEDDINGS" in info.value.hint
    file.write_text('{"cache": {"keepBuilds": "many"}}')
    with pytest.raises(ConfigInvalid) as info:
        load(tmp_path, {})
    assert info.value.hint is not None and str(file) in info.value.hint

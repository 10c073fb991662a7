"""compatibilityKey and its inputs (§1): what must match for an index to be readable.

Inputs are stored next to the key so a mismatch can name the input that differs.
"""

from __future__ import annotations

import hashlib
from typing import Any

from groundwork import jsonio

from pairofcleats.artifacts.schema import ARTIFACT_SURFACE_MAJOR, SCHEMA_HASH, SQLITE_SCHEMA_VERSION
from pairofcleats.build.process import CHUNK_ID_ALGO_VERSION, TEXT_RECIPE_VERSION
from pairofcleats.config import PairOfCleatsConfig
from pairofcleats.lang.registry import REGISTRY_VERSION, grammar_versions
from pairofcleats.tokenize import settings_fingerprint

MODE_ORDER = ("code", "prose", "extracted-prose")


def sha1_json(value: Any) -> str:
    """sha1 hex of canonical JSON."""
    return hashlib.sha1(jsonio.dumps(value)).hexdigest()


def embeddings_key(provider: str, model_id: str, dims: int, max_tokens: int) -> str:
    """sha1 of {provider, modelId, dims, quantization, maxTokens, textRecipeVersion}."""
    return sha1_json(
        {
            "provider": provider,
            "modelId": model_id,
            "dims": dims,
            "quantization": "uint8-linear-256",
            "maxTokens": max_tokens,
            "textRecipeVersion": TEXT_RECIPE_VERSION,
        }
    )


def compatibility_inputs(
    cfg: PairOfCleatsConfig, modes: list[str], emb_key: str | None
) -> dict[str, Any]:
    """Every input of the key, as stored in index_state.compatibilityInputs."""
    postings = cfg.indexing.postings.model_dump(mode="json", by_alias=True)
    tok_keys = {
        m: sha1_json({"tokenizer": settings_fingerprint(m), "postings": postings})
        for m in sorted(modes)
    }
    policy = sha1_json(
        {
            "registryVersion": REGISTRY_VERSION,
            "grammars": grammar_versions(),
            "chunking": cfg.indexing.chunking.model_dump(mode="json", by_alias=True),
        }
    )
    return {
        "artifactSurfaceMajor": ARTIFACT_SURFACE_MAJOR,
        "schemaHash": SCHEMA_HASH,
        "tokenizationKeys": tok_keys,
        "embeddingsKey": emb_key,
        "languagePolicyKey": policy,
        "chunkIdAlgoVersion": CHUNK_ID_ALGO_VERSION,
        "sqliteSchemaVersion": SQLITE_SCHEMA_VERSION,
        "modes": sorted(modes),
    }


def compatibility_key(inputs: dict[str, Any]) -> str:
    """sha1 of the canonical inputs."""
    return sha1_json(inputs)


def code_constant_mismatch(stored: dict[str, Any]) -> list[str]:
    """Names of inputs fixed by code constants that differ from this build of the tool."""
    out = []
    if stored.get("artifactSurfaceMajor") != ARTIFACT_SURFACE_MAJOR:
        out.append("artifactSurfaceMajor")
    if stored.get("schemaHash") != SCHEMA_HASH:
        out.append("schemaHash")
    if stored.get("chunkIdAlgoVersion") != CHUNK_ID_ALGO_VERSION:
        out.append("chunkIdAlgoVersion")
    if stored.get("sqliteSchemaVersion") != SQLITE_SCHEMA_VERSION:
        out.append("sqliteSchemaVersion")
    return out


def ordered_modes(modes: list[str]) -> list[str]:
    """Modes in canonical order (code, prose, extracted-prose)."""
    return [m for m in MODE_ORDER if m in modes]

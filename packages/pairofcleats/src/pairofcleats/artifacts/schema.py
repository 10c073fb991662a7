"""Schemas of the state files and the pieces manifest (§1), plus piece shape checks (§5).

State files are pydantic models (strict, ``extensions{}`` the only open slot);
``SCHEMA_HASH`` is the sha1 of all of them plus the piece shape table, so any
schema change changes the compatibilityKey.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from groundwork import jsonio
from pydantic import BaseModel, ConfigDict, Field

ARTIFACT_SURFACE_VERSION = "1.0.0"
ARTIFACT_SURFACE_MAJOR = 1
MANIFEST_VERSION = 2
SQLITE_SCHEMA_VERSION = 1
CHECKSUM_RE = r"^xxh64:[0-9a-f]{16}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class PieceEntry(_Strict):
    type: str
    name: str
    format: Literal["json", "jsonl", "bin", "usearch", "sqlite"]
    path: str
    bytes: int = Field(ge=0)
    checksum: str = Field(pattern=CHECKSUM_RE)
    count: int | None = Field(None, ge=0)


class PiecesManifest(_Strict):
    version: Literal[2]
    artifactSurfaceVersion: str  # noqa: N815 - wire name
    compatibilityKey: str  # noqa: N815
    generatedAt: str  # noqa: N815
    mode: str
    stage: str
    repoId: str  # noqa: N815
    buildId: str  # noqa: N815
    pieces: list[PieceEntry]
    extensions: dict[str, Any] = Field(default_factory=dict)


class PostingsSettings(_Strict):
    phraseMinN: int  # noqa: N815
    phraseMaxN: int  # noqa: N815
    chargramMinN: int  # noqa: N815
    chargramMaxN: int  # noqa: N815
    chargramMaxTokenLength: int  # noqa: N815


class Features(_Strict):
    fielded: bool
    phrase: bool
    chargram: bool
    minhash: bool
    filterIndex: bool  # noqa: N815
    relations: bool
    postings: PostingsSettings


class EmbeddingsState(_Strict):
    enabled: bool
    ready: bool
    provider: str | None
    model: str | None
    dims: int | None
    count: int
    hnsw: bool


class SqliteState(_Strict):
    ready: bool
    path: str | None
    schemaVersion: int  # noqa: N815
    bytes: int


class Counts(_Strict):
    files: int
    chunks: int
    vocab: int


class IndexState(_Strict):
    generatedAt: str  # noqa: N815
    updatedAt: str  # noqa: N815
    mode: str
    artifactSurfaceVersion: str  # noqa: N815
    compatibilityKey: str  # noqa: N815
    compatibilityInputs: dict[str, Any]  # noqa: N815
    repoId: str  # noqa: N815
    buildId: str  # noqa: N815
    stage: Literal["stage1", "stage2", "stage3", "stage4"]
    embeddings: EmbeddingsState
    features: Features
    sqlite: SqliteState
    counts: Counts
    extensions: dict[str, Any] = Field(default_factory=dict)


class ToolInfo(_Strict):
    version: str


class RepoInfo(_Strict):
    provider: str
    head: dict[str, Any] | None
    dirty: bool | None


class CurrentPointer(_Strict):
    buildId: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")  # noqa: N815
    buildRoot: str  # noqa: N815
    buildRoots: dict[str, str]  # noqa: N815
    promotedAt: str  # noqa: N815
    stage: str
    modes: list[str]
    configHash: str  # noqa: N815
    artifactSurfaceVersion: str  # noqa: N815
    compatibilityKey: str  # noqa: N815
    tool: ToolInfo
    repo: RepoInfo


class Phase(_Strict):
    status: str
    startedAt: str | None = None  # noqa: N815
    finishedAt: str | None = None  # noqa: N815
    durationMs: int | None = None  # noqa: N815


class ValidationIssue(_Strict):
    mode: str | None
    artifact: str | None
    code: str
    message: str


class ValidationReport(_Strict):
    ok: bool
    checkedAt: str  # noqa: N815
    issueCount: int  # noqa: N815
    warningCount: int  # noqa: N815
    issues: list[ValidationIssue]


class BuildState(_Strict):
    schemaVersion: Literal[1]  # noqa: N815
    buildId: str  # noqa: N815
    buildRoot: str  # noqa: N815
    repoRoot: str  # noqa: N815
    status: Literal["running", "failed", "cancelled", "validated", "promoted"]
    createdAt: str  # noqa: N815
    updatedAt: str  # noqa: N815
    stage: str
    modes: list[str]
    tool: dict[str, str]
    signatureVersion: Literal[1]  # noqa: N815
    configHash: str  # noqa: N815
    compatibilityKey: str  # noqa: N815
    repo: RepoInfo
    phases: dict[str, Phase]
    counts: dict[str, dict[str, int]]
    discovery: dict[str, Any]
    incremental: dict[str, int]
    validation: ValidationReport | None
    extensions: dict[str, Any] = Field(default_factory=dict)


#: Piece name → (type, format, top-level shape) for the §5 artifacts.
PIECE_SHAPES: dict[str, tuple[str, str, str]] = {
    "chunk_meta": ("chunks", "json", "array"),
    "field_tokens": ("chunks", "jsonl", "lines"),
    "token_postings": ("postings", "json", "object:vocab,postings,docLengths,avgDocLen,totalDocs"),
    "field_postings": ("postings", "json", "object:fields"),
    "phrase_ngrams": ("postings", "json", "object:vocab,postings"),
    "chargram_postings": ("postings", "json", "object:vocab,postings"),
    "minhash_signatures": ("postings", "json", "object:signatures"),
    "file_meta": ("files", "json", "array"),
    "file_relations": ("relations", "json", "array"),
    "repo_map": ("relations", "json", "array"),
    "filter_index": (
        "filter",
        "json",
        "object:fileChargramN,fileById,fileChunksById,byExt,byLang,byKind,byAuthor,byCall,byUse,fileChargrams",
    ),
    "dense_vectors_uint8": (
        "embeddings",
        "json",
        "object:model,dims,scale,minVal,maxVal,levels,count,path",
    ),
    "dense_vectors_doc_uint8": (
        "embeddings",
        "json",
        "object:model,dims,scale,minVal,maxVal,levels,count,path",
    ),
    "dense_vectors_code_uint8": (
        "embeddings",
        "json",
        "object:model,dims,scale,minVal,maxVal,levels,count,path",
    ),
    "dense_vectors_hnsw_meta": (
        "embeddings",
        "json",
        "object:dims,count,space,m,efConstruction,efSearch",
    ),
}


def all_schemas() -> dict[str, Any]:
    """Every model's JSON schema plus the piece shape table: what ``SCHEMA_HASH`` hashes."""
    return {
        "manifest": PiecesManifest.model_json_schema(),
        "indexState": IndexState.model_json_schema(),
        "current": CurrentPointer.model_json_schema(),
        "buildState": BuildState.model_json_schema(),
        "pieces": {k: list(v) for k, v in PIECE_SHAPES.items()},
    }


def schema_hash() -> str:
    """sha1 of :func:`all_schemas` (building every JSON schema costs ~100 ms)."""
    return hashlib.sha1(jsonio.dumps(all_schemas())).hexdigest()


# schema_hash(), written down so a cold ``pairofcleats search`` need not build every JSON
# schema; tests/artifacts/test_schema.py fails (printing the new value) when a model changes.
SCHEMA_HASH = "096fb7426049ee7639a66f3457e65c6dfa3f5587"


def shape_problem(name: str, value: Any) -> str | None:
    """A one-line description of how ``value`` breaks the shape of piece ``name``."""
    shape = PIECE_SHAPES.get(name)
    if shape is None:
        return None
    kind = shape[2]
    if kind == "array":
        return None if isinstance(value, list) else "expected a JSON array"
    if kind.startswith("object:"):
        if not isinstance(value, dict):
            return "expected a JSON object"
        missing = [k for k in kind[7:].split(",") if k not in value]
        if missing:
            return "missing keys: " + ", ".join(missing)
    return None

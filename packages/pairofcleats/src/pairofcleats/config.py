"""``.pairofcleats.json`` schema and loading (§2).

Every level forbids unknown keys; values keep the spec's camelCase names on the
wire (aliases) and snake_case in Python. Precedence: flags > env > file > defaults.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from groundwork import jsonio
from pydantic import BaseModel, ConfigDict, Field

from pairofcleats.errors import ConfigInvalid
from pairofcleats.paths import CONFIG_FILE


class _Strict(BaseModel):
    # Schemas are built on first validation or dump, not at import: a cold search of a repo
    # without a config file never validates one (see ``_defaults``).
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)


class CacheConfig(_Strict):
    root: str | None = None
    keep_builds: int = Field(3, alias="keepBuilds", ge=0)


class FileCap(_Strict):
    max_bytes: int | None = Field(None, alias="maxBytes", ge=0)
    max_lines: int | None = Field(None, alias="maxLines", ge=0)


class FileCaps(_Strict):
    by_ext: dict[str, FileCap] = Field(default_factory=dict, alias="byExt")
    by_language: dict[str, FileCap] = Field(default_factory=dict, alias="byLanguage")
    by_mode: dict[str, FileCap] = Field(default_factory=dict, alias="byMode")


class IgnoreConfig(_Strict):
    defaults: bool = True
    files: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)


class ScmConfig(_Strict):
    provider: Literal["auto", "git", "none"] = "auto"
    annotate: bool = True
    max_commits: int = Field(10000, alias="maxCommits", ge=0)


class ChunkingConfig(_Strict):
    max_lines: int = Field(400, alias="maxLines", ge=1)
    max_bytes: int = Field(32768, alias="maxBytes", ge=64)
    window_lines: int = Field(80, alias="windowLines", ge=1)


class PostingsConfig(_Strict):
    fielded: bool = True
    enable_phrase_ngrams: bool = Field(True, alias="enablePhraseNgrams")
    phrase_min_n: int = Field(2, alias="phraseMinN", ge=1)
    phrase_max_n: int = Field(4, alias="phraseMaxN", ge=1)
    enable_chargrams: bool = Field(True, alias="enableChargrams")
    chargram_min_n: int = Field(3, alias="chargramMinN", ge=1)
    chargram_max_n: int = Field(5, alias="chargramMaxN", ge=1)
    chargram_max_token_length: int = Field(48, alias="chargramMaxTokenLength", ge=1)


class EmbeddingsConfig(_Strict):
    provider: Literal["auto", "minilm", "stub", "off"] = "auto"
    dims: int = 384
    batch_size: int = Field(32, alias="batchSize", ge=1)
    max_tokens: int = Field(256, alias="maxTokens", ge=1)
    variants: list[Literal["merged", "doc", "code"]] = Field(
        default_factory=lambda: ["merged"]  # type: ignore[arg-type]
    )


class IndexingConfig(_Strict):
    modes: list[Literal["code", "prose", "extracted-prose"]] = Field(
        default_factory=lambda: ["code", "prose", "extracted-prose"]  # type: ignore[arg-type]
    )
    max_file_bytes: int = Field(5242880, alias="maxFileBytes", ge=0)
    max_file_lines: int | None = Field(None, alias="maxFileLines", ge=0)
    file_caps: FileCaps = Field(default_factory=FileCaps, alias="fileCaps")
    ignore: IgnoreConfig = Field(default_factory=IgnoreConfig)
    scm: ScmConfig = Field(default_factory=ScmConfig)
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)
    sqlite: bool = True
    incremental: bool = True
    postings: PostingsConfig = Field(default_factory=PostingsConfig)
    embeddings: EmbeddingsConfig = Field(default_factory=EmbeddingsConfig)


class RrfConfig(_Strict):
    enabled: bool = True
    k: int = Field(60, ge=1)


class ScoreBlendConfig(_Strict):
    enabled: bool = False
    sparse_weight: float = Field(1.0, alias="sparseWeight")
    ann_weight: float = Field(1.0, alias="annWeight")


class Bm25Config(_Strict):
    k1: float = 1.2
    b: float = 0.75


class FieldWeights(_Strict):
    name: float | None = None
    signature: float | None = None
    doc: float | None = None
    comment: float | None = None
    body: float | None = None
    keyword: float | None = None
    operator: float | None = None


class FtsWeights(_Strict):
    file: float | None = None
    name: float | None = None
    signature: float | None = None
    kind: float | None = None
    headline: float | None = None
    doc: float | None = None
    tokens: float | None = None


class SymbolBoostConfig(_Strict):
    enabled: bool = True
    definition_weight: float = Field(1.15, alias="definitionWeight")
    export_weight: float = Field(1.1, alias="exportWeight")


class AnnConfig(_Strict):
    enabled: bool = True
    backend: Literal["auto", "exact", "hnsw"] = "auto"
    hnsw_min_vectors: int = Field(20000, alias="hnswMinVectors", ge=1)
    ef_search: int = Field(64, alias="efSearch", ge=1)
    minhash_fallback: bool = Field(False, alias="minhashFallback")


class SearchConfig(_Strict):
    backend: str = "auto"
    top: int = Field(5, ge=1)
    match_mode: Literal["auto", "all", "any"] = Field("auto", alias="matchMode")
    rrf: RrfConfig = Field(default_factory=RrfConfig)
    score_blend: ScoreBlendConfig = Field(default_factory=ScoreBlendConfig, alias="scoreBlend")
    bm25: Bm25Config = Field(default_factory=Bm25Config)
    field_weights: FieldWeights | Literal[False] = Field(
        default_factory=FieldWeights, alias="fieldWeights"
    )
    fts_profile: Literal["balanced", "headline", "name"] = Field("balanced", alias="ftsProfile")
    fts_weights: FtsWeights = Field(default_factory=FtsWeights, alias="ftsWeights")
    max_candidates: int = Field(20000, alias="maxCandidates", ge=1)
    symbol_boost: SymbolBoostConfig = Field(default_factory=SymbolBoostConfig, alias="symbolBoost")
    ann: AnnConfig = Field(default_factory=AnnConfig)
    sqlite_auto_chunk_threshold: int = Field(5000, alias="sqliteAutoChunkThreshold", ge=0)
    sqlite_auto_artifact_bytes: int = Field(33554432, alias="sqliteAutoArtifactBytes", ge=0)


class ApiConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(7345, ge=0, le=65535)
    allowed_repo_roots: list[str] = Field(default_factory=list, alias="allowedRepoRoots")
    max_body_bytes: int = Field(1000000, alias="maxBodyBytes", ge=1)
    token: str | None = None


class McpConfig(_Strict):
    queue_max: int = Field(64, alias="queueMax", ge=1)


class ServiceConfig(_Strict):
    api: ApiConfig = Field(default_factory=ApiConfig)
    mcp: McpConfig = Field(default_factory=McpConfig)


class PairOfCleatsConfig(_Strict):
    """The whole file; ``retrieval`` is reserved for later phases."""

    cache: CacheConfig = Field(default_factory=CacheConfig)
    quality: Literal["auto", "fast", "balanced", "max"] = "auto"
    threads: int | None = Field(None, ge=1)
    indexing: IndexingConfig = Field(default_factory=IndexingConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    retrieval: dict[str, Any] = Field(default_factory=dict)

    def wire(self) -> dict[str, Any]:
        """The effective config as JSON with the spec's key names."""
        return self.model_dump(mode="json", by_alias=True)

    @property
    def effective_threads(self) -> int:
        return self.threads or os.cpu_count() or 1


ENV_MAP = {
    "PAIROFCLEATS_CACHE_ROOT": "cache.root",
    "PAIROFCLEATS_API_TOKEN": "service.api.token",
    "PAIROFCLEATS_EMBEDDINGS": "indexing.embeddings.provider",
}


def config_path(repo_root: Path) -> Path:
    """``<repo>/.pairofcleats.json``."""
    return repo_root / CONFIG_FILE


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    """Env values that are not cache.root (that one gets ``/cache-v1`` appended in paths)."""
    out: dict[str, Any] = {}
    if env.get("PAIROFCLEATS_EMBEDDINGS"):
        out["PAIROFCLEATS_EMBEDDINGS"] = env["PAIROFCLEATS_EMBEDDINGS"]
    if env.get("PAIROFCLEATS_API_TOKEN"):
        out["PAIROFCLEATS_API_TOKEN"] = env["PAIROFCLEATS_API_TOKEN"]
    return out


_M = TypeVar("_M", bound=_Strict)


def _defaults(cls: type[_M]) -> _M:
    """``cls`` with every field at its default, built without validation: equal (fields-set
    included) to validating ``{}``, but it builds no pydantic schema, which costs a cold
    search ~200 ms. Nested models come from their own ``_defaults``."""
    values: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        factory = info.default_factory
        if isinstance(factory, type) and issubclass(factory, _Strict):
            values[name] = _defaults(factory)
        elif factory is not None:
            # no factory here takes the validated data; calling it directly skips pydantic's
            # signature inspection of each factory (~10 ms of a cold search)
            values[name] = factory()  # type: ignore[call-arg]
        else:
            values[name] = info.get_default()
    built = cls.model_construct(_fields_set=set(), **values)
    assert isinstance(built, cls)  # mypy widens model_construct on type[_M] to the bound
    return built


def flat_values(model: _Strict) -> dict[str, Any]:
    """``model.model_dump()`` of a model without nested models (``FieldWeights``,
    ``FtsWeights``), read off its fields: dumping builds the model's schema, which a cold
    search need not pay for."""
    return {name: getattr(model, name) for name in type(model).model_fields}


def load(
    repo_root: Path, env: Mapping[str, str], flags: Mapping[str, Any] | None = None
) -> PairOfCleatsConfig:
    """Load defaults < file < env < flags; raise ``ConfigInvalid`` listing every issue.

    ``flags`` is a nested dict in wire names (``{"indexing": {"sqlite": False}}``).
    ``PAIROFCLEATS_CACHE_ROOT`` is not merged here: ``paths.default_cache_root`` gives
    it the ``/cache-v1`` suffix, while a file ``cache.root`` is used as given.
    """
    path = config_path(repo_root)
    env_values = _env_layer(env)
    if not flags and not env_values and not path.exists():
        # what load_config validates for no layers, without importing groundwork.config or
        # building the schema (a cold search of a repo without a config file)
        return _defaults(PairOfCleatsConfig)
    from groundwork.config import ConfigError, DictLayer, EnvMapLayer, FileLayer, load_config

    layers: list[Any] = []
    if path.exists():
        layers.append(FileLayer(path))
    if env_values:
        layers.append(
            EnvMapLayer(
                env_values,
                {k: v for k, v in ENV_MAP.items() if k != "PAIROFCLEATS_CACHE_ROOT"},
            )
        )
    if flags:
        layers.append(DictLayer(dict(flags)))
    try:
        return load_config(PairOfCleatsConfig, layers)
    except ConfigError as exc:
        issues = [
            {
                "source": str(i.source),
                "line": i.line,
                "key": i.key_path,
                "expected": i.expected,
                "got": i.got,
                "kind": i.kind,
            }
            for i in exc.issues
        ]
        first = str(exc).splitlines()[0] if str(exc) else "invalid configuration"
        raise ConfigInvalid(first, hint=_fix_hint(issues, path), errors=issues) from exc


def _fix_hint(issues: list[dict[str, Any]], path: Path) -> str:
    """Point at what holds the first bad value: a flag, an environment variable or the file
    (a bad ``--embeddings`` must not send the user to a config file that does not exist)."""
    source = str(issues[0]["source"]) if issues else str(path)
    if source == "flags":
        return "fix the flag's value: see the command's --help"
    if source in ENV_MAP:
        return f"fix or unset ${source} (see docs/pairofcleats/config.md)"
    return f"fix {path} (see docs/pairofcleats/config.md)"


def apply_quality(cfg: PairOfCleatsConfig) -> PairOfCleatsConfig:
    """Quality presets: ``fast`` turns chargrams off (embeddings off is decided at build)."""
    if cfg.quality != "fast" or not cfg.indexing.postings.enable_chargrams:
        return cfg
    postings = cfg.indexing.postings.model_copy(update={"enable_chargrams": False})
    indexing = cfg.indexing.model_copy(update={"postings": postings})
    return cfg.model_copy(update={"indexing": indexing})


def config_hash(cfg: PairOfCleatsConfig) -> str:
    """sha1 of the stable JSON of effective ``indexing`` + ``quality`` (no cache/service)."""
    payload = {
        "indexing": cfg.indexing.model_dump(mode="json", by_alias=True),
        "quality": cfg.quality,
    }
    return hashlib.sha1(jsonio.dumps(payload)).hexdigest()


def config_status(repo_root: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """``{ok, repo, configPath, exists, valid, errors[], effective}`` (§2)."""
    path = config_path(repo_root)
    out: dict[str, Any] = {
        "ok": True,
        "repo": str(repo_root),
        "configPath": str(path),
        "exists": path.exists(),
        "valid": True,
        "errors": [],
        "effective": None,
    }
    try:
        cfg = load(repo_root, env)
    except ConfigInvalid as exc:
        out["ok"] = False
        out["valid"] = False
        out["errors"] = exc.errors or [{"message": exc.message}]
        return out
    eff = cfg.wire()
    if eff.get("service", {}).get("api", {}).get("token"):
        eff["service"]["api"]["token"] = "***"
    out["effective"] = eff
    return out

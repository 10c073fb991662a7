"""Docs stay complete: every CLI command, config key and wire type is documented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from spiderweb.cli import app
from spiderweb.config import SpiderwebConfig
from spiderweb.protocol import outbound
from spiderweb.protocol.errors import ErrorCode
from spiderweb.protocol.inbound import INBOUND_TYPES

DOCS = Path(__file__).resolve().parents[3] / "docs" / "spiderweb"


def commands(group: Any, prefix: str = "spiderweb") -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            out += commands(cmd, f"{prefix} {name}")
        else:
            out.append(f"{prefix} {name}")
            assert cmd.help, f"{prefix} {name} has no help"
    return out


def test_every_command_is_documented() -> None:
    readme = (DOCS / "README.md").read_text()
    root = typer.main.get_command(app)
    names = commands(root)
    assert len(names) >= 19
    for name in names:
        assert f"`{name}" in readme, f"{name} missing from docs/spiderweb/README.md"


def test_every_config_key_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    cfg = SpiderwebConfig()
    for section in SpiderwebConfig.model_fields:
        for key in getattr(cfg, section).model_dump():
            assert f"`{section}.{key}`" in text, f"{section}.{key} undocumented"


def test_every_wire_type_and_code_is_documented() -> None:
    text = (DOCS / "protocol.md").read_text()
    for kind in INBOUND_TYPES:
        assert f"`{kind}`" in text
    out_types = {
        cls.TYPE
        for cls in vars(outbound).values()
        if isinstance(cls, type) and issubclass(cls, outbound.OutFrame) and cls.TYPE
    }
    assert len(out_types) >= 16
    for kind in out_types:
        assert kind in text, kind
    for code in ErrorCode:
        assert f"`{code.value}`" in text


#: Options every data-dir command shares, documented once above the table.
SHARED_OPTIONS = {"--help", "-h", "--data-dir", "--config", "--json"}


def test_every_cli_option_is_documented_on_its_command_row() -> None:
    readme = (DOCS / "README.md").read_text()
    for option in SHARED_OPTIONS - {"-h"}:
        assert f"`{option}" in readme or f"{option}`" in readme, option
    root = typer.main.get_command(app)
    missing = []
    for name in commands(root):
        row = next(line for line in readme.splitlines() if f"`{name}" in line)
        cmd: Any = root
        for part in name.split()[1:]:
            cmd = cmd.commands[part]
        for param in cmd.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("-") and opt not in SHARED_OPTIONS and opt not in row:
                    missing.append(f"{name} {opt}")
    assert missing == []


def json_examples() -> list[dict[str, Any]]:
    """Every JSON line inside a ```json block of protocol.md (each must parse)."""
    frames, inside = [], False
    for line in (DOCS / "protocol.md").read_text().splitlines():
        if line.startswith("```"):
            inside = line == "```json"
            continue
        if inside and line.strip():
            frames.append(json.loads(line))
    return frames


def test_every_wire_type_has_an_example() -> None:
    shown = {f.get("type") for f in json_examples()}
    out_types = {
        cls.TYPE
        for cls in vars(outbound).values()
        if isinstance(cls, type) and issubclass(cls, outbound.OutFrame) and cls.TYPE
    }
    missing = (set(INBOUND_TYPES) | out_types | {"session.new", "session.reset"}) - shown
    assert missing == set()

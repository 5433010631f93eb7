"""The platform's boundaries: ``app/`` imports no feature, features plug in through
``app.features`` and ``app.hooks``, one settings tree, typed runtime slots."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import BaseModel

from app import features
from app.config import ConfigError, load_settings
from app.realtime import gateway
from app.realtime.ops import Registry, WsOp
from app.runtime import Runtime, Slot

ROOT = Path(__file__).resolve().parents[2]
FEATURE_PACKAGES = ("social", "games", "content")


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_platform_imports_no_feature():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] in FEATURE_PACKAGES
        )
        for path in sorted((ROOT / "app").rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_configuration_is_one_settings_tree():
    """No second settings class and no feature reading the environment itself."""
    for package in ("app", *FEATURE_PACKAGES):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            if path != ROOT / "app" / "config.py":
                assert "BaseSettings" not in text, path
            if package != "app":
                assert "os.environ" not in text and "getenv" not in text, path


def test_content_settings_and_the_rules_file_come_from_the_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("QUANZI_CONTENT_REPORT_THRESHOLD", "7")
    monkeypatch.setenv("QUANZI_GAMES_RULES_FILE", str(tmp_path / "rules.toml"))
    settings = load_settings()
    assert settings.content.report_threshold == 7
    assert settings.games_rules_file == tmp_path / "rules.toml"


def test_a_bad_setting_is_one_line_naming_it(monkeypatch):
    monkeypatch.setenv("QUANZI_DB_POOL_SIZE", "many")
    monkeypatch.setenv("QUANZI_CONTENT_REPORT_THRESHOLD", "0")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    assert "\n" not in message
    assert "QUANZI_DB_POOL_SIZE:" in message and "QUANZI_CONTENT_REPORT_THRESHOLD:" in message


def test_the_runtime_has_typed_fields_and_slots_not_a_dict_of_extras(rt):
    assert "extras" not in Runtime.__dataclass_fields__
    made: list[Runtime] = []

    def make(r: Runtime) -> list[str]:
        made.append(r)
        return []

    slot: Slot[list[str]] = Slot("test.thing", make)
    assert rt.slot(slot) is rt.slot(slot) and made == [rt]  # made once per runtime
    twin: Slot[list[str]] = Slot("test.thing", make)
    assert rt.slot(twin) is not rt.slot(slot)  # slots are told apart by identity, not name


def test_features_give_their_seeds_commands_jobs_and_websocket_ops():
    assert "social.friends" in [name for name, _ in features.seeders()]
    assert "leaderboards" in [name for name, _ in features.commands()]
    assert {j.name for j in features.jobs()} >= {"transfer_refunds", "red_packet_refunds"}
    ops = gateway.registry()
    assert {"auth", "ping", "pong", "send", "sync", "read"} <= set(ops.names)
    assert ops.fill_gap is not None


class EchoFrame(BaseModel):
    op: str
    text: str


async def test_the_gateway_parses_frames_against_the_registered_ops():
    async def echo(socket, frame):  # pragma: no cover - parsing only
        pass

    ops = Registry([WsOp("echo", EchoFrame, echo)])
    op, frame, cid = gateway.parse_frame('{"op":"echo","text":"hi","cid":"c1"}', 1024, ops)
    assert op.op == "echo" and frame.text == "hi" and cid == "c1"
    from app.errors import ValidationFailed

    with pytest.raises(Exception) as unknown:
        gateway.parse_frame('{"op":"send","cid":"c2"}', 1024, ops)
    error = unknown.value.error  # type: ignore[attr-defined]
    assert isinstance(error, ValidationFailed) and error.details["ops"] == ["echo"]
    with pytest.raises(ValueError, match="twice"):
        Registry([WsOp("echo", EchoFrame, echo), WsOp("echo", EchoFrame, echo)])


def test_spending_reaches_the_games_through_the_hook():
    from app import hooks
    from games.energy.service import energy_for_spending

    assert energy_for_spending in hooks.on_spending_recorded

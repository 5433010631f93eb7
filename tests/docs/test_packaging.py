"""Issue 14 items 19 and 20: bounded dependencies and a lock the dev script installs
from; the Chinese font found at run time with a clear error; the Dockerfile, compose.yaml
(checked with `docker compose config` where a compose tool exists, structurally always),
LICENSE and CHANGELOG."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from app import fonts

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", re.M)


def requirements(*groups: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    for group in groups:
        found += [Requirement(r) for r in project["optional-dependencies"][group]]
    return found


def pins(lock: str) -> dict[str, Version]:
    return {canonicalize_name(n): Version(v) for n, v in PIN.findall((ROOT / lock).read_text())}


def test_every_dependency_has_a_lower_and_an_upper_bound():
    for req in requirements("dev", "local"):
        operators = {spec.operator for spec in req.specifier}
        assert ">=" in operators and "<" in operators, f"{req} needs both bounds"


def test_fakeredis_and_tqdm_are_not_runtime_dependencies():
    runtime = {canonicalize_name(r.name) for r in requirements()}
    assert "fakeredis" not in runtime and "tqdm" not in runtime
    assert "fakeredis" in {canonicalize_name(r.name) for r in requirements("local")}
    assert not any(canonicalize_name(r.name).startswith("pylopdf") for r in requirements("dev"))
    for path in [*ROOT.glob("app/**/*.py"), *ROOT.glob("social/**/*.py"), *ROOT.glob("games/**/*.py")]:
        assert "tqdm" not in path.read_text(), path
    uses = [p for p in ROOT.glob("app/**/*.py") if "import fakeredis" in p.read_text()]
    assert uses == [ROOT / "app" / "redis.py"]  # only behind memory://, with a clear error


@pytest.mark.parametrize(
    ("lock", "groups"), [("requirements.lock", ("dev",)), ("requirements.prod.lock", ())]
)
def test_the_locks_pin_every_dependency_within_its_bounds_with_hashes(lock, groups):
    pinned = pins(lock)
    for req in requirements(*groups):
        name = canonicalize_name(req.name)
        assert name in pinned, f"{name} missing from {lock}: regenerate it (README, Dependencies)"
        assert pinned[name] in req.specifier, f"{lock}: {name}=={pinned[name]} outside {req.specifier}"
    text = (ROOT / lock).read_text()
    blocks = [b for b in re.split(r"\n(?=[A-Za-z0-9])", text) if "==" in b.split("\n", 1)[0]]
    assert blocks and all("--hash=sha256:" in b for b in blocks), "every pin carries its hashes"
    assert "file://" not in text and "--find-links" not in text  # nothing of one machine


def test_the_prod_lock_has_no_dev_tools():
    assert not {"pytest", "fakeredis", "playwright", "mypy"} & set(pins("requirements.prod.lock"))


def test_dev_script_installs_from_the_lock():
    source = (ROOT / "scripts" / "dev.py").read_text()
    assert '"--require-hashes", "-r", LOCK' in source and '"--no-deps", "-e", "."' in source
    assert ".[dev]" not in source


# -- the Chinese font --------------------------------------------------------------------------


def test_the_font_is_debians_noto_cjk_when_installed():
    fonts.cjk_font_file.cache_clear()
    try:
        path, _ = fonts.cjk_font_file()
    except fonts.FontMissing:
        pytest.skip("fonts-noto-cjk is not installed here (.ci/run installs it)")
    assert "NotoSansCJK" in path or "CJK" in path
    drawn = fonts.cjk_font(20)
    assert drawn.getbbox("森林")[2] > 20  # real glyphs, two wide characters


def test_no_font_is_one_clear_error(monkeypatch):
    monkeypatch.delenv("QUANZI_CJK_FONT", raising=False)
    monkeypatch.setattr(fonts, "_fc_match", lambda: None)
    monkeypatch.setattr(fonts, "DEBIAN_NOTO", ())
    fonts.cjk_font_file.cache_clear()
    try:
        with pytest.raises(fonts.FontMissing, match="apt-get install fonts-noto-cjk"):
            fonts.cjk_font_file()
        monkeypatch.setenv("QUANZI_CJK_FONT", "/nonexistent/font.ttf")
        fonts.cjk_font_file.cache_clear()
        with pytest.raises(fonts.FontMissing, match="QUANZI_CJK_FONT"):
            fonts.cjk_font_file()
    finally:
        fonts.cjk_font_file.cache_clear()


# -- Dockerfile, compose.yaml, LICENSE, CHANGELOG ------------------------------------------------


def test_dockerfile_is_multi_stage_and_runs_unprivileged():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)", text, re.M)
    assert len(stages) >= 2
    final = text.rsplit("\nFROM ", 1)[1]
    users = re.findall(r"^USER (\S+)", final, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "--require-hashes -r /tmp/requirements.prod.lock" in text
    assert "fonts-noto-cjk" in final


ENV = {
    "POSTGRES_PASSWORD": "p" * 8,
    "QUANZI_SECRET_KEY": "s" * 40,
    "QUANZI_SERVICE_TOKEN": "t" * 40,
    "QUANZI_PHONE_HMAC_KEY": "h" * 40,
    "QUANZI_CARD_TOKEN_KEY": "c" * 40,
}


def compose_tool() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_file_structure():
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = doc["services"]
    assert {"postgres", "redis", "migrate", "node1", "node2", "nginx"} <= set(services)
    for node in ("node1", "node2"):
        svc = services[node]
        assert svc["build"] == "." and svc["environment"]["QUANZI_ENV"] == "prod"
        assert svc["environment"]["QUANZI_REDIS_URL"].startswith("redis://redis")
        assert svc["environment"]["QUANZI_DATABASE_URL"].startswith("postgresql://")
        assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "media:/srv/quanzi/var/media" in svc["volumes"]
    assert services["migrate"]["command"] == ["quanzi", "migrate"]
    assert any("nginx.conf" in v for v in services["nginx"]["volumes"])
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server node1:8000" in nginx and "server node2:8000" in nginx
    assert "proxy_set_header Upgrade $http_upgrade" in nginx and "$connection_upgrade" in nginx


def test_compose_config_validates_with_the_compose_tool():
    tool = compose_tool()
    if tool is None:
        pytest.skip("no docker compose / docker-compose on this machine (the structure test still runs)")
    done = subprocess.run(
        [*tool, "-f", str(ROOT / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", **ENV},
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    # A missing secret is refused by name, not started with a default.
    refused = subprocess.run(
        [*tool, "-f", str(ROOT / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin:/usr/local/bin",
            **{k: v for k, v in ENV.items() if k != "QUANZI_SECRET_KEY"},
        },
        cwd=ROOT,
        timeout=60,
    )
    assert refused.returncode != 0 and "QUANZI_SECRET_KEY" in refused.stderr


def test_license_and_changelog():
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert changelog.startswith("# Changelog") and "## [Unreleased]" in changelog

"""The embedded server's own settings: sized to the machine, included once, in effect."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import Engine, text

from wiring_pipeline.resources import embedded


def test_buffers_are_a_quarter_of_memory_between_128_mb_and_1_gb():
    gib = 1024**3
    assert embedded.server_settings(2 * gib)["shared_buffers"] == "512MB"
    assert embedded.server_settings(64 * gib)["shared_buffers"] == "1024MB"
    assert embedded.server_settings(gib // 4)["shared_buffers"] == "128MB"


def test_settings_are_written_and_included_once(tmp_path):
    (tmp_path / "postgresql.conf").write_text("# initdb's file\n")
    for _ in range(2):
        embedded.write_server_settings(tmp_path)
    conf = (tmp_path / "postgresql.conf").read_text()
    assert conf.count(f"include_if_exists = '{embedded.SETTINGS_FILE}'") == 1
    written = (tmp_path / embedded.SETTINGS_FILE).read_text()
    for name, value in embedded.server_settings().items():
        assert f"{name} = '{value}'" in written
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_running_server_uses_them(engine: Engine):
    if os.environ.get("WIRING_TEST_DATABASE_URL"):
        pytest.skip("a configured server keeps its own settings")
    wanted = embedded.server_settings()
    with engine.connect() as conn:
        for name in ("shared_buffers", "max_wal_size"):
            assert conn.execute(
                text("SELECT pg_size_bytes(current_setting(:name)) = pg_size_bytes(:wanted)"),
                {"name": name, "wanted": wanted[name]},
            ).scalar_one(), name
        assert conn.execute(text("SHOW checkpoint_timeout")).scalar_one() == "15min"

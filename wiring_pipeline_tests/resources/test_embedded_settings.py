"""The embedded server's own settings: sized to the machine, included once, in effect."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import Engine, text

from wiring_pipeline.resources import embedded


def test_buffers_are_a_quarter_of_memory_between_128_mb_and_4_gb():
    gib = 1024**3
    assert embedded.server_settings(2 * gib)["shared_buffers"] == "512MB"
    assert embedded.server_settings(8 * gib)["shared_buffers"] == "2048MB"
    assert embedded.server_settings(64 * gib)["shared_buffers"] == "4096MB"
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


def test_two_processes_starting_a_new_server_at_once_share_it(tmp_path):
    """The settings are written under the library's start lock: initdb runs once."""
    pgdata = tmp_path / "pgdata"
    start = (
        "import sys; from pathlib import Path; from wiring_pipeline.resources import embedded;"
        "print(embedded.start_embedded_server(Path(sys.argv[1])).socket_dir)"
    )
    try:
        starters = [
            subprocess.Popen(
                [sys.executable, "-c", start, str(pgdata)], stdout=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        sockets = {starter.communicate()[0].strip() for starter in starters}
        assert [starter.returncode for starter in starters] == [0, 0]
        assert len(sockets) == 1
        assert (pgdata / embedded.SETTINGS_FILE).exists()
    finally:
        embedded.stop_embedded_server(pgdata)

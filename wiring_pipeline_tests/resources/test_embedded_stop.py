"""`db stop` on a server that is starting or stopping answers with a line, not a traceback."""

from __future__ import annotations

import os
import time

import pytest
from click.testing import CliRunner

from wiring_pipeline.cli.main import cli
from wiring_pipeline.domain.core.errors import RetryLaterError
from wiring_pipeline.resources.embedded import stop_embedded_server


@pytest.fixture()
def stopping_server(tmp_path, monkeypatch):
    """A data directory whose postmaster.pid names a live process that is shutting down."""
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    lines = [os.getpid(), pgdata, int(time.time()), 5432, tmp_path, "", "0 0", "stopping"]
    (pgdata / "postmaster.pid").write_text("\n".join(map(str, lines)) + "\n")
    monkeypatch.setenv("WIRING_HOME", str(tmp_path))
    return pgdata


def test_stopping_a_server_that_is_not_ready_asks_to_retry(stopping_server):
    with pytest.raises(RetryLaterError, match="'stopping', not ready"):
        stop_embedded_server(stopping_server)


def test_db_stop_exits_1_with_one_line(stopping_server):
    result = CliRunner().invoke(cli, ["db", "stop"])
    assert result.exit_code == 1
    assert "not ready; try again in a moment" in result.output
    assert "Traceback" not in result.output

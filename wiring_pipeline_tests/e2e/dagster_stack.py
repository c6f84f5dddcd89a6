"""The real Dagster webserver and daemon (`dagster dev`) on an embedded PostgreSQL, for e2e tests.

The stack is started the way a user starts it: the project's `workspace.yaml` and
`dagster.yaml`, the `wiring-pipeline` CLI for the application database, `dagster dev` for
the webserver, the daemon and the code server. It lives in its own process group so that
teardown reaches every descendant (webserver, daemon, code servers, run workers) even when a
test fails half way; `stop()` then reports anything that survived, and every port the stack
listened on that is still taken, so a test can assert that nothing leaks.

Every wait is bounded and fails with the reason and the tail of the Dagster log, because a
hung end-to-end test that says nothing is worse than no test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import psutil
import requests
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient
from sqlalchemy import Engine, create_engine

from wiring_pipeline import settings
from wiring_pipeline.resources import embedded

#: The code location and repository names the workspace gives (`Definitions` has no name).
LOCATION_NAME = "wiring_pipeline"
REPOSITORY_NAME = "__repository__"
#: The longest any single wait may take: a location load, a sensor tick, a run.
WAIT_SECONDS = 180.0
#: How long `dagster dev` gets to stop its children before the whole group is killed.
GRACEFUL_STOP_SECONDS = 30.0

TERMINAL_RUN_STATUSES = frozenset(
    {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
)

T = TypeVar("T")


class StackError(AssertionError):
    """The stack did not get where a test needed it to be; the message says where it stopped."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether a server could listen on the port again (TIME_WAIT leftovers do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class WebhookReceiver:
    """A local HTTP server that records every JSON body POSTed to it, as the alert webhook."""

    def __init__(self) -> None:
        received: list[Any] = []
        self.received = received
        self._lock = threading.Lock()
        lock = self._lock

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"unparsed_body": body.decode("utf-8", "replace")}
                with lock:
                    received.append(payload)
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                """Keep pytest's output to the test's own story."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/alerts"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def payloads(self) -> list[Any]:
        with self._lock:
            return list(self.received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@dataclass
class Teardown:
    """What `stop()` stopped and what was left: clean when nothing was left."""

    stopped_processes: list[str] = field(default_factory=list)
    surviving_processes: list[str] = field(default_factory=list)
    ports_still_taken: list[int] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.surviving_processes and not self.ports_still_taken


@dataclass
class DagsterStack:
    """One running `dagster dev` with its own WIRING_HOME, DAGSTER_HOME and embedded PostgreSQL."""

    home: Path
    port: int
    env: dict[str, str]
    server: embedded.EmbeddedServer
    process: subprocess.Popen | None = None
    teardown: Teardown | None = None
    _engine: Engine | None = None

    # -- start and stop -------------------------------------------------------------------

    @classmethod
    def prepare(cls, home: Path, *, webhook_url: str | None = None) -> DagsterStack:
        """Start the embedded server and build the environment every process of the stack gets."""
        home.mkdir(parents=True, exist_ok=True)
        server = embedded.start_embedded_server(home / "pgdata")
        dagster_home = home / "dagster"
        dagster_home.mkdir(exist_ok=True)
        shutil.copyfile(settings.PROJECT_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("WIRING_", "DAGSTER_"))
        }
        env.update(
            WIRING_HOME=str(home),
            WIRING_DATABASE_URL=server.url(embedded.APPLICATION_DATABASE),
            WIRING_DAGSTER_STORAGE_URL=server.url(embedded.DAGSTER_DATABASE, driver="psycopg2"),
            DAGSTER_HOME=str(dagster_home),
            PYTHONUNBUFFERED="1",
        )
        if webhook_url:
            env["WIRING_ALERT_WEBHOOK_URL"] = webhook_url
        return cls(home=home, port=free_port(), env=env, server=server)

    @property
    def log_path(self) -> Path:
        return self.home / "dagster-dev.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Migrate the application database with the CLI, then start `dagster dev` and wait."""
        self.cli("db", "upgrade")
        command = [
            str(Path(sys.executable).with_name("dagster")),
            "dev",
            "-w",
            str(settings.PROJECT_ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
        ]
        self.launch(command, cwd=settings.PROJECT_ROOT)

    def launch(self, command: list[str], cwd: Path) -> None:
        """Start COMMAND (something that execs `dagster dev`) in its own group, and wait."""
        setpriv = shutil.which("setpriv")
        if setpriv:
            # Should the test process die without tearing down (SIGKILL), the kernel sends
            # `dagster dev` SIGTERM, and it stops its webserver, daemon and code servers.
            command = [setpriv, "--pdeathsig", "TERM", "--", *command]
        with self.log_path.open("wb") as log, _interruptible_children():
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_for(self._location_loaded, "the code location to load in the webserver")

    def stop(self) -> Teardown:
        """Stop `dagster dev` (gracefully, then by killing its group) and the embedded server."""
        if self._engine is not None:
            self._engine.dispose()
        tracked: dict[int, psutil.Process] = {}
        described: dict[int, str] = {}

        def track(processes: dict[int, psutil.Process]) -> None:
            for pid, proc in processes.items():
                tracked.setdefault(pid, proc)
                described.setdefault(pid, _describe(proc))

        ports: set[int] = {self.port}
        if self.process is not None:
            track(_process_group(self.process.pid))
            ports |= _listening_ports(tracked.values())
            with suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=GRACEFUL_STOP_SECONDS)
            track(_process_group(self.process.pid))
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=GRACEFUL_STOP_SECONDS)
            psutil.wait_procs(list(tracked.values()), timeout=GRACEFUL_STOP_SECONDS)
        postmaster = _postmaster(self.server.pgdata)
        if postmaster is not None:
            track({postmaster.pid: postmaster})
        embedded.stop_embedded_server(self.server.pgdata)
        if postmaster is not None:
            psutil.wait_procs([postmaster], timeout=GRACEFUL_STOP_SECONDS)
        self.teardown = Teardown(
            stopped_processes=[described[pid] for pid in tracked],
            surviving_processes=[described[pid] for pid, proc in tracked.items() if _alive(proc)],
            ports_still_taken=sorted(port for port in ports if not port_is_free(port)),
        )
        return self.teardown

    # -- waiting --------------------------------------------------------------------------

    def wait_for(
        self, probe: Callable[[], T | None], what: str, timeout: float = WAIT_SECONDS
    ) -> T:
        """Poll `probe` until it returns something truthy; fail clearly if the stack dies."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise StackError(
                    f"`dagster dev` exited with code {self.process.returncode} while waiting "
                    f"for {what}\n{self.log_tail()}"
                )
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise StackError(
                    f"gave up after {timeout:.0f} s waiting for {what}\n{self.log_tail()}"
                )
            time.sleep(1.0)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no dagster dev log)"
        tail = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        return "--- last lines of the dagster dev log ---\n" + "\n".join(tail)

    def _location_loaded(self) -> bool:
        try:
            data = self.graphql(WORKSPACE_QUERY)
        except (requests.ConnectionError, requests.Timeout):
            return False
        entries = data["workspaceOrError"]["locationEntries"]
        entry = next((e for e in entries if e["name"] == LOCATION_NAME), None)
        if entry is None or entry["loadStatus"] != "LOADED":
            return False
        location = entry["locationOrLoadError"]
        if location["__typename"] == "PythonError":
            raise StackError(
                f"code location {LOCATION_NAME!r} failed to load: {location['message']}\n"
                + "".join(location["stack"])
            )
        return True

    # -- talking to the stack -------------------------------------------------------------

    def client(self) -> DagsterGraphQLClient:
        return DagsterGraphQLClient("127.0.0.1", port_number=self.port)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        """A raw GraphQL request, for what `DagsterGraphQLClient` has no call for."""
        response = requests.post(
            f"{self.base_url}/graphql",
            json={"query": query, "variables": variables or {}},
            timeout=60,
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise StackError(f"GraphQL errors: {json.dumps(body['errors'], indent=2)}")
        return body["data"]

    def cli(self, *args: str, expect: int = 0) -> str:
        """Run `wiring-pipeline ARGS` as a user would, in the stack's environment; its stdout.

        Fails unless the command exits with `expect` (0: done and complete).
        """
        command = [str(Path(sys.executable).with_name("wiring-pipeline")), *args]
        done = subprocess.run(
            command,
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=WAIT_SECONDS,
        )
        if done.returncode != expect:
            raise StackError(
                f"`wiring-pipeline {' '.join(args)}` exited {done.returncode}, not {expect}:\n"
                f"{done.stdout}\n{done.stderr}"
            )
        return done.stdout

    def app_engine(self) -> Engine:
        """The application database the stack uses, for setting up and inspecting rows."""
        if self._engine is None:
            self._engine = create_engine(self.env["WIRING_DATABASE_URL"])
        return self._engine

    def repository(self) -> dict:
        """What the webserver shows of the repository: jobs, sensors, asset nodes and checks."""
        data = self.graphql(REPOSITORY_QUERY, {"selector": repository_selector()})
        repository = data["repositoryOrError"]
        if repository["__typename"] != "Repository":
            raise StackError(f"repository not found: {repository}")
        return repository

    def start_sensor(self, name: str) -> None:
        data = self.graphql(
            START_SENSOR_MUTATION, {"selector": {**repository_selector(), "sensorName": name}}
        )
        result = data["startSensor"]
        if result["__typename"] != "Sensor":
            raise StackError(f"could not start sensor {name!r}: {result}")
        if result["sensorState"]["status"] != "RUNNING":
            raise StackError(f"sensor {name!r} is {result['sensorState']['status']}, not RUNNING")

    def partition_keys(self, asset_name: str) -> list[str]:
        data = self.graphql(PARTITION_KEYS_QUERY, {"assetKey": {"path": [asset_name]}})
        node = data["assetNodeOrError"]
        if node["__typename"] != "AssetNode":
            raise StackError(f"no asset {asset_name!r} in the workspace")
        return node["partitionKeys"]

    def runs(self, job_name: str, tags: dict[str, str] | None = None) -> list[dict]:
        """Runs of a job (newest first) carrying all of `tags`."""
        run_filter: dict[str, Any] = {"pipelineName": job_name}
        if tags:
            run_filter["tags"] = [{"key": key, "value": value} for key, value in tags.items()]
        data = self.graphql(RUNS_QUERY, {"filter": run_filter})
        runs = data["runsOrError"]
        if runs["__typename"] != "Runs":
            raise StackError(f"runs query failed: {runs}")
        return runs["results"]

    def newest_run(self, job_name: str, tags: dict[str, str]) -> dict | None:
        return next(iter(self.runs(job_name, tags)), None)

    def launch_asset_run(
        self, asset_names: list[str], partition_key: str, check_names: list[str] | None = None
    ) -> str:
        """Launch a run materialising assets of one partition, as the UI's Materialize does."""
        selector: dict[str, Any] = {
            **repository_selector(),
            "jobName": "__ASSET_JOB",
            "assetSelection": [{"path": [name]} for name in asset_names],
        }
        if check_names is not None:
            selector["assetCheckSelection"] = [
                {"assetKey": {"path": [asset]}, "name": check}
                for asset in asset_names
                for check in check_names
            ]
        data = self.graphql(
            LAUNCH_RUN_MUTATION,
            {
                "params": {
                    "selector": selector,
                    "executionMetadata": {
                        "tags": [{"key": "dagster/partition", "value": partition_key}]
                    },
                }
            },
        )
        result = data["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise StackError(f"launchRun failed: {json.dumps(result, indent=2)}")
        return result["run"]["runId"]

    def wait_for_run(self, run_id: str, timeout: float = WAIT_SECONDS) -> DagsterRunStatus:
        """The run's final status, polled through the client's `get_run_status`."""
        client = self.client()

        def finished() -> DagsterRunStatus | None:
            status = client.get_run_status(run_id)
            return status if status in TERMINAL_RUN_STATUSES else None

        return self.wait_for(finished, f"run {run_id} to finish", timeout)

    def run_failure_summary(self, run_id: str) -> str:
        """The error messages of a run's failed steps, for an assertion message."""
        data = self.graphql(RUN_EVENTS_QUERY, {"runId": run_id})
        logs = data["logsForRun"]
        if logs["__typename"] != "EventConnection":
            return str(logs)
        messages = [
            f"{event.get('stepKey')}: {event['message']} "
            f"{(event.get('error') or {}).get('message', '')}".strip()
            for event in logs["events"]
            if event["__typename"] in {"ExecutionStepFailureEvent", "RunFailureEvent"}
        ]
        return "\n".join(messages) or "(no failure events)"

    def check_executions(
        self, asset_name: str, check_name: str, partition_key: str, limit: int = 10
    ) -> list[dict]:
        """Evaluations of an asset check for one partition, newest first."""
        data = self.graphql(
            CHECK_EXECUTIONS_QUERY,
            {
                "assetKey": {"path": [asset_name]},
                "checkName": check_name,
                "partition": partition_key,
                "limit": limit,
            },
        )
        return data["assetCheckExecutions"]


def repository_selector() -> dict[str, str]:
    return {"repositoryLocationName": LOCATION_NAME, "repositoryName": REPOSITORY_NAME}


@contextmanager
def running_stack(home: Path, *, webhook_url: str | None = None) -> Iterator[DagsterStack]:
    """A started stack that is torn down however the block ends; see `DagsterStack.teardown`."""
    stack = DagsterStack.prepare(home, webhook_url=webhook_url)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@contextmanager
def _interruptible_children() -> Iterator[None]:
    """Let children handle SIGINT/SIGTERM even when this process was started ignoring SIGINT.

    A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored
    across exec; `dagster dev` maps SIGTERM to its SIGINT handling, so it would ignore both
    and could only be killed. A handled signal is reset to the default on exec instead.
    """
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _process_group(pgid: int) -> dict[int, psutil.Process]:
    """Every live process of the group, plus descendants that may have left it."""
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter():
        with suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(proc.pid) == pgid:
                found[proc.pid] = proc
    with suppress(psutil.Error):
        for child in psutil.Process(pgid).children(recursive=True):
            found[child.pid] = child
    return found


def _listening_ports(processes: Any) -> set[int]:
    ports: set[int] = set()
    for proc in processes:
        with suppress(psutil.Error):
            for conn in proc.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    ports.add(conn.laddr.port)
    return ports


def _postmaster(pgdata: Path) -> psutil.Process | None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    try:
        return psutil.Process(int(pid_file.read_text().split()[0]))
    except (psutil.Error, ValueError, IndexError):
        return None


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _describe(proc: psutil.Process) -> str:
    try:
        command = " ".join(proc.cmdline())
    except psutil.Error:
        command = "(exited)"
    return f"pid {proc.pid}: {command[:160]}"


WORKSPACE_QUERY = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message stack }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""

REPOSITORY_QUERY = """
query Repository($selector: RepositorySelector!) {
  repositoryOrError(repositorySelector: $selector) {
    __typename
    ... on Repository {
      jobs { name }
      sensors { name minIntervalSeconds sensorState { status } }
      schedules { name }
      assetNodes {
        assetKey { path }
        isPartitioned
        assetChecksOrError {
          __typename
          ... on AssetChecks { checks { name blocking } }
        }
      }
    }
  }
}
"""

START_SENSOR_MUTATION = """
mutation StartSensor($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) {
    __typename
    ... on Sensor { name sensorState { status } }
    ... on PythonError { message }
    ... on SensorNotFoundError { message }
  }
}
"""

PARTITION_KEYS_QUERY = """
query PartitionKeys($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    __typename
    ... on AssetNode { partitionKeys }
  }
}
"""

RUNS_QUERY = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId status jobName startTime tags { key value } } }
    ... on PythonError { message }
  }
}
"""

LAUNCH_RUN_MUTATION = """
mutation LaunchRun($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PipelineNotFoundError { message }
  }
}
"""

RUN_EVENTS_QUERY = """
query RunEvents($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message stepKey }
        ... on ExecutionStepFailureEvent { error { message } }
        ... on RunFailureEvent { error { message } }
      }
    }
  }
}
"""

CHECK_EXECUTIONS_QUERY = """
query CheckExecutions(
  $assetKey: AssetKeyInput!, $checkName: String!, $partition: String, $limit: Int!
) {
  assetCheckExecutions(
    assetKey: $assetKey, checkName: $checkName, partition: $partition, limit: $limit
  ) {
    runId
    status
    partition
    timestamp
    evaluation {
      success
      severity
      partition
      metadataEntries { label __typename ... on IntMetadataEntry { intValue } }
    }
  }
}
"""

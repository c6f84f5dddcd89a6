"""`wiring-pipeline token`: bearer tokens of the HTTP API."""

from __future__ import annotations

import click

from wiring_pipeline.cli.common import echo_json, engine
from wiring_pipeline.domain.access import tokens as api_tokens


@click.group()
def token() -> None:
    """Bearer tokens for `serve`: one partition, one client account, or admin."""


@token.command("create")
@click.option("--partition", "partition_key", help="Only this <client_slug>.<engagement_slug>.")
@click.option("--client", "client_slug", help="Every engagement of this client account.")
@click.option("--admin", is_flag=True, help="Every partition, and /metrics.")
@click.option("--name", help="What the token is for (shown by `token list`).")
def token_create(
    partition_key: str | None, client_slug: str | None, admin: bool, name: str | None
) -> None:
    """Print {"id", "token", "scope"}: the token is shown this once and never stored."""
    with engine().begin() as conn:
        issued = api_tokens.create_token(
            conn, partition_key=partition_key, client_slug=client_slug, admin=admin, name=name
        )
    echo_json(issued.as_json())


@token.command("list")
def token_list() -> None:
    """Every token: id, name, scope, created, last used (to the minute), revoked."""
    with engine().connect() as conn:
        echo_json(api_tokens.list_tokens(conn))


@token.command("revoke")
@click.argument("token_id")
def token_revoke(token_id: str) -> None:
    """Revoke TOKEN_ID: its next request gets 401."""
    with engine().begin() as conn:
        echo_json(api_tokens.revoke_token(conn, token_id))

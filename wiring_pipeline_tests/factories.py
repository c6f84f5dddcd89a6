"""Small builders of tenants and flows for tests; each writes through the domain API."""

from __future__ import annotations

from sqlalchemy import Engine

from wiring_pipeline.domain.cmdb_generator import CMDB_FIELD_MAPPINGS
from wiring_pipeline.domain.registry import add_flow, add_tenant
from wiring_pipeline.domain.tenancy import TenantScope


def make_tenant(engine: Engine, key: str) -> TenantScope:
    with engine.begin() as conn:
        scope, _ = add_tenant(conn, key)
    return scope


def make_flow(engine: Engine, scope: TenantScope, **kwargs) -> dict:
    with engine.begin() as conn:
        return add_flow(conn, scope, kwargs.pop("mappings", CMDB_FIELD_MAPPINGS), **kwargs)

"""Partition keys: what is valid, and what each kind of bad key is told."""

from __future__ import annotations

import pytest

from wiring_pipeline.domain.core.tenancy import PartitionKeyError, parse_partition_key


@pytest.mark.parametrize(
    "key", ["acme.dc-exit", "a.b", "0.9", "globex.erp-move-2026", f"{'a' * 63}.{'b' * 63}"]
)
def test_valid_keys(key):
    parsed = parse_partition_key(key)
    assert str(parsed) == key


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "partition key is empty"),
        (
            "acme",
            r"'acme' is malformed: expected <client_slug>\.<engagement_slug> "
            r"with exactly one '\.', found 0",
        ),
        ("acme.dc.exit", "found 2"),
        (".dc-exit", "client slug '' must be 1-63"),
        ("acme.", "engagement slug '' must be 1-63"),
        ("Acme.dc-exit", "client slug 'Acme'"),
        ("acme.dc_exit", "engagement slug 'dc_exit'"),
        ("acme.dc exit", "engagement slug 'dc exit'"),
        (f"{'a' * 64}.x", "client slug"),
        ("acme.dc-exit\n", "engagement slug"),
        ("acme;drop.x", "client slug 'acme;drop'"),
    ],
)
def test_bad_keys_name_the_key_and_the_fault(key, message):
    with pytest.raises(PartitionKeyError, match=message):
        parse_partition_key(key)

"""A flow spec is read from the flat or the whole form and written back the same (DESIGN 3d)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from wiring_pipeline.domain.contract.fields import FieldMappingError
from wiring_pipeline.domain.contract.flow_spec import UNITS, FlowSpec, parse_flow_spec

RVTOOLS = {
    "mappings": {
        "VM": "name",
        "Memory": {"field": "memory_gb", "unit": "mib"},
        "Provisioned MiB": {"field": "storage_gb", "unit": "MiB"},
        "Powerstate": "power_state",
    },
    "constants": {"asset_type": "virtual_machine"},
    "key": ["VM UUID"],
    "sheet": "vInfo",
    "profile": "rvtools-vinfo",
}


def test_the_flat_form_is_todays_mappings():
    spec = parse_flow_spec({"Host": "hostname", "Name": "name"})
    assert spec == FlowSpec({"Host": "hostname", "Name": "name"})
    assert spec.missing_critical() == ["asset_type", "environment"]


def test_the_whole_form_round_trips_with_units_normalised():
    spec = parse_flow_spec(RVTOOLS, ["environment=production"])
    assert spec.units == {"Memory": "MiB", "Provisioned MiB": "MiB"}
    assert spec.constants == {"asset_type": "virtual_machine", "environment": "production"}
    assert spec.identity_key == ("VM UUID",)
    assert spec.missing_critical() == []
    assert parse_flow_spec(spec.as_json()) == spec


def test_several_columns_of_one_field_keep_their_order():
    spec = parse_flow_spec({"mappings": {"Tags.Name": "name", "InstanceId": "name"}})
    assert spec.columns_of("name") == ["Tags.Name", "InstanceId"]


def test_units_are_gib_as_the_exports_mean_them():
    assert UNITS["MiB"] * 4096 == 4
    assert UNITS["MB"] == UNITS["MiB"] == Decimal(1) / 1024
    assert UNITS["TB"] == 1024


@pytest.mark.parametrize(
    ("document", "sets", "message"),
    [
        ({"A": "name"}, ["asset_type"], "expected FIELD=VALUE"),
        ({"A": "name"}, ["colour=red"], "unknown field 'colour'"),
        ({"A": "name"}, ["environment= "], "must be 1 to"),
        ({"mappings": {"A": "name"}, "constants": {"owner": ["x"]}}, [], "text or a number"),
        ({"mappings": {"A": "name"}, "key": "A", "records_path": "x[]..y"}, [], "is not a path"),
        ({"mappings": {"A": {"field": "name", "units": "MB"}}}, [], "unknown key"),
        ({"mappings": {}}, [], "maps no source column"),
    ],
)
def test_bad_specs_are_refused_with_the_reason(document, sets, message):
    with pytest.raises(FieldMappingError, match=message):
        parse_flow_spec(document, sets)

"""Each declared export profile is recognised on a file of its shape and resolves to the
spec a consultant would write by hand: the tool's columns, their units, its identity key,
every critical field mapped or set (DESIGN 3d)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wiring_pipeline.domain.contract.flow_spec import parse_flow_spec
from wiring_pipeline.domain.ingest.profiles import (
    CRITICAL_DEFAULTS,
    PROFILES,
    Profile,
    profile_named,
    recognise,
    resolve_profile,
)
from wiring_pipeline.domain.ingest.sources import SourceOptions, open_source
from wiring_pipeline_tests.support.csv_rows import write_csv_rows
from wiring_pipeline_tests.support.export_shapes import real_export


def header_of(path: Path, file_format: str, sheet: str | None = None) -> list[str]:
    """The header as the `import` readers read it."""
    with open_source(path, path.name, SourceOptions(file_format, sheet_name=sheet)) as source:
        return list(source.columns)


def test_sizing_workshop_vinfo_is_rvtools_vinfo_keyed_by_vm_name():
    header = header_of(real_export("SizingWorkshop-RVTools.xlsx"), "xlsx", "vInfo")
    profile = recognise(header, ["vInfo"])
    assert profile.name == "rvtools-vinfo"
    spec = resolve_profile(profile, header, sheet="vInfo")
    assert spec.mappings["VM"] == "name"
    assert spec.units["Memory"] == "MiB"
    assert spec.columns_of("storage_gb") == ["Provisioned MB", "In Use MB"]
    assert spec.units["Provisioned MB"] == "MB"
    assert spec.columns_of("operating_system") == [
        "OS according to the VMware Tools",
        "OS according to the configuration file",
    ]
    assert spec.mappings["Host"] == "hypervisor_host"
    # This file has no VM UUID: the VM name identifies the machine, never DNS Name.
    assert spec.identity_key == ("VM",)
    assert spec.constants == {"asset_type": "virtual_machine", "environment": "unknown"}
    assert spec.sheet == "vInfo" and spec.profile == "rvtools-vinfo"
    assert spec.missing_critical() == []


def test_small_rvtools_vinfo_has_mib_sizes_and_the_primary_ip():
    header = header_of(real_export("rvtools-small-complete.xlsx"), "xlsx", "vInfo")
    spec = resolve_profile(recognise(header, ["vInfo"]), header, sheet="vInfo")
    assert spec.profile == "rvtools-vinfo"
    assert spec.units == {"Memory": "MiB", "Provisioned MiB": "MiB"}
    assert spec.mappings["Primary IP Address"] == "ip_address"
    assert spec.columns_of("operating_system") == ["OS according to the VMware Tools"]
    # Only the columns this file has end in its spec.
    assert "DNS Name" not in spec.mappings and "In Use MiB" not in spec.mappings


def test_sizing_workshop_vhost_is_the_physical_hosts():
    header = header_of(real_export("SizingWorkshop-RVTools.xlsx"), "xlsx", "vHost")
    profile = recognise(header, ["vHost"])
    assert profile.name == "rvtools-vhost"
    spec = resolve_profile(profile, header, sheet="vHost")
    assert spec.mappings["Host"] == "name"
    assert spec.mappings["# Cores"] == "cpu_cores"
    assert spec.units == {"# Memory": "MiB"}
    assert (spec.mappings["Vendor"], spec.mappings["Model"]) == ("manufacturer", "model")
    assert spec.constants["asset_type"] == "physical_server"
    assert spec.identity_key == ("Host",)


def test_azure_migrate_template_has_memory_in_mb():
    header = header_of(real_export("AzureMigrateimporttemplate.csv"), "csv")
    profile = recognise(header)
    assert profile.name == "azure-migrate-csv"
    spec = resolve_profile(profile, header)
    assert spec.mappings["*Server name"] == "name"
    assert spec.units == {"*Memory (In MB)": "MB", "Storage in use (In GB)": "GB"}
    assert spec.mappings["IP addresses"] == "ip_address"
    assert spec.identity_key == ("*Server name",)
    assert spec.sheet is None and spec.records_path is None
    assert spec.missing_critical() == []


def test_rvtools_vinfo_csv_with_vm_uuid_is_keyed_by_it(tmp_path):
    rows = [
        {"VM": "web-01", "Powerstate": "poweredOn", "CPUs": "2", "Memory": "8192",
         "DNS Name": "web-01.corp", "Provisioned MiB": "40960", "VM UUID": "4211-aa"},
    ]  # fmt: skip
    header = header_of(write_csv_rows(tmp_path / "RVTools_tabvInfo.csv", rows), "csv")
    spec = resolve_profile(recognise(header), header)
    assert spec.profile == "rvtools-vinfo"
    assert spec.identity_key == ("VM UUID",)
    assert spec.mappings["DNS Name"] == "fqdn"
    assert spec.mappings["VM UUID"] == "bios_uuid"
    assert spec.sheet is None


def test_rvtools_command_line_csv_names_are_the_same_profile(tmp_path):
    rows = [
        {"vInfoVMName": "db-01", "vInfoPowerstate": "poweredOff", "vInfoCPUs": "4",
         "vInfoMemory": "16384", "vInfoProvisioned": "102400", "vInfoGuestHostName": ""},
    ]  # fmt: skip
    header = header_of(write_csv_rows(tmp_path / "vinfo.csv", rows), "csv")
    spec = resolve_profile(recognise(header), header)
    assert spec.profile == "rvtools-vinfo"
    assert spec.units == {"vInfoMemory": "MiB", "vInfoProvisioned": "MiB"}
    assert spec.identity_key == ("vInfoVMName",)


def test_servicenow_export_takes_environment_and_owner_from_the_cmdb(tmp_path):
    rows = [
        {"sys_id": "6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c", "name": "d-custom-01",
         "fqdn": "d-custom-01.usfq.edu.ec", "ip_address": "10.1.2.3", "os": "Linux Red Hat",
         "os_version": "8.6", "cpu_count": "4", "ram": "16384", "disk_space": "120",
         "serial_number": "VMware-42 1a", "manufacturer": "VMware, Inc.",
         "model_id": "VMware Virtual Platform", "owned_by": "Ana Ruiz", "used_for": "Production",
         "department": "Finance", "location": "Quito DC", "sys_class_name": "cmdb_ci_linux_server"},
    ]  # fmt: skip
    header = header_of(write_csv_rows(tmp_path / "cmdb_ci_server.csv", rows), "csv")
    profile = recognise(header)
    assert profile.name == "servicenow-cmdb-ci-server"
    spec = resolve_profile(profile, header)
    assert spec.units == {"ram": "MB", "disk_space": "GB"}
    assert spec.mappings["used_for"] == "environment"
    assert spec.mappings["owned_by"] == "owner"
    assert spec.mappings["department"] == "business_unit"
    assert spec.identity_key == ("sys_id",)
    assert "environment" not in spec.constants  # the CMDB gives it: no default
    assert profile.field_precedence["owner"] < profile_named("rvtools-vinfo").field_precedence.get(
        "owner", 1
    )
    assert (
        profile.field_precedence["cpu_cores"]
        > profile_named("rvtools-vinfo").field_precedence["cpu_cores"]
    )


def test_servicenow_export_without_sys_id_is_keyed_by_name(tmp_path):
    rows = [{"name": "srv-1", "sys_class_name": "cmdb_ci_win_server", "os": "Windows"}]
    header = header_of(write_csv_rows(tmp_path / "servers.csv", rows), "csv")
    spec = resolve_profile(recognise(header), header)
    assert spec.profile == "servicenow-cmdb-ci-server"
    assert spec.identity_key == ("name",)
    assert spec.constants == {"asset_type": "server", "environment": "unknown"}


def test_aws_migration_hub_template(tmp_path):
    rows = [
        {"ExternalId": "INV-4711", "HostName": "payments-db-01.corp.local",
         "IPAddress": "10.12.31.233", "MACAddress": "00:1B:44:11:3A:B7",
         "VMware.VMName": "VM-PAY-01", "OS.Name": "Linux", "OS.Version": "16.04.3",
         "CPU.NumberOfCores": "8", "RAM.TotalSizeInMB": "64128", "Applications": "Payments"},
    ]  # fmt: skip
    header = header_of(write_csv_rows(tmp_path / "import.csv", rows), "csv")
    profile = recognise(header)
    assert profile.name == "aws-migration-hub-csv"
    spec = resolve_profile(profile, header)
    assert spec.units == {"RAM.TotalSizeInMB": "MB"}
    assert spec.columns_of("name") == ["HostName", "VMware.VMName", "ExternalId"]
    assert spec.mappings["MACAddress"] == "mac_address"
    assert spec.identity_key == ("ExternalId",)


def test_ec2_instances_are_named_by_their_name_tag_else_their_id():
    header = ["InstanceId", "InstanceType", "State.Name", "PrivateIpAddress", "PrivateDnsName",
              "Placement.AvailabilityZone", "CpuOptions.CoreCount", "Tags.Name",
              "Tags.Environment", "PlatformDetails"]  # fmt: skip
    profile = recognise(header)
    assert profile.name == "aws-ec2-describe-instances"
    spec = resolve_profile(profile, header, records_path=profile.records_path)
    assert spec.columns_of("name") == ["Tags.Name", "InstanceId"]
    assert spec.mappings["State.Name"] == "power_state"
    assert spec.mappings["Tags.Environment"] == "environment"
    assert spec.identity_key == ("InstanceId",)
    assert spec.records_path == "Reservations[].Instances[]"
    assert spec.constants == {"asset_type": "cloud_instance"}


def test_columns_match_trimmed_and_in_any_case_and_keep_the_files_spelling():
    header = [" vm ", "POWERSTATE", "cpus", "Memory"]
    spec = resolve_profile(recognise(header), header)
    assert spec.profile == "rvtools-vinfo"
    assert spec.mappings == {" vm ": "name", "POWERSTATE": "power_state", "cpus": "cpu_cores",
                             "Memory": "memory_gb"}  # fmt: skip
    assert spec.identity_key == (" vm ",)


def test_a_header_missing_one_signature_group_is_no_profile():
    assert recognise(["VM", "Powerstate", "Memory"]) is None  # no CPUs column
    assert recognise(["Name", "Environment", "IP Address"]) is None


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_each_profile_covers_every_critical_field_and_round_trips(profile):
    header = [columns[0] for columns in profile.fields.values()]
    header += [group[0] for group in profile.signature if group[0] not in header]
    spec = resolve_profile(profile, header, profile.sheet, profile.records_path)
    assert recognise(header, [profile.sheet] if profile.sheet else []) is profile
    assert spec.missing_critical() == []
    assert set(spec.constants) - set(profile.constants) <= set(CRITICAL_DEFAULTS)
    assert parse_flow_spec(spec.as_json()) == spec


def test_a_size_column_without_a_unit_is_refused_at_declaration():
    with pytest.raises(ValueError, match="Memory has no unit"):
        Profile(
            name="broken",
            title="a size without its unit",
            role="inventory-tool",
            signature=(("Host",),),
            fields={"name": ("Host",), "memory_gb": ("Memory",)},
        )

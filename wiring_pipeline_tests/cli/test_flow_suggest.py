"""`flow suggest FILE`: the suggestion JSON on stdout, exit 0, nothing written; a file that
cannot be read is one line and exit 2 (DESIGN 3c, 3d). No database is involved."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from wiring_pipeline.cli.flow_suggest import suggest
from wiring_pipeline.domain.contract.flow_spec import parse_flow_spec
from wiring_pipeline_tests.support.export_shapes import real_export


def run(*args: str):
    return CliRunner().invoke(suggest, [str(a) for a in args])


def printed(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_an_rvtools_workbook_is_read_from_its_vinfo_sheet():
    document = printed(run(real_export("SizingWorkshop-RVTools.xlsx")))
    assert document["profile"] == "rvtools-vinfo"
    assert document["spec"]["sheet"] == "vInfo"
    assert document["spec"]["mappings"]["Memory"] == {"field": "memory_gb", "unit": "MiB"}
    assert document["spec"]["key"] == ["VM"]
    assert any("environment set to the default 'unknown'" in w for w in document["warnings"])
    parse_flow_spec(document["spec"])


def test_sheet_names_another_worksheet():
    document = printed(run(real_export("SizingWorkshop-RVTools.xlsx"), "--sheet", "vHost"))
    assert document["profile"] == "rvtools-vhost"
    assert document["spec"]["mappings"]["# Memory"] == {"field": "memory_gb", "unit": "MiB"}


def test_the_azure_migrate_template():
    document = printed(run(real_export("AzureMigrateimporttemplate.csv")))
    assert document["profile"] == "azure-migrate-csv"
    assert document["spec"]["key"] == ["*Server name"]
    assert "CPU utilization percentage" in document["unmapped"]


def test_an_ec2_listing_is_read_through_its_records_path():
    document = printed(run(real_export("describe_instances.json")))
    assert document["profile"] == "aws-ec2-describe-instances"
    assert document["spec"]["records_path"] == "Reservations[].Instances[]"
    assert document["spec"]["key"] == ["InstanceId"]
    # These instances carry no tags: their id names them.
    assert document["spec"]["mappings"]["InstanceId"] == "name"
    assert document["spec"]["mappings"]["State.Name"] == "power_state"


def test_a_german_csv_gets_a_suggestion_and_nothing_is_written(tmp_path):
    path = tmp_path / "server.csv"
    path.write_text(
        "Rechnername;Betriebssystem;Arbeitsspeicher (GB);Umgebung;Standort\n"
        "srv01;Windows Server 2019;16;Produktion;München\n",
        encoding="cp1252",
    )
    before = sorted(os.listdir(tmp_path))
    document = printed(run(path))
    assert sorted(os.listdir(tmp_path)) == before
    assert document["profile"] is None
    assert document["spec"]["mappings"]["Arbeitsspeicher (GB)"] == {
        "field": "memory_gb",
        "unit": "GB",
    }
    assert document["spec"]["mappings"]["Umgebung"] == "environment"
    assert document["spec"]["mappings"]["Rechnername"] == "name"


def test_a_workbook_is_read_from_a_profiles_sheet_when_its_first_is_of_no_shape(tmp_path):
    workbook = Workbook()
    workbook.active.title = "Summary"
    workbook.active.append(["Exported by", "RVTools"])
    vinfo = workbook.create_sheet("vInfo")
    vinfo.append(["VM", "Powerstate", "CPUs", "Memory", "VM UUID"])
    vinfo.append(["web-01", "poweredOn", 2, 8192, "4211a1b2-0c3d-4e5f-8a9b-0c1d2e3f4a5b"])
    workbook.save(tmp_path / "export.xlsx")
    document = printed(run(tmp_path / "export.xlsx"))
    assert (document["profile"], document["spec"]["sheet"]) == ("rvtools-vinfo", "vInfo")
    assert document["spec"]["key"] == ["VM UUID"]


def test_a_json_document_of_no_known_shape_is_read_through_the_path_found(tmp_path):
    path = _write(
        tmp_path / "servers.json",
        json.dumps({"count": 2, "items": [{"Hostname": "a", "IP": "10.0.0.1"},
                                          {"Hostname": "b", "IP": "10.0.0.2"}]}),
    )  # fmt: skip
    document = printed(run(path))
    assert document["profile"] is None
    assert document["spec"]["records_path"] == "items[]"
    assert document["spec"]["mappings"] == {"Hostname": "name", "IP": "ip_address"}


@pytest.mark.parametrize(
    "make, args, fragment",
    [
        (lambda d: d / "missing.csv", (), "no such file"),
        (lambda d: _write(d / "notes.md", "# notes"), (), "unsupported file type"),
        (lambda d: _write(d / "broken.xlsx", "not a zip"), (), "not a readable .xlsx"),
        (lambda d: _write(d / "a.csv", "Name\nx\n"), ("--sheet", "vInfo"), ".xlsx workbooks"),
        (lambda d: _write(d / "empty.json", ""), (), "empty"),
    ],
    ids=["missing", "unsupported", "broken-xlsx", "sheet-on-csv", "empty-json"],
)
def test_a_bad_file_is_one_line_and_exit_2(tmp_path, make, args, fragment):
    result = run(make(tmp_path), *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.count("\n") == 1 and fragment in result.output


def test_an_unknown_sheet_is_one_line_and_exit_2():
    result = run(real_export("rvtools-small-complete.xlsx"), "--sheet", "vNope")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "no worksheet 'vNope'" in result.output


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path

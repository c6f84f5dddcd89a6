"""JSON documents read through a records path, AWS tags as columns, and the files that are
one object without a path (DESIGN 3d), at the readers, without a database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wiring_pipeline.domain.ingest.sources import (
    SourceOptions,
    UnreadableFileError,
    WrappedRecordsError,
    json_stream,
    open_source,
    sniff_source,
)
from wiring_pipeline.domain.ingest.sources.json_records import flatten
from wiring_pipeline_tests.support import export_shapes

EC2 = export_shapes.EC2_RECORDS_PATH


def read(path: Path, records_path: str | None = None, fmt: str = "json") -> list:
    with open_source(path, path.name, SourceOptions(fmt, records_path=records_path)) as source:
        return list(source.rows)


def refusal(path: Path, records_path: str | None = None, fmt: str = "json") -> str:
    with pytest.raises(UnreadableFileError) as refused:
        read(path, records_path, fmt)
    message = str(refused.value)
    assert message.startswith(path.name) and "\n" not in message, message
    return message


def test_the_real_describe_instances_output_gives_its_three_instances():
    rows = read(export_shapes.real_export("describe_instances.json"), EC2)
    assert [row.row_number for row in rows] == [1, 2, 3]
    assert [
        (r.cells["InstanceId"], r.cells["State.Name"], r.cells["Placement.AvailabilityZone"])
        for r in rows
    ] == [
        ("i-0dfd3c6910a276fa5", "pending", "us-east-1d"),
        ("i-0e5982fec9cd296a6", "running", "us-east-1d"),
        ("i-0627ad9eb1ddaae69", "pending", "us-east-1d"),
    ]
    # The reservation around the instances is stepped over, not a row or a column.
    assert not any("ReservationId" in row.cells or "OwnerId" in row.cells for row in rows)


def test_the_real_describe_instances_without_a_path_is_refused_with_the_path_to_give():
    path = export_shapes.real_export("describe_instances.json")
    with pytest.raises(WrappedRecordsError) as refused:
        sniff_source(path, path.name, SourceOptions("json", mapped_columns=("InstanceId",)))
    message = str(refused.value)
    assert "\n" not in message and message.startswith("describe_instances.json: ")
    assert "one JSON object" in message and "'Reservations'" in message
    assert "'Reservations[].Instances[]'" in message
    assert refused.value.records_paths == ("Reservations[].Instances[]",)


def test_aws_tags_become_a_column_each_and_other_lists_stay_json_text(tmp_path):
    shape = export_shapes.ec2_instances(tmp_path)
    rows = read(shape.path, shape.records_path)
    assert {r.row_number: r.cells for r in rows if r.cells is not None} == shape.loaded
    assert rows[1].cells["Tags.Name"] == "db-1"
    assert rows[1].cells["Tags.aws:cloudformation:stack-name"] == "app"
    assert "Tags" not in rows[1].cells
    assert {r.row_number: r.rejection for r in rows if r.cells is None} == {
        4: "Reservations[2].Instances[2] is a JSON str, not an object"
    }


@pytest.mark.parametrize(
    ("tags", "cells"),
    [
        ([{"Key": "Name", "Value": "a"}], {"Tags.Name": "a"}),
        ([{"Key": "Owner", "Value": None}], {"Tags.Owner": ""}),
        ([], {"Tags": "[]"}),  # no tags: the empty list, as before
        ([{"Key": "Name", "Value": "a", "Extra": 1}], None),  # not AWS tags
        ([{"Name": "a"}], None),
        (["Name"], None),
    ],
)
def test_only_key_value_pairs_are_tags(tags, cells):
    expected = cells if cells is not None else {"Tags": json.dumps(tags)}
    assert flatten({"Tags": tags}) == expected
    assert flatten({"nested": {"Tags": tags}}) == {
        f"nested.{key}": value for key, value in expected.items()
    }


def test_a_records_path_finds_records_on_every_branch_and_rejects_what_is_not_a_list(tmp_path):
    path = tmp_path / "doc.json"
    document = {
        "meta": {"count": 3, "items": [{"big": "x" * 100}]},  # stepped over, whole
        "groups": [
            {"name": "a", "servers": [{"id": 1}, {"id": 2}]},
            {"name": "empty", "servers": []},
            {"name": "none", "servers": None},
            {"name": "missing"},
            {"name": "wrong", "servers": "srv-9"},
            "not a group",
            {"name": "b", "servers": [{"id": 3}]},
        ],
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    rows = read(path, "groups[].servers[]")
    assert [(r.row_number, r.cells, r.rejection) for r in rows] == [
        (1, {"id": "1"}, None),
        (2, {"id": "2"}, None),
        (3, None, "groups[5].servers is a JSON str, not a list"),
        (4, None, "groups[6] is a JSON str, not an object"),
        (5, {"id": "3"}, None),
    ]
    assert rows[2].raw_text == '"srv-9"'


def test_a_records_path_to_a_list_without_brackets_says_so(tmp_path):
    path = tmp_path / "doc.json"
    path.write_text(json.dumps({"data": {"items": [{"id": 1}]}}), encoding="utf-8")
    [row] = read(path, "data.items")
    assert row.rejection == "data.items is a JSON list: the records path needs [] after it"
    assert [r.cells for r in read(path, "data.items[]")] == [{"id": "1"}]


@pytest.mark.parametrize(
    ("content", "records_path", "fragment"),
    [
        ('{"Other": []}', EC2, "the records path 'Reservations[].Instances[]' finds no records"),
        ('[{"a": 1}]', EC2, "needs one JSON object at the top of the file, and it starts with '['"),
        ('{"Reservations": [{"Instances": [{"a": 1}]}]} {}', EC2, "more follows"),
        ('{"Reservations": [{"Instances": [{"a": 1}, {"a": ]}]}', EC2, "Expecting value"),
        ('{"Reservations": [{"Instances": [{"a": 1}', EC2, "not closed"),
        ('{"a": 1}', "a[].[]", "is not a path such as Reservations[].Instances[]"),
    ],
)
def test_a_document_the_path_cannot_read_is_refused_in_one_line(
    tmp_path, content, records_path, fragment
):
    path = tmp_path / "doc.json"
    path.write_text(content, encoding="utf-8")
    assert fragment in refusal(path, records_path)


def test_a_document_that_breaks_off_after_records_fails_the_whole_file(tmp_path):
    path = tmp_path / "doc.json"
    path.write_text('{"Reservations": [{"Instances": [{"a": 1}, {"a": 2}', encoding="utf-8")
    with open_source(path, path.name, SourceOptions("json", records_path=EC2)) as source:
        assert next(source.rows).cells == {"a": "1"}
        with pytest.raises(UnreadableFileError, match="line 1"):
            list(source.rows)


def test_one_object_holding_no_records_is_one_record_even_over_several_lines(tmp_path):
    path = tmp_path / "one.json"
    path.write_text('\n\n{\n  "Name": "web-1",\n  "os": {"name": "Linux"}\n}\n', encoding="utf-8")
    [row] = read(path)
    assert (row.row_number, row.cells) == (3, {"Name": "web-1", "os.name": "Linux"})


def test_a_wrapper_without_a_path_names_each_list_of_objects_the_longest_first(tmp_path):
    path = tmp_path / "wrapper.json"
    document = {
        "count": 3,
        "errors": [],
        "tags": [{"Key": "a", "Value": "b"}],  # tags are columns, never records
        "links": ["a", "b"],
        "hosts": [{"id": 1}, {"id": 2}, {"id": 3}],
        "sites": [{"id": "s1", "racks": [{"id": "r1", "rack": 1, "row": 2}]}],
    }
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    message = refusal(path)
    assert "key(s) 'hosts', 'sites' hold lists of objects" in message
    assert message.endswith("such as 'hosts[]'")


def test_json_lines_still_reads_as_lines_whatever_its_first_line(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text('{"Name": "a", "ips": [{"ip": "10.0.0.1"}]}\n\n{"Name": "b"}\n')
    assert [(r.row_number, r.cells["Name"]) for r in read(path, fmt="jsonl")] == [
        (1, "a"),
        (3, "b"),
    ]


def test_a_json_array_numbers_its_elements_from_one(tmp_path):
    path = tmp_path / "servers.json"
    path.write_text(json.dumps([{"Name": "a"}, 7, {"Name": "b"}]), encoding="utf-8")
    rows = read(path)
    assert [(r.row_number, r.rejection) for r in rows] == [
        (1, None),
        (2, "is a JSON int, not an object"),
        (3, None),
    ]


def test_a_value_longer_than_the_limit_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(json_stream, "MAX_JSON_VALUE_CHARS", 2_000)
    monkeypatch.setattr(json_stream, "_CHUNK", 512)
    path = tmp_path / "doc.json"
    records = [{"id": n, "notes": "x" * 100} for n in range(50)]
    records.append({"id": "huge", "notes": "y" * 5_000})
    path.write_text(json.dumps({"Items": records}, indent=1), encoding="utf-8")
    for records_path in ("Items[]", None):  # without a path: not taken for JSON Lines
        message = refusal(path, records_path)
        assert "the JSON value at line 203 is longer than 2,000 characters" in message


def test_a_record_nested_past_the_recursion_limit_is_one_line_not_a_crash(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text('{"a": ' * 100_000 + "1" + "}" * 100_000 + '\n{"Name": "ok"}\n')
    rows = read(path, fmt="jsonl")
    assert rows[0].rejection == "is not valid JSON: nested too deeply"
    assert (rows[1].row_number, rows[1].cells) == (2, {"Name": "ok"})

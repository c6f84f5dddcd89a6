"""A file of no known shape gets a spec proposed from its headers (English, German, French,
with units) and its values, and every uncertainty said as a warning (DESIGN 3d)."""

from __future__ import annotations

from wiring_pipeline.domain.contract.flow_spec import parse_flow_spec
from wiring_pipeline.domain.ingest.suggest import match_name, match_values, suggest_flow


def rows_of(header: list[str], *values: list[str]) -> list[dict[str, str]]:
    return [dict(zip(header, row)) for row in values]


def proposal(suggestion, column: str):
    return next(p for p in suggestion.columns if p.column == column)


GERMAN = ["Name", "Rechnername", "Betriebssystem", "Arbeitsspeicher", "Umgebung", "Standort",
          "Verantwortlicher", "Seriennummer", "Hersteller", "Modell", "Kerne", "IP-Adresse",
          "Beschreibung", "Anwendung", "Kritikalität", "Typ"]  # fmt: skip
GERMAN_ROWS = rows_of(
    GERMAN,
    ["SRV01", "srv01", "Windows Server 2019", "16384", "Produktion", "Berlin", "M. Weber",
     "CZ1234", "HPE", "DL380 Gen10", "8", "10.0.0.1", "ERP", "SAP", "hoch", "Server"],
    ["SRV02", "srv02", "Red Hat Enterprise Linux 8", "32768", "Entwicklung", "Köln", "E. Kurz",
     "CZ5678", "Dell", "R740", "16", "10.0.0.2", "CRM", "Salesforce", "niedrig", "Server"],
)  # fmt: skip


def test_german_headers_map_to_the_obvious_fields():
    suggestion = suggest_flow(GERMAN, GERMAN_ROWS)
    assert suggestion.profile is None
    assert suggestion.spec.mappings == {
        "Name": "name", "Typ": "asset_type", "Umgebung": "environment",
        "Rechnername": "hostname", "IP-Adresse": "ip_address",
        "Betriebssystem": "operating_system", "Kerne": "cpu_cores",
        "Arbeitsspeicher": "memory_gb", "Verantwortlicher": "owner", "Standort": "location",
        "Anwendung": "application_name", "Kritikalität": "criticality",
        "Beschreibung": "description", "Seriennummer": "serial_number",
        "Hersteller": "manufacturer", "Modell": "model",
    }  # fmt: skip
    assert suggestion.unmapped == []
    assert proposal(suggestion, "Umgebung").reason.endswith("its values agree")
    # Arbeitsspeicher says no unit: MB, guessed from 16384 and 32768, and said.
    assert suggestion.spec.units == {"Arbeitsspeicher": "MB"}
    assert any("unit of 'Arbeitsspeicher' guessed: MB" in w for w in suggestion.warnings)


def test_french_headers_map_to_the_obvious_fields():
    header = ["Nom d'hôte", "Système d'exploitation", "Mémoire (Go)", "Environnement",
              "Emplacement", "Propriétaire", "Numéro de série", "Fabricant", "Modèle", "Cœurs",
              "Adresse IP", "Description", "Application", "Criticité"]  # fmt: skip
    values = ["web-01", "Ubuntu 22.04", "16", "prod", "Paris", "Luc", "SN1", "Dell", "R640",
              "4", "10.1.1.1", "web", "Shop", "élevée"]  # fmt: skip
    suggestion = suggest_flow(header, rows_of(header, values))
    mappings = suggestion.spec.mappings
    assert mappings["Système d'exploitation"] == "operating_system"
    assert mappings["Mémoire (Go)"] == "memory_gb" and suggestion.spec.units == {
        "Mémoire (Go)": "GB"
    }
    expected = {
        "Environnement": "environment", "Emplacement": "location", "Propriétaire": "owner",
        "Numéro de série": "serial_number", "Fabricant": "manufacturer", "Modèle": "model",
        "Cœurs": "cpu_cores", "Adresse IP": "ip_address", "Criticité": "criticality",
        "Application": "application_name",
    }  # fmt: skip
    assert {column: mappings[column] for column in expected} == expected
    # No name column: the host name names the assets, and the user is told.
    assert mappings["Nom d'hôte"] == "name"
    assert any('no name column: "Nom d\'hôte"' in w for w in suggestion.warnings)


def test_a_unit_in_the_header_sets_the_unit_without_a_warning():
    header = ["Server", "RAM [GiB]", "Speicher MB", "Disk (TB)", "RAM.TotalSizeInMB"]
    suggestion = suggest_flow(header, rows_of(header, ["a", "16", "16384", "2", "16384"]))
    assert suggestion.spec.units == {"RAM [GiB]": "GiB", "Speicher MB": "MB",
                                     "RAM.TotalSizeInMB": "MB", "Disk (TB)": "TB"}  # fmt: skip
    assert not any("guessed" in w for w in suggestion.warnings)
    assert any("compete for memory_gb" in w for w in suggestion.warnings)


def test_an_unnamed_column_of_ip_addresses_is_the_ip_address():
    header = ["Server", "Column 7", "Adr2"]
    suggestion = suggest_flow(
        header,
        rows_of(header, ["a", "10.0.0.1", "fe80::1"], ["b", "10.0.0.2; 10.0.0.3", "2001:db8::2"],
                ["c", "192.168.1.20", "2001:db8::3"]),
    )  # fmt: skip
    assert suggestion.spec.columns_of("ip_address") == ["Column 7", "Adr2"]
    assert "3 of 3 sample values look like IP addresses" in proposal(suggestion, "Column 7").reason


def test_values_tell_macs_uuids_fqdns_environments_and_sized_memory():
    assert match_values(["00:1B:44:11:3A:B7", "00-1b-44-11-3a-b8"])[0] == "mac_address"
    assert match_values(["4211a1b2-0c3d-4e5f-8a9b-0c1d2e3f4a5b"])[0] == "bios_uuid"
    assert match_values(["web-01.corp.example.com", "db.example.org"])[0] == "fqdn"
    assert match_values(["PROD", "Test", "uat", "Entwicklung"])[0] == "environment"
    assert match_values(["Windows Server 2019", "Ubuntu 22.04", "RHEL 8"])[0] == (
        "operating_system"
    )
    memory = match_values(["16 GB", "8 GB", "32 GB"])
    assert (memory[0], memory[3]) == ("memory_gb", "GB")
    storage = match_values(["500 GB", "1000 GB", "2048 GB"])
    assert (storage[0], storage[3]) == ("storage_gb", "GB")
    assert match_values(["alpha", "beta"]) is None
    assert match_values([]) is None


def test_sized_values_in_an_unnamed_column_carry_their_unit_and_a_warning():
    header = ["Server", "X1"]
    suggestion = suggest_flow(header, rows_of(header, ["a", "8192 MB"], ["b", "16384 MB"]))
    assert suggestion.spec.mappings["X1"] == "memory_gb"
    assert suggestion.spec.units == {"X1": "MB"}
    assert any("'X1' holds sizes with units" in w for w in suggestion.warnings)
    mixed = suggest_flow(header, rows_of(header, ["a", "500 GB"], ["b", "1,5 TB"], ["c", "2 TB"]))
    assert (mixed.spec.mappings["X1"], mixed.spec.units["X1"]) == ("storage_gb", "TB")
    assert any("'X1' mixes units: TB" in w for w in mixed.warnings)


def test_measures_of_use_are_never_taken_for_sizes_or_counts():
    for header in ["CPU usage %", "Memory utilization percentage", "Disk read throughput"]:
        assert match_name(header) is None, header


def test_names_close_to_a_synonym_match_with_less_confidence():
    target, confidence, reason = match_name("Betriebsystem")  # one s missing
    assert target == "operating_system" and confidence < 0.95 and "close to" in reason
    assert match_name("Primary Owner")[0] == "owner"
    assert match_name("Server Hostname")[0] == "hostname"
    assert match_name("Firmware") is None


def test_critical_fields_nobody_gives_are_defaulted_and_said():
    header = ["Server name", "OS"]
    suggestion = suggest_flow(header, rows_of(header, ["a", "Linux"]))
    assert suggestion.spec.constants == {"asset_type": "server", "environment": "unknown"}
    assert suggestion.spec.missing_critical() == []
    defaulted = [w for w in suggestion.warnings if w.startswith("critical field")]
    assert len(defaulted) == 2 and all("set to the default" in w for w in defaulted)


def test_a_file_without_any_name_says_so():
    header = ["OS", "RAM (GB)"]
    suggestion = suggest_flow(header, rows_of(header, ["Linux", "8"]))
    assert suggestion.spec.missing_critical() == ["name"]
    assert any(w.startswith("critical field name: no column") for w in suggestion.warnings)


def test_a_recognised_profile_takes_other_fields_from_custom_attribute_columns():
    header = ["VM", "Powerstate", "CPUs", "Memory", "Environment", "Owner", "CPU Usage %"]
    suggestion = suggest_flow(
        header, rows_of(header, ["web-01", "poweredOn", "2", "8192", "prod", "Ana", "12"]),
        sheet="vInfo",
    )  # fmt: skip
    assert suggestion.profile == "rvtools-vinfo"
    assert suggestion.spec.mappings["Environment"] == "environment"
    assert suggestion.spec.mappings["Owner"] == "owner"
    assert "environment" not in suggestion.spec.constants
    assert not any("critical field" in w for w in suggestion.warnings)
    assert proposal(suggestion, "CPU Usage %").field is None
    assert proposal(suggestion, "Memory").confidence == 1.0
    assert suggestion.spec.sheet == "vInfo"
    # The hypervisor wins the sizing and yields the owner to a CMDB (DESIGN 3e), and the
    # flow made from the suggestion keeps that through its JSON.
    precedence = suggestion.spec.field_precedence
    assert precedence["memory_gb"] < precedence["owner"]
    assert parse_flow_spec(suggestion.as_json()["spec"]) == suggestion.spec


def test_the_suggestion_json_round_trips_through_the_spec_parser():
    suggestion = suggest_flow(GERMAN, GERMAN_ROWS, sheet="Server")
    document = suggestion.as_json()
    assert set(document) == {"profile", "spec", "columns", "unmapped", "warnings"}
    assert [c["column"] for c in document["columns"]] == GERMAN
    assert all(0 <= c["confidence"] <= 1 and c["reason"] for c in document["columns"])
    assert parse_flow_spec(document["spec"]) == suggestion.spec
    assert suggestion.spec.sheet == "Server"

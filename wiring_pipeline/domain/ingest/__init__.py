"""Getting a consultant's file into the partition: the first stage.

Owns the registry of tenants, engagements, discovery flows and imports (`registry`), the
readers that turn a CSV, JSON or workbook into rows whatever its encoding (`sources/`), the
load of pending imports into `raw_import_records` with rejected rows kept (`loading`) and
the per-import report of what became of each file's rows (`import_report`). Imports
`contract` and `core`, never another stage.
"""

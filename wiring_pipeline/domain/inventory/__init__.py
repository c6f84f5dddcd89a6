"""The engagement's inventory of assets: built from cleansed records, read back, exported.

Owns the build that creates, updates, retires and links assets in one transaction (`build`,
with its set-based statements in `writes`), each asset's field history (`history`), the paged
listing (`listing`) and the CSV/XLSX export with provenance (`export`). Imports `contract`
and `core`, never another stage.
"""

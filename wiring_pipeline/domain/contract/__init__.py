"""The wiring contract: what every stage of the pipeline agrees on, declared once as data.

Owns the inventory fields and their kinds (`fields`), the states of a record and an asset
(`states`: rejected, open, retired, flow-based), the tables the contract speaks about
(`tables`), the links between them (`links`), the metrics over the links and the source
rows (`metrics`), and the tenant-scoped foreign keys derived from the links
(`constraints`). A new link goes in `links.LINKS`; its orphan metric, foreign key and
repairs follow from it. A new metric goes in `metrics.METRICS`. Imports `core` only.
"""

"""Turning raw records into typed values with their flow's mappings, in SQL: the second stage.

Owns how one cell becomes a value (`values`: trimming, numbers, Excel errors, the identity
key) and the per-flow statement that archives each record's values and judges it cleansed
or rejected (`records`). Imports `contract` and `core`, never another stage.
"""

"""Discovery: a partition's files loaded, cleansed and turned into linked inventory assets."""

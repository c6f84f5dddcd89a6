"""Who may read which partition through the HTTP API: bearer tokens and their scopes.

Owns the tokens (`tokens`: created once, stored as a SHA-256, scoped to a partition, a
client or the fleet) and the check of a token against a partition's tenant. Imports `core`.
"""

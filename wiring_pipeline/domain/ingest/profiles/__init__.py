"""Known export shapes as data (DESIGN 3d): each tool's columns, units, constants,
identity key and precedence role declared once (`declarations`), what a declaration means
for one file (`model.resolve_profile`), and which shape a header has (`recognition`)."""

from wiring_pipeline.domain.ingest.profiles.declarations import PROFILES
from wiring_pipeline.domain.ingest.profiles.model import (
    CRITICAL_DEFAULTS,
    ROLES,
    Profile,
    critical_defaults,
    resolve_profile,
)
from wiring_pipeline.domain.ingest.profiles.recognition import (
    profile_named,
    profile_sheets,
    recognise,
)

__all__ = [
    "CRITICAL_DEFAULTS",
    "PROFILES",
    "ROLES",
    "Profile",
    "critical_defaults",
    "profile_named",
    "profile_sheets",
    "recognise",
    "resolve_profile",
]

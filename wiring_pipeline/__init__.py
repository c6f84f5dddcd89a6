"""wiring_pipeline: a multi-tenant IT asset inventory with proven, enforced wiring."""

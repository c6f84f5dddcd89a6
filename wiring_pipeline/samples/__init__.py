"""Sample data, not domain logic: the CMDB export generator, the demo world, and the builder
of deliberately broken legacy rows that the demo and the tests share."""

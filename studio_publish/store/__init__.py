"""PostgreSQL: connections, named queries, migrations and the engine's store."""

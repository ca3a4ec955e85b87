"""The models and the migrations agree: a database migrated from nothing is the schema the ORM
classes describe (tables, columns, types, nullability, indexes, keys), on each backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, MetaData, String, inspect

from qcpipe.store.models import Base


def test_a_migrated_database_matches_the_models(db) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": False})
        differences = compare_metadata(context, Base.metadata)
        tables = set(inspect(connection).get_table_names())
    assert differences == []
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_the_comparison_would_see_a_column_the_migrations_lack(db) -> None:
    models = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(models)
    models.tables["users"].append_column(Column("nickname", String(32)))
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), models)
    assert [(d[0], d[2], d[3].name) for d in differences] == [("add_column", "users", "nickname")]

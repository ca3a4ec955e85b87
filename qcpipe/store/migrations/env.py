"""Alembic environment: qcpipe passes its own connection; `alembic` on the command line is not needed."""

from alembic import context

from qcpipe.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("qcpipe migrations run through qcpipe.store.open_database(url)")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

"""0005_sources: SQL-defined views, source windows, source databases."""
from fspg.migrations.sqlrun import run_migration

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
sql_file = "0005_sources.sql"


def upgrade() -> None:
    run_migration(sql_file)


def downgrade() -> None:
    raise NotImplementedError("fspg migrations are forward-only")

"""0001_catalog: schemas, group roles and catalog tables."""
from fspg.migrations.sqlrun import run_migration

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
sql_file = "0001_catalog.sql"


def upgrade() -> None:
    run_migration(sql_file)


def downgrade() -> None:
    raise NotImplementedError("fspg migrations are forward-only")

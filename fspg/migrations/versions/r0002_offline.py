"""0002_offline: ingest log, quarantine, history statistics, erasure and maintenance logs."""
from fspg.migrations.sqlrun import run_migration

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
sql_file = "0002_offline.sql"


def upgrade() -> None:
    run_migration(sql_file)


def downgrade() -> None:
    raise NotImplementedError("fspg migrations are forward-only")

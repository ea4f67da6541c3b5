"""0008_rollout: staged versions, promotion log, resumable backfills."""
from fspg.migrations.sqlrun import run_migration

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None
sql_file = "0008_rollout.sql"


def upgrade() -> None:
    run_migration(sql_file)


def downgrade() -> None:
    raise NotImplementedError("fspg migrations are forward-only")

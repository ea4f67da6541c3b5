"""0009_batch_result: one result type for every function that reports a batch."""
from fspg.migrations.sqlrun import run_migration

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None
sql_file = "0009_batch_result.sql"


def upgrade() -> None:
    run_migration(sql_file)


def downgrade() -> None:
    raise NotImplementedError("fspg migrations are forward-only")

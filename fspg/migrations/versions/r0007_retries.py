"""0007_retries: batch keys, so a retried batch lands once."""
from fspg.migrations.sqlrun import run_migration

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None
sql_file = "0007_retries.sql"


def upgrade() -> None:
    run_migration(sql_file)


def downgrade() -> None:
    raise NotImplementedError("fspg migrations are forward-only")

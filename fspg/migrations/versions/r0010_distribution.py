"""0010_distribution: where a store's tables live when it runs on Citus."""
from fspg.migrations.sqlrun import run_migration

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None
sql_file = "0010_distribution.sql"


def upgrade() -> None:
    run_migration(sql_file)


def downgrade() -> None:
    raise NotImplementedError("fspg migrations are forward-only")

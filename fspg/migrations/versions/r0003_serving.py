"""0003_serving: the fs_serving schema and the replica registry."""
from fspg.migrations.sqlrun import run_migration

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
sql_file = "0003_serving.sql"


def upgrade() -> None:
    run_migration(sql_file)


def downgrade() -> None:
    raise NotImplementedError("fspg migrations are forward-only")

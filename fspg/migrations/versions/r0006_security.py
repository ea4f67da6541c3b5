"""0006_security: the owner role, fs_source, bookkeeping written by functions only."""
from fspg.migrations.sqlrun import run_migration

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None
sql_file = "0006_security.sql"


def upgrade() -> None:
    run_migration(sql_file)


def downgrade() -> None:
    raise NotImplementedError("fspg migrations are forward-only")

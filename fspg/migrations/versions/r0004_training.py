"""0004_training: training sets, models, feature statistics."""
from fspg.migrations.sqlrun import run_migration

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None
sql_file = "0004_training.sql"


def upgrade() -> None:
    run_migration(sql_file)


def downgrade() -> None:
    raise NotImplementedError("fspg migrations are forward-only")

"""The typed API: what users import from ``fspg`` is there, the package says it is typed,
and ``mypy --strict`` passes on the public modules."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import fspg
from fspg import errors

REPO = Path(__file__).resolve().parent.parent
PUBLIC = ["fspg/__init__.py", "fspg/client.py", "fspg/api", "fspg/errors.py", "fspg/times.py", "fspg/statements.py",
          "fspg/output.py", "fspg/progress.py", "fspg/results.py", "fspg/aio.py", "fspg/events.py"]


def test_the_store_and_every_error_are_importable_from_fspg():
    assert {"FeatureStore", "FeatureStoreClient"} <= set(dir(fspg))
    assert fspg.FeatureStoreClient is fspg.FeatureStore
    documented = [name for name, value in vars(errors).items()
                  if isinstance(value, type) and issubclass(value, errors.FspgError)]
    assert len(documented) > 10
    assert [name for name in documented if name not in dir(fspg) or getattr(fspg, name) is not getattr(errors, name)] == []
    assert (REPO / "fspg" / "py.typed").exists()
    for name in ("IngestResult", "TrainingSetVersion", "ModelVersion", "WindowResult", "OnlineRebuild",
                 "TrainingSetCheck", "PlanStep", "Switch", "BackfillStep"):
        assert name in dir(fspg) and isinstance(getattr(fspg, name), type), name


def test_public_modules_pass_mypy_strict():
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary", *PUBLIC],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

"""Bearer tokens mapped to PostgreSQL roles.

A token file is YAML: ``tokens: [{name, role, sha256}]``. Only the SHA-256 of each token
is stored: tokens are 32 random bytes, so a plain hash is enough (nothing to guess), and
a stolen file grants nothing. ``fspg token add`` makes a token, prints it once and
appends its hash. Every request of a token runs as its role, so PostgreSQL's grants
decide what it may do (fs_serving looks up, fs_writer also pushes).
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from fspg.errors import InvalidArgument


@dataclass(frozen=True)
class Token:
    """One entry of a token file: who (name), as which role, and the token's hash."""

    name: str
    role: str
    sha256: str


def digest(token: str) -> str:
    """The hex SHA-256 a token file stores for ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


def load(path: str | Path) -> dict[str, Token]:
    """The tokens of a file, by hash; a malformed file is an InvalidArgument naming what is wrong."""
    import yaml

    try:
        doc = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise InvalidArgument(f"cannot read token file {path}: {err}") from err
    entries = doc.get("tokens") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise InvalidArgument(f"token file {path} has no 'tokens:' list", hint="make one with: fspg token add NAME --role ROLE")
    tokens = {}
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("name", "role", "sha256")):
            raise InvalidArgument(f"token {i} of {path} needs name, role and sha256")
        if len(entry["sha256"]) != 64:
            raise InvalidArgument(f"token {entry['name']!r} of {path}: sha256 is not a SHA-256 hex digest")
        _check_role(entry["role"])
        tokens[entry["sha256"].lower()] = Token(entry["name"], entry["role"], entry["sha256"].lower())
    return tokens


def find(tokens: dict[str, Token], presented: str) -> Token | None:
    """The token entry whose hash matches ``presented``. Looked up by the presented
    token's SHA-256: what a lookup's timing could tell is about a hash, not a token."""
    return tokens.get(digest(presented))


def add(path: str | Path, name: str, role: str) -> str:
    """Make a new token for ``name`` acting as ``role``, append its hash to ``path`` (made
    if missing) and return the token (shown once; it cannot be recovered)."""
    import yaml

    _check_role(role)
    file = Path(path)
    doc = (yaml.safe_load(file.read_text()) or {}) if file.exists() else {}
    entries = doc.setdefault("tokens", [])
    if any(e.get("name") == name for e in entries):
        raise InvalidArgument(f"token file {path} already has a token named {name!r}", hint="pick another name")
    token = "fspg_" + secrets.token_urlsafe(32)
    entries.append({"name": name, "role": role, "sha256": digest(token)})
    file.write_text(yaml.safe_dump(doc, sort_keys=False))
    file.chmod(0o600)
    return token


def _check_role(role: str) -> None:
    # A PostgreSQL role name: what the server accepts; whether it exists is the server's word.
    if not role or len(role.encode()) > 63 or "\x00" in role:
        raise InvalidArgument(f"{role!r} is not a PostgreSQL role name (1 to 63 bytes)")

"""The definitions file (``fspg apply``): read YAML, shape it for ``fs.apply``.

Validation lives in SQL (``fs.apply``) so psql users get the same rules; this module
only reads files, reports YAML mistakes with file and line, merges a directory of
files into one document, and turns the ordered YAML mappings that jsonb cannot keep
in order (entity keys) into lists.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from fspg.errors import DefinitionError

SECTIONS = ("entities", "feature_views", "feature_services")
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class PlanStep:
    """One line of an apply: what happened (or would happen) to one object."""

    kind: str
    name: str
    version: int | None
    action: str
    #: the version serving the view or service afterwards (None for entities)
    serving: int | None = None

    @property
    def message(self) -> str:
        """What the step means for serving, in words ("new version 3 staged; serving stays on 2")."""
        if self.kind == "feature_view" and self.action in ("new version", "staged again") and self.serving != self.version:
            what = "new version" if self.action == "new version" else "version"
            again = " again" if self.action == "staged again" else ""
            return f"{what} {self.version} staged{again}; serving stays on {self.serving}"
        if self.kind == "feature_view" and self.serving is not None and self.serving != self.version:
            return f"version {self.version} staged; serving stays on {self.serving}"
        if self.kind == "feature_view" and self.action == "create":
            return f"version {self.version} serving"
        if self.action == "new version":
            return f"new version {self.version} serving"
        return self.action

    def as_dict(self) -> dict[str, Any]:
        """The step as a plain dict (for --json)."""
        return {"kind": self.kind, "name": self.name, "version": self.version, "action": self.action,
                "serving": self.serving, "message": self.message}


def definition_files(path: str | Path) -> list[Path]:
    """The YAML files a path stands for: itself, or every *.yaml/*.yml below a directory, sorted."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.suffix in YAML_SUFFIXES and f.is_file())
        if not files:
            raise DefinitionError(f"{p}: no .yaml or .yml files in this directory")
        return files
    if not p.exists():
        raise DefinitionError(f"{p}: no such file or directory")
    return [p]


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load without aliases: a "billion laughs" file (aliases of aliases) is a few
    lines of YAML that expand to gigabytes once the document is serialised for fs.apply;
    definitions never need them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in definitions; write the value out",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)


def read_file(path: Path) -> dict[str, list]:
    """Parse one definitions file; YAML errors name the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DefinitionError(f"{path}: cannot read: {err}") from err
    try:
        doc = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise DefinitionError(f"{where}: invalid YAML: {err.problem or err.context}") from err
    except yaml.YAMLError as err:
        raise DefinitionError(f"{path}: invalid YAML: {err}") from err
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise DefinitionError(f"{path}: expected a mapping with {', '.join(SECTIONS)}, got {type(doc).__name__}")
    unknown = set(doc) - set(SECTIONS)
    if unknown:
        raise DefinitionError(f"{path}: unknown section(s) {', '.join(sorted(map(str, unknown)))}; sections are {', '.join(SECTIONS)}")
    for section, items in doc.items():
        if items is None:
            doc[section] = []
        elif not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise DefinitionError(f"{path}: {section} must be a list of mappings")
    return doc


def _normalize_entity(entity: dict) -> dict:
    keys = entity.get("keys")
    if isinstance(keys, dict):
        # jsonb objects do not keep key order; the order of a composite key matters.
        entity = {**entity, "keys": [{"name": k, "dtype": v} for k, v in keys.items()]}
    return entity


def _jsonable(value: Any) -> Any:
    # YAML turns `ttl: 7 days` into a string but `partition: 2024-01-01` into a date and
    # `min: 1e3` into a float; jsonb wants plain JSON.
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def load(paths: str | Path | Iterable[str | Path]) -> dict[str, list]:
    """Read one or more files or directories into one definitions document.

    An object defined twice (in one file or across files) is an error naming both places.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    merged: dict[str, list] = {s: [] for s in SECTIONS}
    seen: dict[tuple[str, str], Path] = {}
    for path in paths:
        for file in definition_files(path):
            for section, items in read_file(file).items():
                for item in items:
                    key = (section, str(item.get("name")))
                    if key in seen:
                        raise DefinitionError(
                            f"{file}: {section[:-1].replace('_', ' ')} {key[1]!r} is defined twice "
                            f"(also in {seen[key]})")
                    seen[key] = file
                    if section == "entities":
                        item = _normalize_entity(item)
                    merged[section].append(_jsonable(item))
    return merged


def from_mapping(doc: dict) -> dict[str, list]:
    """Shape an in-memory definitions mapping (as a YAML file would hold) for fs.apply."""
    if not isinstance(doc, dict):
        raise DefinitionError(f"definitions must be a mapping with {', '.join(SECTIONS)}")
    out = {s: list(doc.get(s) or []) for s in SECTIONS}
    unknown = set(doc) - set(SECTIONS)
    if unknown:
        raise DefinitionError(f"unknown section(s) {', '.join(sorted(map(str, unknown)))}; sections are {', '.join(SECTIONS)}")
    out["entities"] = [_normalize_entity(e) if isinstance(e, dict) else e for e in out["entities"]]
    return _jsonable(out)

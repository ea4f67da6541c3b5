"""Human-readable text of ``fspg describe``."""
from __future__ import annotations

from typing import Any

from fspg.output import table


def render(info: dict[str, Any]) -> str:
    """A feature view version as text: header, features with rules, versions, tables, lineage."""
    keys = ", ".join(f"{k['name']} {k['dtype']}" for k in info["keys"]) or "none (global view)"
    current = (" (serving)" if info["version"] == info["current_version"]
               else f" ({info.get('stage', 'not served')}; serving is @{info['current_version']})")
    lines = [
        f"{info['name']}@{info['version']}{current}  [{info['status']}]",
        f"  {info['description'] or 'no description'}",
        f"  entity:    {info['entity'] or '-'} ({keys})",
        f"  owner:     {info['owner'] or '-'}",
        f"  ttl:       {info['ttl'] or 'none'}   partition: {info['partition']}   retention: {info['retention'] or 'forever'}",
        f"  tags:      {', '.join(f'{k}={v}' for k, v in info['tags'].items()) or '-'}",
        f"  tables:    {info['offline_table']} ({info['rows']} rows), {info['online_table']}",
        f"  placement: {info.get('placement', 'this server')}",
        "",
        "features:",
        _indent(table(info["features"], ["name", "dtype", "rules", "description"])),
        "",
        "versions:",
        _indent(table(info["versions"], ["version", "stage", "status", "created_at", "tags"])),
        "",
        "lineage:",
    ]
    lines += [f"  <- {e['kind']} {e['name']}" for e in info["upstream"]]
    lines += [f"  -> {e['kind']} {e['name']}" for e in info["downstream"]]
    if not info["upstream"] and not info["downstream"]:
        lines.append("  (none)")
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())

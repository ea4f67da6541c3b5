"""A text snapshot of everything fspg's migrations create in a database.

Tables, columns, constraints, indexes, views, functions (full definitions), grants and
role memberships of the fs, fs_offline and fs_online schemas, in a stable order, so a
diff against the committed file shows every SQL change.
"""
from __future__ import annotations

import psycopg

SCHEMAS = ("fs", "fs_offline", "fs_online")

QUERIES = {
    "schema": """
        SELECT nspname, coalesce(replace(nspacl::text, current_user, '<owner>'), '-') FROM pg_namespace
         WHERE nspname = ANY (%(schemas)s) ORDER BY 1""",
    "relation": """
        SELECT n.nspname || '.' || c.relname, c.relkind, coalesce(replace(c.relacl::text, current_user, '<owner>'), '-'),
               coalesce(obj_description(c.oid, 'pg_class'), '-')
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY (%(schemas)s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
         ORDER BY 1""",
    "column": """
        SELECT n.nspname || '.' || c.relname || '.' || a.attname, format_type(a.atttypid, a.atttypmod),
               CASE WHEN a.attnotnull THEN 'not null' ELSE 'null' END,
               coalesce(pg_get_expr(d.adbin, d.adrelid), '-'),
               CASE WHEN a.attidentity <> '' THEN 'identity' ELSE '-' END
          FROM pg_attribute a
          JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE n.nspname = ANY (%(schemas)s) AND c.relkind IN ('r', 'p', 'v') AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY n.nspname, c.relname, a.attnum""",
    "constraint": """
        SELECT n.nspname || '.' || c.relname || '.' || con.conname, pg_get_constraintdef(con.oid)
          FROM pg_constraint con
          JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY (%(schemas)s) AND con.contype IN ('p', 'u', 'f', 'c', 'x')
         ORDER BY 1""",
    "index": """
        SELECT schemaname || '.' || indexname, indexdef FROM pg_indexes
         WHERE schemaname = ANY (%(schemas)s) ORDER BY 1""",
    "function": """
        SELECT p.oid::regprocedure::text,
               CASE WHEN p.prosecdef THEN 'security definer' ELSE 'security invoker' END,
               coalesce(array_to_string(p.proconfig, ','), '-'), coalesce(replace(p.proacl::text, current_user, '<owner>'), '-'),
               pg_get_functiondef(p.oid)
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = ANY (%(schemas)s) ORDER BY 1""",
    "role": """
        SELECT r.rolname, coalesce((SELECT string_agg(g.rolname, ',' ORDER BY g.rolname)
                                      FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                                     WHERE m.member = r.oid), '-')
          FROM pg_roles r WHERE r.rolname LIKE 'fs\\_%%' ORDER BY 1""",
}


def catalog_snapshot(conn: psycopg.Connection) -> str:
    """The snapshot text of the database behind ``conn``."""
    lines = []
    for kind, query in QUERIES.items():
        for row in conn.execute(query, {"schemas": list(SCHEMAS)}):
            lines.append(f"{kind} " + " | ".join(str(v) for v in row))
    return "\n".join(lines) + "\n"

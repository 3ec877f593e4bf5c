"""Copy the base schema into a new organisation's schema, in time that does not grow.

django-tenants' clone function reads `information_schema`, whose views scan every
relation of every schema: `bench/provisioning.py` measured it at 0.3 s with a few
organisations and over 12 s with 45. This copy reads only the base schema's own rows
of `pg_catalog` and replays them, in one round trip:

- each table with `CREATE TABLE ... (LIKE base.t ...) WITH (...)`: columns, defaults,
  identity, generated columns, NOT NULL and CHECK constraints, column storage, and the
  table's storage parameters (`LIKE` copies none of those);
- primary keys, unique and exclusion constraints, then the other indexes, under the
  base's own names (later migrations find them by name), foreign keys last;
- the rows migrations write themselves: migration records, content types and
  permissions, with each table's identity moved past the copied ids.

It handles what Django's migrations create. A base holding anything else (views,
triggers, functions, types, sequences of its own) is reported by `unsupported_objects`,
and the caller falls back to django-tenants' clone.
"""

from django.db import connection, transaction

# Tables whose rows come from migrating the base, not from an organisation's use.
MIGRATION_ROWS = ("django_migrations", "django_content_type", "auth_permission")

LIKE_OPTIONS = (
    "INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED "
    "INCLUDING CONSTRAINTS INCLUDING COMMENTS INCLUDING STORAGE"
)

_UNSUPPORTED = """
SELECT 'relation ' || relname FROM pg_class
 WHERE relnamespace = %(base)s::regnamespace AND relkind IN ('v', 'm', 'f', 'c', 'p')
UNION ALL
SELECT 'sequence ' || s.relname FROM pg_class s
 WHERE s.relnamespace = %(base)s::regnamespace AND s.relkind = 'S'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = s.oid AND d.deptype = 'i')
UNION ALL
SELECT 'trigger ' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = %(base)s::regnamespace AND NOT t.tgisinternal
UNION ALL
SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = %(base)s::regnamespace
UNION ALL
SELECT 'type ' || typname FROM pg_type
 WHERE typnamespace = %(base)s::regnamespace AND typtype IN ('e', 'd', 'r', 'm')
UNION ALL
SELECT 'default ' || c.relname || '.' || a.attname
  FROM pg_attrdef ad
  JOIN pg_class c ON c.oid = ad.adrelid
  JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
 WHERE c.relnamespace = %(base)s::regnamespace
   AND pg_get_expr(ad.adbin, ad.adrelid) LIKE '%%nextval(%%'
"""

_TABLES = """
SELECT relname, array_to_string(reloptions, ', ') FROM pg_class
 WHERE relnamespace = %s::regnamespace AND relkind = 'r' ORDER BY relname
"""

# Definitions read while the search path is the base alone: names are unqualified.
_CONSTRAINTS = """
SELECT cl.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
  FROM pg_constraint con JOIN pg_class cl ON cl.oid = con.conrelid
 WHERE cl.relnamespace = %s::regnamespace AND con.contype IN ('p', 'u', 'x', 'f')
 ORDER BY cl.relname, con.conname
"""

# pg_get_indexdef names the table with its schema whatever the search path: drop it.
_INDEXES = """
SELECT replace(pg_get_indexdef(i.indexrelid), ' ON ' || quote_ident(%s) || '.', ' ON ')
  FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
 WHERE ic.relnamespace = %s::regnamespace
   AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid
                     AND con.contype IN ('p', 'u', 'x'))
 ORDER BY ic.relname
"""


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def unsupported_objects(base: str) -> list[str]:
    """What in `base` this copy would miss; empty when it can copy the base exactly."""
    with connection.cursor() as cursor:
        cursor.execute(_UNSUPPORTED, {"base": quote(base)})
        return [row[0] for row in cursor.fetchall()]


def _statements(cursor, base: str) -> list[str]:
    cursor.execute(_TABLES, [quote(base)])
    options = dict(cursor.fetchall())
    tables = list(options)
    cursor.execute(_CONSTRAINTS, [quote(base)])
    constraints = cursor.fetchall()
    cursor.execute(_INDEXES, [base, quote(base)])
    indexes = [row[0] for row in cursor.fetchall()]

    copied = [table for table in MIGRATION_ROWS if table in tables]
    keys = [c for c in constraints if c[2] != "f"]
    foreign_keys = [c for c in constraints if c[2] == "f"]
    return [
        *(
            f"CREATE TABLE {quote(t)} (LIKE {quote(base)}.{quote(t)} {LIKE_OPTIONS})"
            + (f" WITH ({options[t]})" if options[t] else "")
            for t in tables
        ),
        *(
            f"INSERT INTO {quote(t)} OVERRIDING SYSTEM VALUE SELECT * FROM {quote(base)}.{quote(t)}"  # noqa: S608 - quoted catalog names
            for t in copied
        ),
        *(f"ALTER TABLE {quote(t)} ADD CONSTRAINT {quote(n)} {d}" for t, n, _, d in keys),
        *indexes,
        *(f"ALTER TABLE {quote(t)} ADD CONSTRAINT {quote(n)} {d}" for t, n, _, d in foreign_keys),
        *(
            f"SELECT setval(pg_get_serial_sequence('{quote(t)}', 'id'), "  # noqa: S608 - quoted catalog names
            f"COALESCE((SELECT max(id) FROM {quote(t)}), 0) + 1, false)"
            for t in copied
        ),
    ]


def copy_schema(base: str, new: str) -> None:
    """Create schema `new` as a copy of `base`'s structure and migration rows.

    One transaction; the search path is switched for the copy and restored after it.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('search_path')")
        previous = cursor.fetchone()[0]
        cursor.execute("SELECT set_config('search_path', %s, true)", [quote(base)])
        statements = _statements(cursor, base)
        cursor.execute(f"CREATE SCHEMA {quote(new)}")
        cursor.execute("SELECT set_config('search_path', %s, true)", [quote(new)])
        cursor.execute(";\n".join(statements))
        cursor.execute("SELECT set_config('search_path', %s, true)", [previous])

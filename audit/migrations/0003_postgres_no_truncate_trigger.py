"""PostgreSQL only: TRUNCATE of the audit table is refused like DELETE.

Row triggers (0002) do not fire on TRUNCATE; a statement-level BEFORE TRUNCATE trigger does,
whether the table is named alone, with others or reached through CASCADE.
"""

from django.db import migrations

FORWARD = [
    """
    CREATE OR REPLACE FUNCTION audit_event_no_truncate() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'audit events are append-only: TRUNCATE refused';
    END;
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER audit_event_no_truncate
    BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_no_truncate()
    """,
]
BACKWARD = [
    "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent",
    "DROP FUNCTION IF EXISTS audit_event_no_truncate()",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_postgres_append_only_trigger")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]

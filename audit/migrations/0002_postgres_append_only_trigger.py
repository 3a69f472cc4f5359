"""PostgreSQL only: audit rows cannot be deleted, and only unsealed rows can be sealed."""

from django.db import migrations

FORWARD = [
    """
    CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'audit events are append-only: DELETE refused';
        END IF;
        IF OLD.seq IS NOT NULL THEN
            RAISE EXCEPTION 'audit event % is sealed and cannot change', OLD.id;
        END IF;
        IF (NEW.id, NEW.at, NEW.actor_id, NEW.actor_role, NEW.actor_label, NEW.action,
            NEW.target_type, NEW.target_id, NEW.ip, NEW.user_agent, NEW.request_id, NEW.data)
           IS DISTINCT FROM
           (OLD.id, OLD.at, OLD.actor_id, OLD.actor_role, OLD.actor_label, OLD.action,
            OLD.target_type, OLD.target_id, OLD.ip, OLD.user_agent, OLD.request_id, OLD.data)
        THEN
            RAISE EXCEPTION 'audit event %: only seq, prev_hash and hash may be set', OLD.id;
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER audit_event_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()
    """,
]
BACKWARD = [
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent",
    "DROP FUNCTION IF EXISTS audit_event_append_only()",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            # params=None: the PL/pgSQL bodies use RAISE's own `%` placeholders, which
            # must not be read as query parameters.
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]

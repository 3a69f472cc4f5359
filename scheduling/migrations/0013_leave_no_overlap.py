"""PostgreSQL only: no two overlapping active leaves of one doctor, nor two overlapping active
clinic closures (doctor_id NULL counts as 0); a closure may overlap a doctor's leave.

SQLite has no exclusion constraints; there leave_create checks the same rule under the
doctor's row lock (SQLite serializes writers anyway).
"""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    """
    ALTER TABLE scheduling_leave
    ADD CONSTRAINT leave_no_overlap
    EXCLUDE USING gist (
        (COALESCE(doctor_id, 0)) WITH =, tstzrange("start", "end", '[)') WITH &&
    )
    WHERE (cancelled_at IS NULL)
    """,
]
BACKWARD = ["ALTER TABLE scheduling_leave DROP CONSTRAINT IF EXISTS leave_no_overlap"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0012_leave")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]

"""PostgreSQL only: no overlapping blocks per doctor, no overlapping active visits per patient.

SQLite has no exclusion constraints; there the services' checks under the doctor's and
patient's row locks hold the same rules (SQLite serializes writers anyway).
"""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    """
    ALTER TABLE scheduling_timeblock
    ADD CONSTRAINT time_block_no_overlap
    EXCLUDE USING gist (doctor_id WITH =, tstzrange("start", "end", '[)') WITH &&)
    WHERE (withdrawn_at IS NULL)
    """,
    """
    ALTER TABLE scheduling_appointment
    ADD CONSTRAINT appointment_patient_no_overlap
    EXCLUDE USING gist (patient_id WITH =, tstzrange("start", "end", '[)') WITH &&)
    WHERE (status IN ('pending', 'confirmed'))
    """,
]
BACKWARD = [
    "ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS appointment_patient_no_overlap",
    "ALTER TABLE scheduling_timeblock DROP CONSTRAINT IF EXISTS time_block_no_overlap",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]

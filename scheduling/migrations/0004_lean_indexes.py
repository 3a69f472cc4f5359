"""Leaner scheduling indexes, checked with EXPLAIN at scale (bench/explain.py).

- Appointment.patient and .doctor: their single-column indexes duplicate the leading column
  of (patient, start, id) and (doctor, start, id), and every index slows every insert.
- TimeBlock.doctor: with its single-column index the planner counted a doctor's free blocks
  by reading all of the doctor's blocks (years of them) instead of the start range of the
  (doctor, start) unique index; without it, availability costs the same whatever the history.
- The status index gains id, so status lists come in (start, id) order straight from it.

The foreign keys change only in Django's state: in the database their indexes are dropped by
name, which leaves the foreign key constraints alone (AlterField would drop and re-add them,
re-validating every row under a lock).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Django's names for the foreign keys' indexes (the same on PostgreSQL and SQLite).
PATIENT_INDEX = "scheduling_appointment_patient_id_1a2fb708"
DOCTOR_INDEX = "scheduling_appointment_doctor_id_ffd54d9a"
BLOCK_DOCTOR_INDEX = "scheduling_timeblock_doctor_id_38fbd72c"


def _drop(name: str, table: str, column: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        sql=f'DROP INDEX IF EXISTS "{name}"',
        reverse_sql=f'CREATE INDEX "{name}" ON "{table}" ("{column}")',
    )


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0003_reviews"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="appointment",
            name="appointment_status_start_idx",
        ),
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(
                fields=["status", "start", "id"], name="appointment_status_order_idx"
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="timeblock",
                    name="doctor",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="time_blocks",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="appointment",
                    name="doctor",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="doctor_appointments",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="appointment",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="appointments",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                _drop(BLOCK_DOCTOR_INDEX, "scheduling_timeblock", "doctor_id"),
                _drop(DOCTOR_INDEX, "scheduling_appointment", "doctor_id"),
                _drop(PATIENT_INDEX, "scheduling_appointment", "patient_id"),
            ],
        ),
    ]

from django.apps import AppConfig


def _concrete_fields(model, *, exclude: tuple[str, ...] = ()) -> list[str]:
    return [field.name for field in model._meta.concrete_fields if field.name not in exclude]


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from auditlog.registry import auditlog
        from django.apps import apps

        # Field history (DESIGN.md §3) of concrete fields only; clinical free text is masked
        # completely (AUDITLOG_MASK_CALLABLE), secrets are never recorded.
        user = apps.get_model("accounts", "User")
        auditlog.register(
            user, include_fields=_concrete_fields(user, exclude=("password", "last_login"))
        )
        for label in ("accounts.DoctorProfile", "scheduling.TimeBlock"):
            model = apps.get_model(label)
            auditlog.register(model, include_fields=_concrete_fields(model))
        appointment = apps.get_model("scheduling", "Appointment")
        auditlog.register(
            appointment,
            include_fields=_concrete_fields(appointment),
            mask_fields=["reason", "notes", "cancellation_reason"],
        )

from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        from accounts import hooks
        from audit.history import record_field_history
        from core.mail import register_context
        from scheduling import notifications, selectors, services, signals, tasks  # noqa: F401

        signals.connect()  # invalidates the cached public reads (core/response_cache.py)
        # What accounts asks of the appointments a user holds (accounts/hooks.py).
        hooks.register(hooks.on_deactivation, services.appointments_cancel_for_deactivated)
        hooks.register(hooks.future_commitments, selectors.appointment_count_future_active)
        hooks.register(hooks.photo_viewers, selectors.patients_of)
        from scheduling import admin_week

        hooks.register(hooks.doctor_console_links, admin_week.doctor_links)
        for template in notifications.TEMPLATES:  # dates formatted in the mail's language
            register_context(template, notifications.when_context)
        from scheduling.services import waitlist_offers

        # The offer's dates in the mail's language and its link, made at send time.
        register_context(waitlist_offers.OFFER_TEMPLATE, waitlist_offers.offer_mail_context)
        record_field_history(self.get_model("TimeBlock"))
        record_field_history(self.get_model("VisitType"))
        record_field_history(self.get_model("DoctorVisitType"))
        record_field_history(
            self.get_model("Appointment"), mask=("reason", "notes", "cancellation_reason")
        )

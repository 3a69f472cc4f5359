from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # schema registers the JWT scheme; tasks registers the app's Celery tasks.
        from accounts import schema, services, signals, tasks  # noqa: F401
        from accounts.groups import ensure_front_desk_group
        from accounts.mails import reset_link_context
        from audit.history import record_field_history
        from core.mail import register_context

        post_migrate.connect(ensure_front_desk_group, dispatch_uid="accounts.front_desk_group")
        signals.connect()  # invalidates the cached public reads (core/response_cache.py)
        record_field_history(self.get_model("User"), exclude=("password", "last_login"))
        record_field_history(self.get_model("DoctorProfile"))
        # Links with a token are made when the mail is sent, never stored (accounts/mails.py).
        register_context("password_reset", reset_link_context)
        register_context("invite", reset_link_context)
        register_context("password_reset_forced", reset_link_context)
        register_context("email_change_confirm", services.email_change_context)

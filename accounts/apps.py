from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import schema, signals  # noqa: F401 - schema registers the JWT scheme
        from accounts.groups import ensure_front_desk_group
        from audit.history import record_field_history

        post_migrate.connect(ensure_front_desk_group, dispatch_uid="accounts.front_desk_group")
        signals.connect()  # invalidates the cached public reads (core/response_cache.py)
        record_field_history(self.get_model("User"), exclude=("password", "last_login"))
        record_field_history(self.get_model("DoctorProfile"))

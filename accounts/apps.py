from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        import medappt.schema  # noqa: F401 - registers the OpenAPI auth extension
        from accounts import signals
        from accounts.groups import ensure_front_desk_group

        post_migrate.connect(ensure_front_desk_group, dispatch_uid="accounts.front_desk_group")
        signals.connect()  # invalidates the cached public reads (medappt/response_cache.py)

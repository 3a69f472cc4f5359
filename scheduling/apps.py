from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        from scheduling import signals

        signals.connect()  # invalidates the cached public reads (medappt/response_cache.py)

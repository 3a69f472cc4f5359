from django.apps import AppConfig


class FormatsConfig(AppConfig):
    name = "formats"
    verbose_name = "Standard read formats"

    def ready(self) -> None:
        from core.errors import register_error_format
        from core.mail import register_attachment
        from formats import calendar
        from formats.fhir.errors import error_format

        for template in calendar.INVITE_TEMPLATES:  # an iTIP invite in each appointment mail
            register_attachment(template, calendar.invite_attachment)
        register_error_format("/fhir/", error_format)  # every /fhir/ error an OperationOutcome

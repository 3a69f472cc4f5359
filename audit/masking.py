"""django-auditlog masking: clinical free text is masked completely, not half."""


def mask_fully(value: str) -> str:
    return "***" if value else value

from core.throttles import ClientIPRateThrottle


class FHIRFindRateThrottle(ClientIPRateThrottle):
    """Appointment/$find per client address (THROTTLE_FHIR_FIND): public, and each one scans
    up to 62 days of every doctor's slots."""

    scope = "fhir_find"

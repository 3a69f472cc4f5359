"""Log redaction, with no Django import: LOGGING loads it before the apps are ready."""

from __future__ import annotations

import logging
import re

# A calendar feed's path is its secret (GET /calendar/<token>.ics): it never reaches a log.
_CALENDAR_FEED_PATH = re.compile(r"^/calendar/.+$", re.DOTALL)


def logged_path(path: str) -> str:
    """The path as logs may show it: a calendar feed's token redacted."""
    return _CALENDAR_FEED_PATH.sub("/calendar/<redacted>.ics", path)


_CALENDAR_FEED_IN_TEXT = re.compile(r"/calendar/[^\s\"']+")


class RedactCalendarFeedPaths(logging.Filter):
    """A log handler's filter: any other line naming a feed's path (Django's "Internal Server
    Error: /calendar/…", the development server's request line) shows it redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/calendar/" in message:
            record.msg = _CALENDAR_FEED_IN_TEXT.sub("/calendar/<redacted>.ics", message)
            record.args = ()
        return True

from django.urls import re_path

from formats.views import calendar_feed

# Every path under /calendar/ reaches the feed view, so that none is answered (and logged with
# its token) by Django's own 404.
urlpatterns = [
    re_path(r"^(?P<name>.*)$", calendar_feed, name="calendar-feed"),
]

"""Verify the audit seal chain; exits non-zero at the first broken or missing link."""

import re

from django.core.management.base import BaseCommand, CommandError

from audit.sealing import Head
from audit.selectors import audit_verify
from audit.services import audit_seal

HEAD_PATTERN = re.compile(r"^(\d+):([0-9a-f]{64})$")


class Command(BaseCommand):
    help = (
        "Seal pending events, then walk the audit chain by seq, recomputing every HMAC. Exits "
        "non-zero at the first missing or broken link, naming its seq and the event id found "
        "there. --expect-head SEQ:HASH (a head printed earlier by audit_seal) also fails when "
        "the chain ends before SEQ or holds another hash there, which catches truncation."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--expect-head", metavar="SEQ:HASH", help="A head kept off-host.")

    def handle(self, *args, **options) -> None:
        expect = None
        # `is not None`: an empty value (say, `--expect-head "$(cat head)"` of a lost file)
        # is malformed, not a reason to skip the head check.
        if options.get("expect_head") is not None:
            match = HEAD_PATTERN.match(options["expect_head"].strip())
            if not match:
                raise CommandError("--expect-head takes SEQ:HASH (a 64-character lower-case hex).")
            expect = Head(seq=int(match.group(1)), hash=match.group(2))
        audit_seal()
        result = audit_verify(expect_head=expect)
        if not result.ok:
            raise CommandError(f"audit chain verification FAILED: {result.message}")
        self.stdout.write(result.message)

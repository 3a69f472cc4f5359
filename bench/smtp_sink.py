"""A minimal SMTP server that accepts every mail and keeps none: the mail server of
booking_cpu.py --smtp and of soak.py, in its own process so its CPU is not the request's.

    python bench/smtp_sink.py PORT [LOG]

With LOG, one line per mail received (its recipients) is appended to that file, so a
caller can count them (soak.py).
"""

from __future__ import annotations

import socketserver
import sys
import threading

LOG = sys.argv[2] if len(sys.argv) > 2 else None
_log_lock = threading.Lock()


def _received(recipients: list[bytes]) -> None:
    if LOG is None:
        return
    with _log_lock, open(LOG, "a") as log:
        log.write(b" ".join(recipients).decode(errors="replace") + "\n")


class Session(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(b"220 sink ESMTP\r\n")
        in_data = False
        recipients: list[bytes] = []
        for raw in self.rfile:
            line = raw.rstrip(b"\r\n")
            if in_data:
                if line == b".":
                    in_data = False
                    _received(recipients)
                    recipients = []
                    self.wfile.write(b"250 OK\r\n")
                continue
            verb = line[:4].upper()
            if verb == b"DATA":
                in_data = True
                self.wfile.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            elif verb == b"RCPT":
                recipients.append(line[8:].strip())
                self.wfile.write(b"250 OK\r\n")
            elif verb == b"EHLO":
                self.wfile.write(b"250-sink\r\n250 8BITMIME\r\n")
            else:
                self.wfile.write(b"250 OK\r\n")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    with Server(("127.0.0.1", int(sys.argv[1])), Session) as server:
        server.serve_forever()

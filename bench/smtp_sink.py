"""A minimal SMTP server that accepts every mail and keeps none: the mail server of
booking_cpu.py --smtp, in its own process so its CPU is not the request's.

    python bench/smtp_sink.py PORT
"""

from __future__ import annotations

import socketserver
import sys


class Session(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(b"220 sink ESMTP\r\n")
        in_data = False
        for raw in self.rfile:
            line = raw.rstrip(b"\r\n")
            if in_data:
                if line == b".":
                    in_data = False
                    self.wfile.write(b"250 OK\r\n")
                continue
            verb = line[:4].upper()
            if verb == b"DATA":
                in_data = True
                self.wfile.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
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

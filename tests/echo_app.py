#!/usr/bin/python3
"""The application behind a proxy in tests/integration/forward_auth_test.cpp: it shows what reached it.

  echo_app.py PORT LOG

Answers every request on 127.0.0.1:PORT with 200 and a text/plain body of the request's header
lines exactly as they arrived (names as sent, in order, one "Name: value" per line), and appends
"METHOD TARGET" to LOG for each request, so that a test can tell which requests reached it.
Python's own HTTP server (http.server), which keeps names with underscores (Remote_User) as they
came, as CGI, WSGI and PHP stacks do.
"""
import http.server
import sys


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with open(self.server.log_path, "a", encoding="utf-8") as log:
            log.write(f"{self.command} {self.path}\n")
        body = "".join(f"{name}: {value}\n" for name, value in self.headers.items()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass


def main() -> int:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo)
    server.log_path = sys.argv[2]
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

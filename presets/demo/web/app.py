"""The demo's HTTP service: GET / reports the greeting and whether the database answers."""
import json
import os
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def db_reachable() -> bool:
    try:
        with socket.create_connection((os.environ["DB_HOST"], int(os.environ["DB_PORT"])), timeout=2):
            return True
    except OSError:
        return False


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            body = {"ok": True}
        elif self.path == "/":
            body = {"greeting": os.environ.get("GREETING", ""), "db": db_reachable()}
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args: object) -> None:
        print(f"{self.address_string()} {fmt % args}")


ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()

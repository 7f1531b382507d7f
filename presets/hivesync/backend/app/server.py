"""The backend stand-in: health, a version, projects and preview jobs over HTTP on $PORT."""
import json
import os
import signal
import sys
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app.deps import pg, rd

VERSION = os.environ.get("APP_VERSION", "1")


def check():
    out = {}
    try:
        with pg() as conn, conn.cursor() as cur:
            cur.execute("select 1")
            out["postgres"] = "ok"
    except Exception as e:  # noqa: BLE001 - reported, not raised
        out["postgres"] = f"fail: {e}".strip()
    try:
        out["redis"] = "ok" if rd().ping() else "fail"
    except Exception as e:  # noqa: BLE001
        out["redis"] = f"fail: {e}"
    out["status"] = "ok" if out["postgres"] == "ok" and out["redis"] == "ok" else "fail"
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if os.environ.get("LOG_LEVEL") == "debug":
            sys.stderr.write(fmt % args + "\n")

    def send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def do_GET(self):
        if self.path == "/health":
            h = check()
            return self.send(200 if h["status"] == "ok" else 503, {**h, "version": VERSION})
        if self.path == "/":
            return self.send(200, {"app": "hivesync", "version": VERSION, "base_url": os.environ.get("BASE_URL")})
        if self.path == "/api/v1/projects":
            with pg() as conn, conn.cursor() as cur:
                cur.execute("select id, name from projects order by id")
                return self.send(200, [{"id": i, "name": n} for i, n in cur.fetchall()])
        if self.path.startswith("/api/v1/preview/status/"):
            job = self.path.rsplit("/", 1)[1]
            with pg() as conn, conn.cursor() as cur:
                cur.execute("select status from preview_jobs where id = %s", (job,))
                row = cur.fetchone()
            return self.send(200, {"job_id": job, "status": row[0]}) if row else self.send(404, {"error": "no such job"})
        return self.send(404, {"error": "not found"})

    def do_POST(self):
        if self.path == "/api/v1/projects":
            name = self.body().get("name", "")
            with pg() as conn, conn.cursor() as cur:
                cur.execute("insert into projects (name) values (%s) returning id", (name,))
                return self.send(201, {"id": cur.fetchone()[0], "name": name})
        if self.path == "/api/v1/preview/build":
            job = uuid.uuid4().hex
            project = self.body().get("project", "")
            with pg() as conn, conn.cursor() as cur:
                cur.execute("insert into preview_jobs (id, project, status) values (%s, %s, 'queued')", (job, project))
            rd().lpush("preview_build", json.dumps({"job_id": job, "project": project}))
            return self.send(202, {"job_id": job})
        return self.send(404, {"error": "not found"})


def main():
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "4000"))), Handler)
    server.daemon_threads = True
    # SIGTERM (docker stop): exit at once rather than after the stop timeout.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"hivesync backend {VERSION} listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

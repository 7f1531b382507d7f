"""The worker stand-in: takes jobs from Redis lists, writes preview bundles under /data and a
heartbeat (hivesync:heartbeat:<id> = unix seconds) every couple of seconds."""
import argparse
import json
import os
import signal
import socket
import sys
import time

from app.deps import pg, rd

HEARTBEAT_EVERY = 2


def run_job(queue, job):
    if queue == "preview_build":
        out = os.path.join(os.environ.get("DATA_DIR", "/data"), "previews", job["job_id"])
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "bundle.txt"), "w") as f:
            f.write(f"preview of {job.get('project', '')}\n")
        with pg() as conn, conn.cursor() as cur:
            cur.execute("update preview_jobs set status = 'done' where id = %s", (job["job_id"],))
    print(f"done {queue} {job.get('job_id', '')}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--queues", default="preview_build,cleanup")
    queues = parser.parse_args().queues.split(",")
    me = f"hivesync:heartbeat:{socket.gethostname()}"
    r = rd()
    last = 0.0
    print(f"worker {me} on {','.join(queues)}", flush=True)

    def stop(*_):
        # A stopped worker is gone, not stale: its heartbeat goes with it.
        try:
            r.delete(me)
        finally:
            sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    while True:
        try:
            if time.time() - last >= HEARTBEAT_EVERY:
                r.set(me, int(time.time()), ex=30)
                last = time.time()
            got = r.brpop(queues, timeout=1)
            if got:
                queue, raw = got
                try:
                    run_job(queue, json.loads(raw))
                except Exception as e:  # noqa: BLE001 - a bad job must not stop the worker
                    print(f"job failed on {queue}: {e}", flush=True)
        except Exception as e:  # noqa: BLE001 - Redis away: retry
            print(f"worker: {e}", flush=True)
            time.sleep(1)


if __name__ == "__main__":
    main()

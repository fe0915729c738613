#!/usr/bin/env python3
"""Cold start and size of every function binary against the floor (`cold-start-floor`).

Builds the x86_64 release binaries, then runs each one as Lambda would, against a Runtime API
stub on loopback, and times exec to its first `GET .../invocation/next` (median of RUNS runs).
Prints each binary's size and time and their ratios to the floor. Nothing leaves loopback:
AWS_ENDPOINT_URL points at a closed local port and no function calls AWS before its first event.

Usage: python3 dev/cold-start-floor/measure.py [RUNS]   (or `make bench-cold-start`)
"""
import http.server
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

FLOOR = "cold-start-floor"
FUNCTIONS = ["version", "query", "ingest", "delete", "subscriptions", "notifier", "collector", "authorizer",
             "coverage-check", "ecs-events", "api-keys"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def first_poll_seconds(binary, env):
    """Seconds from exec until the binary asks the Runtime API for its first event."""
    polled = threading.Event()

    class RuntimeApi(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            polled.set()
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args):
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    started = time.perf_counter()
    process = subprocess.Popen([binary], env={**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not polled.wait(timeout=10):
            raise RuntimeError(f"{binary} never polled the Runtime API")
        return time.perf_counter() - started
    finally:
        process.kill()
        process.wait()
        server.shutdown()
        server.server_close()


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    binaries = [FLOOR] + FUNCTIONS
    command = ["cargo", "build", "--release", "--quiet"] + [arg for name in binaries for arg in ("--bin", name)]
    subprocess.run(command, cwd=ROOT, check=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "1", "AWS_REGION": "eu-west-2",
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "INVENTORY_TABLE": "bench", "EVENT_BUS_NAME": "bench", "AUTH_USERS_PATH": "/bench/users",
        "AUTH_API_KEYS_PATH": "/bench/api-keys",
    }
    results = {}
    for name in binaries:
        path = os.path.join(ROOT, "target", "release", name)
        times = [first_poll_seconds(path, env) for _ in range(runs)]
        results[name] = (os.path.getsize(path), statistics.median(times))
    floor_size, floor_time = results[FLOOR]
    print(f"{'binary':<18}{'size MB':>9}{'x floor':>9}{'cold ms':>9}{'x floor':>9}   (median of {runs})")
    for name in binaries:
        size, seconds = results[name]
        print(f"{name:<18}{size / 1e6:>9.1f}{size / floor_size:>9.2f}{seconds * 1e3:>9.1f}{seconds / floor_time:>9.2f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Size and cold start of two builds of one function beside the floor, interleaved run by run so
each meets the same machine state (`measure.py`'s timing: exec to the first poll of a Runtime
API stub). Build each binary first (`cargo build --release --bin NAME`, once per commit: a git
worktree sharing the target directory keeps the dependencies built).

Usage: python3 dev/cold-start-floor/compare.py FLOOR BEFORE AFTER [RUNS]
"""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    binaries = [("floor", sys.argv[1]), ("before", sys.argv[2]), ("after", sys.argv[3])]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 41
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "1", "AWS_REGION": "eu-west-2",
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{measure.free_port()}",
        "INVENTORY_TABLE": "bench", "EVENT_BUS_NAME": "bench",
        "AUTH_USERS_PATH": "/bench/users", "AUTH_API_KEYS_PATH": "/bench/api-keys",
    }
    times = {name: [] for name, _ in binaries}
    for _ in range(runs):
        for name, path in binaries:
            times[name].append(measure.first_poll_seconds(path, env))
    floor = statistics.median(times["floor"])
    before = statistics.median(times["before"])
    for name, path in binaries:
        median = statistics.median(times[name])
        print(f"{name:<7} {os.path.getsize(path):>12,} bytes   cold start {median * 1e3:6.2f} ms   "
              f"x floor {median / floor:.2f}   x before {median / before:.2f}   (median of {runs})")


if __name__ == "__main__":
    main()

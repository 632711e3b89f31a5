"""Kernel start-up benchmark (./loupe bench kernel [N]): N cold starts of the "loupe" kernelspec in a row, each
running one small cell. Counts the starts that gave the cell's result and reports the time from launching the
kernel to that result: median, min and max.
"""
import statistics
import sys
import time
from queue import Empty

from jupyter_client.manager import KernelManager

CELL = "1 + 1"
TIMEOUT = 60  # seconds a start may take before it counts as failed


def first_result_time():
    """Seconds from launch to the cell's result; raises if it does not come."""
    km = KernelManager(kernel_name="loupe")
    start = time.monotonic()
    km.start_kernel()
    kc = km.client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=TIMEOUT)
        msg_id = kc.execute(CELL)
        deadline = start + TIMEOUT
        while True:
            msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "execute_result":
                if msg["content"]["data"]["text/plain"] != "2":
                    raise RuntimeError(f"wrong result: {msg['content']}")
                return time.monotonic() - start
            if msg["msg_type"] == "error":
                raise RuntimeError(f"the cell failed: {msg['content']}")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    times, failures = [], []
    for i in range(n):
        try:
            t = first_result_time()
            times.append(t)
            print(f"start {i + 1}/{n}: {t:.2f} s", flush=True)
        except (Empty, RuntimeError) as e:
            failures.append(f"start {i + 1}: {type(e).__name__} {e}")
            print(f"start {i + 1}/{n}: FAILED {type(e).__name__} {e}", flush=True)
    print(f"kernel starts: {len(times)}/{n} succeeded")
    if times:
        print(f"time to first result: median {statistics.median(times):.2f} s, "
              f"min {min(times):.2f} s, max {max(times):.2f} s")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

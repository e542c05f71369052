"""The sampler's truth by construction (any CPython from 2.7 on): the thread "worker" spends 75%
of its wall time in hot() and 25% in cold(), busy loops switched by the clock in cycles of random
length (5 to 35 ms: a sampler's steady rate cannot lock onto them); the
thread "sleeper" and the main thread sleep. Usage: profile_truth.py OUT_DIR [LIFETIME]
Writes OUT_DIR/ready ("idle") once both threads run. Exits after LIFETIME seconds (default 60),
or at once with status 0 when OUT_DIR/stop appears (a target that ends mid-record).
"""
import ctypes
import os
import random
import signal
import sys
import threading
import time

OUT_DIR = sys.argv[1]
LIFETIME = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
HOT_SHARE = 0.75

signal.alarm(int(LIFETIME) + 30)  # nothing outlives a harness that died
try:  # Yama ptrace_scope 1: let any tracer in (the tool is the harness's other child)
    ctypes.CDLL(None).prctl(0x59616D61, ctypes.c_ulong(-1), ctypes.c_ulong(0),
                            ctypes.c_ulong(0), ctypes.c_ulong(0))
except Exception:
    pass


def hot(until):
    while time.time() < until:
        pass


def cold(until):
    while time.time() < until:
        pass


def work(started):
    started.set()
    while True:
        begin = time.time()
        cycle = random.uniform(0.005, 0.035)
        hot(begin + cycle * HOT_SHARE)
        cold(begin + cycle)


def sleep_forever(started):
    started.set()
    while True:
        time.sleep(3600)


def start(name, func):
    started = threading.Event()
    thread = threading.Thread(target=func, name=name, args=(started,))
    thread.daemon = True
    thread.start()
    started.wait(20)


def main():
    start("worker", work)
    start("sleeper", sleep_forever)
    marker = os.path.join(OUT_DIR, "ready")
    with open(marker + ".tmp", "w") as f:
        f.write("idle\n")
    os.rename(marker + ".tmp", marker)
    end = time.time() + LIFETIME
    stop = os.path.join(OUT_DIR, "stop")
    while time.time() < end and not os.path.exists(stop):
        time.sleep(0.05)
    os._exit(0)


main()

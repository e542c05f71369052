# A small program that deadlocks: two workers take two locks in opposite orders.
import threading
import time

first = threading.Lock()
second = threading.Lock()
both_holding = threading.Barrier(2)


def transfer(source, target):
    with source:
        both_holding.wait()
        with target:  # never acquired: the other worker holds it
            pass


def worker_a():
    transfer(first, second)


def worker_b():
    transfer(second, first)


threading.Thread(target=worker_a, name="worker-a", daemon=True).start()
threading.Thread(target=worker_b, name="worker-b", daemon=True).start()
print("ready", flush=True)
time.sleep(600)

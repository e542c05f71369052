# Benchmark target: 10 threads, each 20 Python frames deep, blocked on an Event; the main thread
# waits too. Prints "ready" once every thread is parked. Python 2.7 and 3.6+.
import sys
import threading

DEPTH = 20
release = threading.Event()
parked = threading.Semaphore(0)


def descend(level):
    if level >= DEPTH - 2:  # run() and the thread bootstrap frames are counted below
        parked.release()
        release.wait()
        return
    descend(level + 1)


class Worker(threading.Thread):
    def run(self):
        descend(0)


workers = [Worker() for _ in range(10)]
for worker in workers:
    worker.daemon = True  # (2.7's Thread takes no daemon argument)
    worker.start()
for _ in workers:
    parked.acquire()
sys.stdout.write("ready\n")
sys.stdout.flush()
release.wait(600)

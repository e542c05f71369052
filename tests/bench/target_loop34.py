# Benchmark target of scripts/bench-sampler: one thread, 34 Python frames deep (<module>, main and
# 32 descend frames), whose innermost frame busy-loops about a millisecond, then returns and
# recurses again. Prints "ready", then every half second "CYCLES SECONDS": the cycles (descend,
# spin, return) done so far and the time.monotonic() they were counted at, so the bench can tell
# how fast it runs while sampled. Ends by itself after argv[1] seconds (default 600). Python 3.
import sys
import time

DEPTH = 34  # Python frames, the innermost included
SPIN = 20000


def descend(level):
    if level < DEPTH:
        descend(level + 1)
        return
    total = 0
    for i in range(SPIN):
        total += i


def main():
    limit = float(sys.argv[1]) if len(sys.argv) > 1 else 600.0
    start = time.monotonic()
    cycles = 0
    next_report = start
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        descend(3)  # <module> and main are frames 1 and 2
        cycles += 1
        now = time.monotonic()
        if now >= next_report:
            sys.stdout.write("%d %.6f\n" % (cycles, now))
            sys.stdout.flush()
            next_report = now + 0.5
            if now - start > limit:
                return


main()

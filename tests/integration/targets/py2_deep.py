"""Python 2.7 scenario "deep": stacks around and past the 100-frame limit (the 3.6 format prints
"  ..." after 100 frames). Threads blocked in time.sleep at total depths 98 to 102 and 150; the
main thread parks 120 frames deep.
"""
import sys
import time

import py2_common as common

DEPTHS = (98, 99, 100, 101, 102, 150)


def depth():
    """The number of Python frames of the caller's stack, the caller's frame included."""
    n = 0
    frame = sys._getframe(1)
    while frame is not None:
        n += 1
        frame = frame.f_back
    return n


def dive(started, target):
    if depth() < target:
        dive(started, target)
        return
    started.set()
    time.sleep(common.FOREVER)


def main_dive(target):
    if depth() < target:
        main_dive(target)
        return
    common.finish_with_watchdog()


def main():
    for target in DEPTHS:
        common.start(dive, target)
    main_dive(120)


main()

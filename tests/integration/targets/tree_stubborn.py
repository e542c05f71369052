"""python tree_stubborn.py OUT_DIR: a process that ignores SIGTERM, and a daemon it started.

The daemon is double-forked and in a session of its own (setsid), as daemons are: its parent
exits, so it is reparented (to the nearest child subreaper) and is no longer in the main
process's session. It ignores SIGTERM too. Both record their faulthandler dump once parked
(tree_common.py, roles "stubborn" and "daemon"). OUT_DIR/daemon.pid names the daemon.
"""
import os
import signal
import sys
import time

import tree_common as common

OUT_DIR = sys.argv[1]


def daemon():
    common.guard()
    with open(os.path.join(OUT_DIR, "daemon.pid.tmp"), "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(os.path.join(OUT_DIR, "daemon.pid.tmp"), os.path.join(OUT_DIR, "daemon.pid"))
    common.record_when_parked(OUT_DIR, "daemon")
    time.sleep(common.FOREVER)


def start_daemon():
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() == 0:
            daemon()
        os._exit(0)
    os.waitpid(child, 0)


def main():
    common.guard()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    start_daemon()
    common.record_when_parked(OUT_DIR, "stubborn")
    time.sleep(common.FOREVER)


main()

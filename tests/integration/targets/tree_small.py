"""python tree_small.py OUT_DIR: a small tree for pystack-dump --subprocesses.

The main process forks a Python child and starts a non-Python one (sleep); each Python process
records its faulthandler dump once parked (tree_common.py, roles "main" and "child"). Every
process dies with its parent.
"""
import os
import subprocess
import sys
import time

import tree_common as common

OUT_DIR = sys.argv[1]


def child():
    common.guard()
    common.die_with_parent()
    common.record_when_parked(OUT_DIR, "child")
    time.sleep(common.FOREVER)


def main():
    common.guard()
    common.die_with_parent()
    if os.fork() == 0:
        child()
    sleeper = subprocess.Popen(["sleep", str(common.LIFETIME)], preexec_fn=common.die_with_parent)
    common.record_when_parked(OUT_DIR, "main")
    sleeper.wait()


main()

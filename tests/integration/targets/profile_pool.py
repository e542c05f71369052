"""A parent that starts two children running profile_truth.py (each with its own directory under
OUT_DIR) and waits for them: the processes of `record --subprocesses`. Usage:
profile_pool.py OUT_DIR LIFETIME
"""
import os
import subprocess
import sys
import time

OUT_DIR = sys.argv[1]
LIFETIME = sys.argv[2] if len(sys.argv) > 2 else "3"
truth = os.path.join(os.path.dirname(os.path.abspath(__file__)), "profile_truth.py")
children = []
for n in range(2):
    child_dir = os.path.join(OUT_DIR, "child%d" % n)
    os.mkdir(child_dir)
    children.append(subprocess.Popen([sys.executable, "-B", truth, child_dir, LIFETIME]))
for child in children:
    child.wait()

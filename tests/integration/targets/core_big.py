"""For measuring: allocates and touches ARGS[0] MiB, then crashes like core_segv.py."""
import ctypes

import core_common as common


def crash():
    ctypes.string_at(0)


def main():
    mib = int(common.ARGS[0]) if common.ARGS else 1024
    ballast = bytearray(b"x") * (mib << 20)  # every page written
    common._keep.append(ballast)
    common.park_workers()
    common.wait_parked()
    crash()


main()

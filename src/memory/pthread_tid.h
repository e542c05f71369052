// The OS thread id of a thread from its pthread_t, read from the process's memory: on x86-64
// glibc a pthread_t is the address of the thread's `struct pthread`, whose `tid` field (at 0x2d0
// in every glibc from 2.26 to today) the kernel fills at clone. Before 3.11 CPython keeps only
// the pthread_t; reading the tid pairs a thread state with its OS thread without stopping the
// process (the other way, its fs_base, needs ptrace).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "memory/remote_memory.h"

namespace pystack {

// The tid of the thread whose pthread_t is `pthread`, when the field holds one of `tids` (the
// process's threads now): anything else (another C library, a thread that ended) is nullopt.
std::optional<pid_t> tid_of_pthread(const RemoteMemory& memory, uint64_t pthread,
                                    const std::vector<pid_t>& tids);

}  // namespace pystack

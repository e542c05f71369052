// A thread's general registers, in the order DWARF numbers them, for unwinding its C stack.
#pragma once

#include <array>
#include <cstdint>

#if defined(__x86_64__)
#include <sys/user.h>
#endif

namespace pystack {

// x86-64: rax rdx rcx rbx rsi rdi rbp rsp r8..r15, then the return address column (rip), as the
// System V psABI numbers them (0..16).
using DwarfRegisters = std::array<uint64_t, 17>;

// The system call a stopped thread is in (or was interrupted in), as its registers tell it:
// orig_rax and the first argument (rdi). A thread blocked on a lock sleeps in futex(uaddr, ...).
struct BlockedSyscall {
  int64_t number = -1;  // -1: in none
  uint64_t first_argument = 0;
};

inline constexpr int64_t kSyscallFutex = 202;  // x86-64

#if defined(__x86_64__)
inline DwarfRegisters dwarf_registers(const user_regs_struct& r) {
  return {r.rax, r.rdx, r.rcx, r.rbx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8,
          r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip};
}

inline BlockedSyscall blocked_syscall(const user_regs_struct& r) {
  return {static_cast<int64_t>(r.orig_rax), r.rdi};
}
#endif

}  // namespace pystack

#include "memory/stopped_process.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "common/errors.h"
#include "gtest/gtest.h"
#include "memory/process_memory.h"
#include "memory/procfs.h"
#include "target_test_child.h"

namespace pystack {
namespace {

using testing::Child;
using testing::all_in_state;
using testing::eventually;
using testing::none_in_state;

constexpr absl::Duration kTimeout = absl::Seconds(5);

// At the same address in every forked child; each child stores its own value.
uint64_t g_marker = 0;

Child fork_threads(int spinning, int sleeping) {
  return Child::fork([=](const std::function<void()>& ready) {
    g_marker = 0xDEADBEEF00000000 | static_cast<uint64_t>(::getpid());
    testing::run_threads(spinning, sleeping, ready);
  });
}

// A block of memory shared with forked children, for counters they update.
template <typename T>
T* shared_object() {
  void* block = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                       -1, 0);
  return new (block) T();
}

bool untraced(pid_t pid) { return procfs::tracer_pid(pid) == 0; }

// Every thread has left the tracing stop and no thread is traced.
bool runs_free(pid_t pid) {
  if (!none_in_state(pid, 't')) return false;
  for (pid_t tid : procfs::list_threads(pid).value_or(std::vector<pid_t>{})) {
    std::string text;
    procfs::read_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/status",
                      text);
    if (text.find("TracerPid:\t0\n") == std::string::npos) return false;
  }
  return true;
}

TEST(StoppedProcess, StopsEveryThreadAndResumes) {
  Child child = fork_threads(/*spinning=*/2, /*sleeping=*/3);
  absl::StatusOr<std::unique_ptr<StoppedProcess>> stopped = StoppedProcess::stop(child.pid(), kTimeout);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  StoppedProcess& process = **stopped;
  EXPECT_EQ(process.pid(), child.pid());
  EXPECT_EQ(process.threads().size(), 6u);
  EXPECT_EQ(process.threads(), procfs::list_threads(child.pid()).value());
  EXPECT_TRUE(all_in_state(child.pid(), 't'));
  EXPECT_EQ(procfs::tracer_pid(child.pid()), ::getpid());

  // The spinning threads really are held: their counter does not move.
  absl::StatusOr<ProcessMemory> memory = ProcessMemory::open(child.pid());
  ASSERT_TRUE(memory.ok()) << memory.status();
  absl::StatusOr<uint64_t> marker = read_value<uint64_t>(*memory, reinterpret_cast<uint64_t>(&g_marker));
  ASSERT_TRUE(marker.ok()) << marker.status();
  EXPECT_EQ(*marker, 0xDEADBEEF00000000 | static_cast<uint64_t>(child.pid()));

  process.resume();
  EXPECT_TRUE(process.threads().empty());
  EXPECT_TRUE(eventually([&] { return runs_free(child.pid()); }));
  EXPECT_TRUE(untraced(child.pid()));
  process.resume();  // a second resume does nothing
}

TEST(StoppedProcess, HeldThreadsDoNotRun) {
  auto* spins = shared_object<std::atomic<uint64_t>>();
  Child child = Child::fork([spins](const std::function<void()>& ready) {
    std::thread([spins] {
      for (;;) spins->fetch_add(1, std::memory_order_relaxed);
    }).detach();
    ready();
    for (;;) ::pause();
  });
  {
    auto stopped = StoppedProcess::stop(child.pid(), kTimeout);
    ASSERT_TRUE(stopped.ok()) << stopped.status();
    uint64_t before = spins->load();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(spins->load(), before);
  }  // the destructor detaches
  uint64_t after = spins->load();
  EXPECT_TRUE(eventually([&] { return spins->load() > after; }));
  EXPECT_TRUE(eventually([&] { return runs_free(child.pid()); }));
  ::munmap(spins, sizeof *spins);
}

TEST(StoppedProcess, SingleThreadedSleepingProcess) {
  Child child = fork_threads(0, 0);
  auto stopped = StoppedProcess::stop(child.pid(), kTimeout);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ((*stopped)->threads(), std::vector<pid_t>{child.pid()});
  EXPECT_TRUE(all_in_state(child.pid(), 't'));
  stopped->reset();
  EXPECT_TRUE(eventually([&] { return runs_free(child.pid()); }));
}

TEST(StoppedProcess, GroupStoppedProcessStaysStopped) {
  Child child = fork_threads(1, 1);
  ASSERT_EQ(::kill(child.pid(), SIGSTOP), 0);
  ASSERT_TRUE(eventually([&] { return all_in_state(child.pid(), 'T'); }));
  {
    auto stopped = StoppedProcess::stop(child.pid(), kTimeout);
    ASSERT_TRUE(stopped.ok()) << stopped.status();
    EXPECT_TRUE(all_in_state(child.pid(), 't'));
  }
  // Detaching must not resume a process that a user stopped (e.g. with ^Z).
  EXPECT_TRUE(eventually([&] { return all_in_state(child.pid(), 'T'); }));
  ASSERT_EQ(::kill(child.pid(), SIGCONT), 0);
  EXPECT_TRUE(eventually([&] { return runs_free(child.pid()); }));
}

TEST(StoppedProcess, ThreadsCreatedAndExitingDuringAttach) {
  // One thread keeps starting short-lived threads; each stop must still hold every thread.
  Child child = Child::fork([](const std::function<void()>& ready) {
    for (int i = 0; i < 2; ++i) {
      std::thread([] {
        for (;;) {
          std::thread([] { std::this_thread::sleep_for(std::chrono::microseconds(200)); }).join();
        }
      }).detach();
    }
    testing::run_threads(1, 2, ready);
  });
  for (int round = 0; round < 50; ++round) {
    auto stopped = StoppedProcess::stop(child.pid(), kTimeout);
    ASSERT_TRUE(stopped.ok()) << stopped.status();
    std::vector<pid_t> listed = procfs::list_threads(child.pid()).value();
    EXPECT_EQ((*stopped)->threads(), listed) << "round " << round;
    EXPECT_TRUE(all_in_state(child.pid(), 't')) << "round " << round;
  }
  EXPECT_TRUE(eventually([&] { return untraced(child.pid()); }));
  EXPECT_TRUE(eventually([&] { return none_in_state(child.pid(), 't'); }));
}

TEST(StoppedProcess, ZombieMainThreadWithLiveThreads) {
  Child child = Child::fork([](const std::function<void()>& ready) {
    std::thread([] { for (;;) ::pause(); }).detach();
    std::thread([ready] {
      // Wait for the main thread to become a zombie before saying ready.
      while (procfs::thread_state(::getpid(), ::getpid()) != 'Z') ::usleep(1000);
      ready();
      for (;;) ::pause();
    }).detach();
    ::syscall(SYS_exit, 0);  // ends the main thread only
  });
  auto stopped = StoppedProcess::stop(child.pid(), kTimeout);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ((*stopped)->threads().size(), 2u);
  for (pid_t tid : (*stopped)->threads()) {
    EXPECT_NE(tid, child.pid());
    EXPECT_EQ(procfs::thread_state(child.pid(), tid), 't');
  }
}

TEST(StoppedProcess, SignalsArrivingDuringTheStopAreNotLost) {
  // A signal the target dequeues while we attach is held in a signal-delivery-stop and must be
  // delivered at detach. Real-time signals queue, so every one sent must be handled once; a
  // sender thread races them against many stop/resume cycles to hit that path often.
  auto* handled = shared_object<std::atomic<int>>();
  Child child = Child::fork([handled](const std::function<void()>& ready) {
    static std::atomic<int>* counter = handled;
    ::signal(SIGRTMIN, [](int) { counter->fetch_add(1); });
    testing::run_threads(2, 1, ready);
  });
  std::atomic<bool> sending{true};
  std::atomic<int> sent{0};
  std::thread sender([&] {
    while (sending) {
      if (::kill(child.pid(), SIGRTMIN) == 0) sent.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  });
  for (int cycle = 0; cycle < 500; ++cycle) {
    auto stopped = StoppedProcess::stop(child.pid(), kTimeout);
    if (!stopped.ok()) {
      ADD_FAILURE() << stopped.status();
      break;
    }
  }
  sending = false;
  sender.join();
  EXPECT_TRUE(eventually([&] { return handled->load() == sent.load(); }))
      << "sent " << sent.load() << ", handled " << handled->load();
  ::munmap(handled, sizeof *handled);
}

TEST(StoppedProcess, NonexistentPid) {
  pid_t gone;
  {
    Child child = fork_threads(0, 0);
    gone = child.pid();
  }
  auto stopped = StoppedProcess::stop(gone, kTimeout);
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(error_kind(stopped.status()), ErrorKind::kNoSuchProcess) << stopped.status();
  EXPECT_EQ(error_kind(StoppedProcess::stop(0, kTimeout).status()), ErrorKind::kNoSuchProcess);
}

TEST(StoppedProcess, ZombieProcessHasExited) {
  Child child = Child::fork([](const std::function<void()>& ready) { ready(); });
  ASSERT_TRUE(eventually([&] { return procfs::process_gone(child.pid()); }));
  auto stopped = StoppedProcess::stop(child.pid(), kTimeout);
  ASSERT_FALSE(stopped.ok());
  ErrorKind kind = error_kind(stopped.status());
  EXPECT_TRUE(kind == ErrorKind::kNoSuchProcess || kind == ErrorKind::kProcessExited)
      << stopped.status();
}

TEST(StoppedProcess, OwnPidIsAUsageError) {
  auto stopped = StoppedProcess::stop(::getpid(), kTimeout);
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(error_kind(stopped.status()), ErrorKind::kInvalidArgument);
}

TEST(StoppedProcess, AlreadyTracedByAnotherProcess) {
  Child target = fork_threads(1, 1);
  pid_t target_pid = target.pid();
  Child tracer = Child::fork([target_pid](const std::function<void()>& ready) {
    if (::ptrace(PTRACE_SEIZE, target_pid, nullptr, nullptr) != 0) ::_exit(1);
    ready();
    for (;;) ::pause();
  });
  ASSERT_EQ(procfs::tracer_pid(target_pid), tracer.pid());
  auto stopped = StoppedProcess::stop(target_pid, kTimeout);
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(error_kind(stopped.status()), ErrorKind::kAlreadyTraced) << stopped.status();
  // Named from /proc/PID/comm and /proc/PID/status: this test binary, forked.
  EXPECT_NE(stopped.status().message().find(
                "already traced by unit-tests (PID " + std::to_string(tracer.pid()) + ")"),
            std::string::npos)
      << stopped.status();
  EXPECT_NE(error_hint(stopped.status()).find("detach that debugger"), std::string::npos)
      << stopped.status();
  // Still traced by the other process only: nothing of ours was left attached.
  EXPECT_EQ(procfs::tracer_pid(target_pid), tracer.pid());
}

TEST(StoppedProcess, FailingLaterInTheProcessDetachesEarlierThreads) {
  // The second thread is seized by another tracer: the main thread, seized first, must be
  // released when stop() fails.
  auto* second_tid = shared_object<std::atomic<pid_t>>();
  Child target = Child::fork([second_tid](const std::function<void()>& ready) {
    std::thread([second_tid, ready] {
      second_tid->store(static_cast<pid_t>(::syscall(SYS_gettid)));
      ready();
      for (;;) ::pause();
    }).detach();
    for (;;) ::pause();
  });
  pid_t tid = second_tid->load();
  ASSERT_GT(tid, target.pid());
  Child tracer = Child::fork([tid](const std::function<void()>& ready) {
    if (::ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) != 0) ::_exit(1);
    ready();
    for (;;) ::pause();
  });
  auto stopped = StoppedProcess::stop(target.pid(), kTimeout);
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(error_kind(stopped.status()), ErrorKind::kAlreadyTraced) << stopped.status();
  EXPECT_NE(stopped.status().message().find("thread " + std::to_string(tid)), std::string::npos)
      << stopped.status();
  EXPECT_EQ(procfs::tracer_pid(target.pid()), 0);
  EXPECT_EQ(procfs::tracer_pid(tid), tracer.pid());
  EXPECT_NE(procfs::thread_state(target.pid(), target.pid()), 't');
  ::munmap(second_tid, sizeof *second_tid);
}

TEST(StoppedProcess, PermissionDeniedNamesTheWaysOut) {
  // An unprivileged process (uid nobody, no capabilities) may not trace our root-owned child.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop to another uid";
  struct Result {
    std::atomic<int> kind{0};
    char hint[1024] = {};
  };
  auto* result = shared_object<Result>();
  Child target = fork_threads(0, 1);
  pid_t target_pid = target.pid();
  Child prober = Child::fork([target_pid, result](const std::function<void()>& ready) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(1);
    auto stopped = StoppedProcess::stop(target_pid, kTimeout);
    std::string hint = stopped.ok() ? "" : error_hint(stopped.status());
    hint.copy(result->hint, sizeof result->hint - 1);
    result->kind.store(stopped.ok() ? -1 : static_cast<int>(error_kind(stopped.status())));
    ready();
  });
  ASSERT_EQ(result->kind.load(), static_cast<int>(ErrorKind::kPermissionDenied));
  std::string hint = result->hint;
  EXPECT_NE(hint.find("same user"), std::string::npos) << hint;
  EXPECT_NE(hint.find("CAP_SYS_PTRACE"), std::string::npos) << hint;
  EXPECT_NE(hint.find("/proc/sys/kernel/yama/ptrace_scope"), std::string::npos) << hint;
  EXPECT_TRUE(untraced(target_pid));
  result->~Result();
  ::munmap(result, sizeof *result);
}

TEST(StoppedProcess, ThreadThatCannotStopTimesOut) {
  // A vfork parent waits killably for its child's exec or exit; PTRACE_INTERRUPT cannot stop
  // it, so stop() must give up at the deadline.
  Child target = Child::fork([](const std::function<void()>& ready) {
    std::thread([ready] {
      ready();
      if (::vfork() == 0) {
        // Only raw syscalls here: the child borrows the parent's memory.
        static const timespec kTwoSeconds{2, 0};
        ::syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        ::syscall(SYS_nanosleep, &kTwoSeconds, nullptr);
        ::syscall(SYS_exit, 0);
      }
      for (;;) ::pause();
    }).detach();
    for (;;) ::pause();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the vfork happen
  auto start = std::chrono::steady_clock::now();
  auto stopped = StoppedProcess::stop(target.pid(), absl::Milliseconds(200));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(error_kind(stopped.status()), ErrorKind::kStopTimedOut);
  EXPECT_NE(stopped.status().message().find("timed out"), std::string::npos) << stopped.status();
  EXPECT_LT(elapsed, std::chrono::seconds(1));
  // The main thread was released; the vfork parent cannot be until it stops (or we exit).
  EXPECT_NE(procfs::thread_state(target.pid(), target.pid()), 't');
}

TEST(StoppedProcess, SigkilledTracerLetsTheTargetRunOn) {
  Child target = fork_threads(2, 2);
  pid_t target_pid = target.pid();
  Child holder = Child::fork([target_pid](const std::function<void()>& ready) {
    auto stopped = StoppedProcess::stop(target_pid, kTimeout);
    if (!stopped.ok()) ::_exit(1);
    ready();
    for (;;) ::pause();
  });
  ASSERT_EQ(procfs::tracer_pid(target_pid), holder.pid());
  ASSERT_TRUE(all_in_state(target_pid, 't'));
  holder.kill_and_reap();
  EXPECT_TRUE(eventually([&] { return runs_free(target_pid); }, std::chrono::seconds(2)));
}

TEST(StoppedProcess, SigkilledTracerLosesNoSignal) {
  // If the holder dies while a thread sits in a signal-delivery-stop, the kernel's detach must
  // still deliver that signal: stop() peeks at stops (WNOWAIT) instead of consuming them.
  auto* handled = shared_object<std::atomic<int>>();
  Child target = Child::fork([handled](const std::function<void()>& ready) {
    static std::atomic<int>* counter = handled;
    ::signal(SIGRTMIN, [](int) { counter->fetch_add(1); });
    testing::run_threads(3, 3, ready);
  });
  pid_t target_pid = target.pid();
  std::vector<pid_t> tids = procfs::list_threads(target_pid).value();
  std::atomic<bool> sending{true};
  std::atomic<int> sent{0};
  std::thread sender([&] {
    // Thread-directed, round-robin: every thread, asleep or running, gets signals to dequeue.
    for (size_t i = 0; sending; ++i) {
      if (::syscall(SYS_tgkill, target_pid, tids[i % tids.size()], SIGRTMIN) == 0) {
        sent.fetch_add(1);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(10));
    }
  });
  for (int cycle = 0; cycle < 300; ++cycle) {
    Child holder = Child::fork([target_pid](const std::function<void()>& ready) {
      auto stopped = StoppedProcess::stop(target_pid, kTimeout);
      if (!stopped.ok()) ::_exit(1);
      ready();
      for (;;) ::pause();
    });
    EXPECT_EQ(procfs::tracer_pid(target_pid), holder.pid());
  }  // each holder is SIGKILLed while it holds the target
  sending = false;
  sender.join();
  EXPECT_TRUE(eventually([&] { return handled->load() == sent.load(); }))
      << "sent " << sent.load() << ", handled " << handled->load();
  EXPECT_TRUE(eventually([&] { return runs_free(target_pid); }));
  ::munmap(handled, sizeof *handled);
}

TEST(StoppedProcess, DetachOnSignalReleasesTheTargetAndDies) {
  for (int signo : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    Child target = fork_threads(1, 2);
    pid_t target_pid = target.pid();
    Child holder = Child::fork([target_pid](const std::function<void()>& ready) {
      // As a tool started from a terminal has them: a shell's background job (make test under
      // nohup, a CI step) starts with SIGINT and SIGQUIT ignored, which the tool keeps ignored.
      for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(s, SIG_DFL);
      struct rlimit no_core {0, 0};
      ::setrlimit(RLIMIT_CORE, &no_core);
      install_detach_on_signal();
      auto stopped = StoppedProcess::stop(target_pid, kTimeout);
      if (!stopped.ok()) ::_exit(1);
      ready();
      for (;;) ::pause();
    });
    ASSERT_TRUE(all_in_state(target_pid, 't')) << strsignal(signo);
    ASSERT_EQ(::kill(holder.pid(), signo), 0);
    std::optional<int> status = holder.wait_exit(std::chrono::seconds(2));
    ASSERT_TRUE(status.has_value()) << strsignal(signo);
    EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == signo) << strsignal(signo);
    EXPECT_TRUE(eventually([&] { return runs_free(target_pid); })) << strsignal(signo);
  }
}

}  // namespace
}  // namespace pystack

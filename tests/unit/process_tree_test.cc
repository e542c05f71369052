#include "memory/process_tree.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "target_test_child.h"

namespace pystack {
namespace {

// A /proc/PID/stat line as the kernel writes it (fields past start time trimmed to a few).
std::string stat_line(const std::string& pid_and_comm, const std::string& rest) {
  return pid_and_comm + " " + rest + "\n";
}

constexpr char kRest[] =
    "S 100 200 300 34816 200 4194560 1000 0 0 0 5 3 0 0 20 0 1 0 123456 10000000 500";

TEST(ParseProcessStat, ReadsTheFieldsOfATree) {
  std::optional<ProcessStat> stat = parse_process_stat(stat_line("4242 (python3)", kRest));
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->pid, 4242);
  EXPECT_EQ(stat->comm, "python3");
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->ppid, 100);
  EXPECT_EQ(stat->pgid, 200);
  EXPECT_EQ(stat->session, 300);
  EXPECT_EQ(stat->start_time, 123456u);
}

TEST(ParseProcessStat, NameMayHoldSpacesAndParentheses) {
  std::optional<ProcessStat> stat = parse_process_stat(stat_line("7 (a) b (c) )", kRest));
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->comm, "a) b (c) ");
  EXPECT_EQ(stat->ppid, 100);
  EXPECT_EQ(stat->start_time, 123456u);
}

TEST(ParseProcessStat, RejectsMalformedText) {
  for (const std::string& text : {
           std::string(""),
           std::string("garbage"),
           std::string("12 (x"),                           // no ')'
           stat_line("x (y)", kRest),                      // pid not a number
           stat_line("-5 (y)", kRest),                     // negative pid
           stat_line("5 (y)", "S 1 2 3"),                  // cut before the start time
           stat_line("5 (y)", "S one 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"),
           stat_line("5 (y)", "SS 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"),
       }) {
    EXPECT_FALSE(parse_process_stat(text).has_value()) << text;
  }
}

TEST(PrintableCommandLine, JoinsArgumentsAndEscapes) {
  EXPECT_EQ(printable_command_line(std::string("python3\0-c\0print(1)\0", 20), "x", 100),
            "python3 -c print(1)");
  EXPECT_EQ(printable_command_line(std::string("a\nb\0\xff\\", 6), "x", 100), "a\\x0ab \\xff\\x5c");
  EXPECT_EQ(printable_command_line("", "kworker/0:1", 100), "[kworker/0:1]");
  EXPECT_EQ(printable_command_line(std::string("\0\0", 2), "zombie", 100), "[zombie]");
  EXPECT_EQ(printable_command_line("abcdefghij", "x", 4), "abcd...");
}

ProcessStat proc(pid_t pid, pid_t ppid, pid_t session = 1) {
  ProcessStat stat;
  stat.pid = pid;
  stat.ppid = ppid;
  stat.pgid = session;
  stat.session = session;
  return stat;
}

std::vector<pid_t> pids(const std::vector<ProcessStat>& tree) {
  std::vector<pid_t> out;
  for (const ProcessStat& p : tree) out.push_back(p.pid);
  return out;
}

TEST(SelectTree, DepthFirstWithChildrenByPid) {
  // 10 -> {30, 20}; 20 -> {25}; 30 -> {31}; 99 unrelated
  const std::vector<ProcessStat> all = {proc(1, 0),  proc(10, 1), proc(20, 10), proc(25, 20),
                                        proc(30, 10), proc(31, 30), proc(99, 1)};
  TreeQuery query;
  query.roots = {10};
  EXPECT_EQ(pids(select_tree(all, query)), (std::vector<pid_t>{10, 20, 25, 30, 31}));
  query.include_roots = false;
  EXPECT_EQ(pids(select_tree(all, query)), (std::vector<pid_t>{20, 25, 30, 31}));
}

TEST(SelectTree, MissingRootGivesNothing) {
  const std::vector<ProcessStat> all = {proc(1, 0), proc(10, 1)};
  TreeQuery query;
  query.roots = {55};
  EXPECT_TRUE(select_tree(all, query).empty());
}

TEST(SelectTree, SessionMembersOutsideTheDescentComeAfterFromTheirTop) {
  // The wrapper 5 (session 5) runs the command 10 (session 10). 40 and its child 41 were
  // reparented to init but stayed in session 10; 60 (session 60, a setsid daemon) was
  // reparented to the wrapper; 70 is in another session altogether.
  const std::vector<ProcessStat> all = {proc(1, 0, 1),    proc(5, 1, 5),    proc(10, 5, 10),
                                        proc(11, 10, 10), proc(40, 1, 10),  proc(41, 40, 10),
                                        proc(60, 5, 60),  proc(70, 1, 70)};
  TreeQuery query;
  query.roots = {5};
  query.include_roots = false;
  query.session = 10;
  EXPECT_EQ(pids(select_tree(all, query)), (std::vector<pid_t>{10, 11, 60, 40, 41}));
}

TEST(SelectTree, CyclesInParentLinksEnd) {
  // Impossible in /proc, but the input is data: 20 and 21 name each other as parent.
  const std::vector<ProcessStat> all = {proc(10, 1, 10), proc(20, 21, 10), proc(21, 20, 10),
                                        proc(22, 22, 10)};
  TreeQuery query;
  query.roots = {10};
  query.session = 10;
  std::vector<pid_t> got = pids(select_tree(all, query));
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<pid_t>{10, 20, 21, 22}));
}

TEST(LiveTree, FindsForkedDescendants) {
  // This process -> child -> grandchild, each parked in pause().
  testing::Child child = testing::Child::fork([](const std::function<void()>& ready) {
    pid_t grandchild = ::fork();
    if (grandchild == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::pause();
      ::_exit(0);
    }
    ready();
    ::pause();
  });
  ASSERT_GT(child.pid(), 0);
  TreeQuery query;
  query.roots = {::getpid()};
  query.include_roots = false;
  std::vector<ProcessStat> tree = select_tree(list_processes(), query);
  ASSERT_GE(tree.size(), 2u);
  auto it = std::find_if(tree.begin(), tree.end(),
                         [&](const ProcessStat& p) { return p.pid == child.pid(); });
  ASSERT_NE(it, tree.end());
  ASSERT_NE(it + 1, tree.end());
  EXPECT_EQ((it + 1)->ppid, child.pid()) << "the grandchild comes right after its parent";
  EXPECT_EQ(describe_process(*it).command_line, describe_process(read_process_stat(::getpid()).value()).command_line)
      << "a fork keeps its parent's command line";
  const pid_t grandchild = (it + 1)->pid;

  // signal_process reaches the process listed, and not one that reuses its pid.
  ProcessStat stale = *(it + 1);
  stale.start_time += 1;
  EXPECT_FALSE(signal_process(stale, SIGKILL));
  EXPECT_TRUE(signal_process(*(it + 1), SIGKILL));
  EXPECT_TRUE(testing::eventually([&] {
    std::optional<ProcessStat> now = read_process_stat(grandchild);
    return !now.has_value() || now->state == 'Z';
  }));
}

}  // namespace
}  // namespace pystack

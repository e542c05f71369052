// exception_handler_depth (cpython/lock_waits) on the exception tables CPython 3.11-3.15 wrote
// for functions with nested `with` and `try` blocks (tests/unit/data/exception_tables.txt, from
// scripts/gen-exception-table-fixtures): for every instruction, the depth the interpreter's own
// dis._parse_exception_table gives; and on damaged tables.

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "cpython/lock_waits.h"
#include "gtest/gtest.h"

namespace pystack {
namespace {

struct Recorded {
  std::string what;
  std::string table;
  std::vector<std::string> depths;
};

std::vector<Recorded> Recordings() {
  std::vector<Recorded> out;
  std::ifstream in("tests/unit/data/exception_tables.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> words = absl::StrSplit(line, ' ');
    if (words.size() != 4) continue;
    Recorded r;
    r.what = words[0] + " " + words[1];
    r.table = absl::HexStringToBytes(words[2]);
    r.depths = absl::StrSplit(words[3], ',');
    out.push_back(std::move(r));
  }
  return out;
}

TEST(ExceptionTable, DepthOfEveryInstructionAsDisParsesIt) {
  const std::vector<Recorded> recordings = Recordings();
  ASSERT_GE(recordings.size(), 4u) << "tests/unit/data/exception_tables.txt is missing";
  for (const Recorded& r : recordings) {
    SCOPED_TRACE(r.what);
    for (size_t i = 0; i < r.depths.size(); ++i) {
      std::optional<int> depth = exception_handler_depth(r.table, static_cast<int64_t>(i));
      const std::string got = depth ? std::to_string(*depth) : "-";
      EXPECT_EQ(got, r.depths[i]) << "instruction " << i;
    }
  }
}

TEST(ExceptionTable, DamagedTablesEndTheSearch) {
  EXPECT_EQ(exception_handler_depth("", 0), std::nullopt);
  EXPECT_EQ(exception_handler_depth(std::string(1, '\x7f'), 0), std::nullopt);  // cut varint
  EXPECT_EQ(exception_handler_depth(std::string(64, '\x40'), 3), std::nullopt);  // endless
  EXPECT_EQ(exception_handler_depth("\x80\x05\x01\x04", -1), std::nullopt);
  EXPECT_EQ(exception_handler_depth("\x80\x05\x01\x04", 2), 2);
  EXPECT_EQ(exception_handler_depth("\x80\x05\x01\x04", 5), std::nullopt);
}

}  // namespace
}  // namespace pystack

// The line-table decoders against PyCode_Addr2Line itself: tests/unit/data/line_tables_<ver>.txt
// hold, for every code object of a tricky module, the interpreter's answer at every byte offset
// (recorded by scripts/gen-line-table-fixtures). Then hand-made edge cases and a fuzz pass.
#include "cpython/line_table.h"

#include <gtest/gtest.h>

#include <climits>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace pystack {
namespace {

std::string from_hex(const std::string& hex) {
  if (hex == "-") return "";
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

using Decoder = int (*)(std::string_view, int, int);

int lnotab_signed(std::string_view t, int first, int offset) {
  return line_from_lnotab(t, first, offset, true);
}
int lnotab_unsigned(std::string_view t, int first, int offset) {
  return line_from_lnotab(t, first, offset, false);
}

Decoder decoder_for(const std::string& format) {
  if (format == "location") return line_from_location_table;
  if (format == "linetable310") return line_from_line_table_310;
  if (format == "lnotab_signed") return lnotab_signed;
  if (format == "lnotab_unsigned") return lnotab_unsigned;
  throw std::runtime_error("unknown table format " + format);
}

class RecordedLineTables : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(RecordedLineTables, EveryOffsetMatchesPyCodeAddr2Line) {
  const auto& [version, expected_format] = GetParam();
  const std::string path = "tests/unit/data/line_tables_" + version + ".txt";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing fixture " << path << " (run from the repo root)";
  std::string header;
  std::getline(in, header);
  ASSERT_NE(header.find("produced by CPython " + version), std::string::npos) << header;

  Decoder decode = nullptr;
  std::string table, name;
  int first_line = 0;
  size_t tables = 0, rows = 0, failures = 0;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string kind;
    words >> kind;
    if (kind == "format") {
      std::string format;
      words >> format;
      ASSERT_EQ(format, expected_format);
      decode = decoder_for(format);
    } else if (kind == "table") {
      std::string hex;
      words >> name >> first_line >> hex;
      table = from_hex(hex);
      ++tables;
    } else if (kind == "at") {
      ASSERT_NE(decode, nullptr) << "row before the format line";
      int offset = 0, expected = 0;
      words >> offset >> expected;
      ++rows;
      int got = decode(table, first_line, offset);
      if (got != expected && ++failures <= 20) {
        ADD_FAILURE() << version << " " << name << " offset " << offset << ": got " << got
                      << ", CPython " << expected;
      }
    }
  }
  EXPECT_EQ(failures, 0u);
  EXPECT_GE(tables, 10u) << "fixture too small: rerun scripts/gen-line-table-fixtures";
  EXPECT_GE(rows, 1000u) << "fixture too small: rerun scripts/gen-line-table-fixtures";
}

INSTANTIATE_TEST_SUITE_P(
    Versions, RecordedLineTables,
    ::testing::Values(std::pair{"2.7.18", "lnotab_unsigned"}, std::pair{"3.6.15", "lnotab_signed"},
                      std::pair{"3.7.16", "lnotab_signed"}, std::pair{"3.8.18", "lnotab_signed"},
                      std::pair{"3.9.18", "lnotab_signed"}, std::pair{"3.10.13", "linetable310"},
                      std::pair{"3.11.7", "location"}, std::pair{"3.12.1", "location"},
                      std::pair{"3.13.0", "location"}),
    [](const auto& info) {
      std::string name = info.param.first;
      for (char& c : name) c = c == '.' ? '_' : c;
      return name;
    });

// ---- 3.11+ positions: co_positions() of each interpreter (scripts/gen-positions-fixtures) ----

class RecordedPositions : public ::testing::TestWithParam<std::string> {};

TEST_P(RecordedPositions, EveryInstructionMatchesCoPositions) {
  const std::string version = GetParam();
  const std::string path = "tests/unit/data/positions_" + version + ".txt";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing fixture " << path << " (run from the repo root)";
  std::string header;
  std::getline(in, header);
  ASSERT_NE(header.find("produced by Python " + version), std::string::npos) << header;
  std::string table, name;
  int first_line = 0;
  size_t rows = 0, failures = 0;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string kind;
    words >> kind;
    if (kind == "table") {
      std::string hex;
      words >> name >> first_line >> hex;
      table = from_hex(hex);
    } else if (kind == "at") {
      int offset = 0;
      SourcePosition want;
      words >> offset >> want.line >> want.end_line >> want.column >> want.end_column;
      ++rows;
      const SourcePosition got = position_from_location_table(table, first_line, offset);
      if ((got.line != want.line || got.end_line != want.end_line || got.column != want.column ||
           got.end_column != want.end_column) &&
          ++failures <= 20) {
        ADD_FAILURE() << version << " " << name << " offset " << offset << ": got " << got.line
                      << " " << got.end_line << " " << got.column << " " << got.end_column
                      << ", CPython " << want.line << " " << want.end_line << " " << want.column
                      << " " << want.end_column;
      }
    }
  }
  EXPECT_EQ(failures, 0u);
  EXPECT_GE(rows, 200u) << "fixture too small: rerun scripts/gen-positions-fixtures";
}

INSTANTIATE_TEST_SUITE_P(Versions, RecordedPositions,
                         ::testing::Values("3.11.7", "3.12.1", "3.13.0", "3.14.10", "3.15.2"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) c = c == '.' ? '_' : c;
                           return name;
                         });

TEST(Positions, NegativeOffsetAndPastTheEndAreNone) {
  const SourcePosition none;
  const SourcePosition before = position_from_location_table("\x80\x00", 3, -2);
  EXPECT_EQ(before.line, none.line);
  const SourcePosition after = position_from_location_table("", 3, 0);
  EXPECT_EQ(after.line, -1);
  EXPECT_EQ(after.column, -1);
}

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

// ---- lnotab (up to 3.9) ----

TEST(Lnotab, NegativeOffsetAndEmptyTableGiveFirstLine) {
  EXPECT_EQ(line_from_lnotab(bytes({2, 1}), 10, -2, true), 10);
  EXPECT_EQ(line_from_lnotab("", 10, 0, true), 10);
  EXPECT_EQ(line_from_lnotab("", 10, 1000, false), 10);
}

TEST(Lnotab, DeltasAppliedUpToTheOffset) {
  const std::string t = bytes({0, 1, 4, 2, 6, 0xff});  // line 11 at 0, 13 at 4, 12 (or 268) at 10
  EXPECT_EQ(line_from_lnotab(t, 10, 0, true), 11);
  EXPECT_EQ(line_from_lnotab(t, 10, 3, true), 11);
  EXPECT_EQ(line_from_lnotab(t, 10, 4, true), 13);
  EXPECT_EQ(line_from_lnotab(t, 10, 10, true), 12);
  EXPECT_EQ(line_from_lnotab(t, 10, 10, false), 268);  // 2.7: unsigned deltas
  EXPECT_EQ(line_from_lnotab(t, 10, 5000, true), 12);  // past the end: the last line
}

TEST(Lnotab, LoneTrailingByteIgnored) {
  EXPECT_EQ(line_from_lnotab(bytes({0, 5, 0}), 1, 100, true), 6);
}

TEST(Lnotab, NegativeLineIsKept) {
  EXPECT_EQ(line_from_lnotab(bytes({0, 0x80}), 1, 0, true), -127);  // faulthandler: ???
}

// ---- 3.10 co_linetable ----

TEST(LineTable310, RangesAndNoLine) {
  const std::string t = bytes({4, 1, 2, 0x80, 0, 3, 2, 1});  // [0,4) 11, [4,6) none, [6,8) 15
  EXPECT_EQ(line_from_line_table_310(t, 10, -1), 10);
  EXPECT_EQ(line_from_line_table_310(t, 10, 0), 11);
  EXPECT_EQ(line_from_line_table_310(t, 10, 3), 11);
  EXPECT_EQ(line_from_line_table_310(t, 10, 4), -1);
  EXPECT_EQ(line_from_line_table_310(t, 10, 6), 15);  // zero-length range skipped, delta kept
  EXPECT_EQ(line_from_line_table_310(t, 10, 8), -1);  // past the end
  EXPECT_EQ(line_from_line_table_310("", 10, 0), -1);
}

TEST(LineTable310, TableEndingInEmptyRangesOrHalfAPair) {
  EXPECT_EQ(line_from_line_table_310(bytes({2, 1, 0, 1, 0}), 1, 2), -1);
  EXPECT_EQ(line_from_line_table_310(bytes({2, 1, 0, 1, 0}), 1, 1), 2);
  EXPECT_EQ(line_from_line_table_310(bytes({2}), 1, 0), 1);  // delta read as 0
}

// ---- 3.11+ location table ----

TEST(LocationTable, Forms) {
  const std::string t = bytes({
      0x80 | (13 << 3) | 0, 0x04,          // no columns, line +2, 1 unit   [0,2)
      0x80 | (11 << 3) | 1, 3, 4,          // one line form, +1, 2 units    [2,6)
      0x80 | (15 << 3) | 0,                // no location, 1 unit           [6,8)
      0x80 | (14 << 3) | 1, 0x43, 0x01, 0, 1, 1,  // long, line -(0x43&63|1<<6)>>1
      0x80 | (0 << 3) | 0, 5,              // short form, same line         [12,14)
  });
  EXPECT_EQ(line_from_location_table(t, 100, -2), 100);
  EXPECT_EQ(line_from_location_table(t, 100, 0), 102);
  EXPECT_EQ(line_from_location_table(t, 100, 1), 102);
  EXPECT_EQ(line_from_location_table(t, 100, 2), 103);
  EXPECT_EQ(line_from_location_table(t, 100, 5), 103);
  EXPECT_EQ(line_from_location_table(t, 100, 6), -1);
  // varint 0x43,0x01: 3 | 1<<6 = 67: odd, so -(67>>1) = -33.
  EXPECT_EQ(line_from_location_table(t, 100, 8), 70);
  EXPECT_EQ(line_from_location_table(t, 100, 12), 70);
  EXPECT_EQ(line_from_location_table(t, 100, 14), -1);  // past the end
  EXPECT_EQ(line_from_location_table("", 100, 0), -1);
}

TEST(LocationTable, TruncatedVarintStopsAtTheEnd) {
  EXPECT_EQ(line_from_location_table(bytes({0x80 | (13 << 3), 0x42}), 5, 0), 6);
  EXPECT_EQ(line_from_location_table(bytes({0x80 | (13 << 3)}), 5, 0), 5);
}

TEST(LocationTable, HugeVarintsDoNotOverflow) {
  std::string t = bytes({0x80 | (14 << 3)});
  t.append(40, static_cast<char>(0x7f));  // a varint far longer than 32 bits
  t.push_back(0x3f);
  int line = line_from_location_table(t, INT_MAX, 0);
  (void)line;  // any value: only defined behaviour is required
  SUCCEED();
}

TEST(LocationTable, FirstByteWithoutEntryBitIsStillAnEntry) {
  // CPython reads whatever byte it stands on as an entry header.
  EXPECT_EQ(line_from_location_table(bytes({(10 << 3) | 1, 0, 0}), 7, 3), 7);
}

// ---- fuzz: any bytes, any offset: no crash, no hang (run under ASan/UBSan too) ----

TEST(LineTablesFuzz, RandomBytesNeverCrash) {
  std::mt19937 rng(20240601);
  const int offsets[] = {INT_MIN, -1, 0, 1, 2, 7, 100, 255, 4096, INT_MAX};
  long long sink = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string table(rng() % 48, '\0');
    for (char& c : table) c = static_cast<char>(rng());
    if (round % 4 == 0) {  // bias toward entry headers and continuation bits
      for (char& c : table) c = static_cast<char>(c | (rng() % 2 ? 0xc0 : 0x40));
    }
    const int first = static_cast<int>(rng());
    for (int offset : offsets) {
      sink += line_from_location_table(table, first, offset);
      sink += line_from_line_table_310(table, first, offset);
      sink += line_from_lnotab(table, first, offset, true);
      sink += line_from_lnotab(table, first, offset, false);
    }
    const int random_offset = static_cast<int>(rng() % 512);
    sink += line_from_location_table(table, first, random_offset);
    sink += line_from_line_table_310(table, first, random_offset);
  }
  EXPECT_NE(sink, 1);  // keeps the calls
}

TEST(LineTablesFuzz, LargeTablesAndExtremeValues) {
  const std::string big(1 << 20, static_cast<char>(0xff));
  EXPECT_EQ(line_from_lnotab(big, INT_MAX, INT_MAX, false),
            static_cast<int>(static_cast<uint32_t>(INT_MAX) + 255u * (1u << 19)));
  line_from_lnotab(big, INT_MIN, INT_MAX, true);
  line_from_line_table_310(big, INT_MIN, INT_MAX);
  line_from_location_table(big, INT_MIN, INT_MAX);
  const std::string zeros(1 << 20, '\0');
  EXPECT_EQ(line_from_line_table_310(zeros, 3, 0), -1);  // all empty ranges
  EXPECT_EQ(line_from_location_table(zeros, 3, INT_MAX), -1);
}

}  // namespace
}  // namespace pystack

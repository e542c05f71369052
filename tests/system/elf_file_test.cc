// ElfFile against the interpreters installed here, with binutils (nm, readelf) and a plain
// linear scan through libelf as the independent source of expected values, and against copies
// that are stripped, truncated or corrupted.
#include "symbols/elf_file.h"

#include <fcntl.h>
#include <gelf.h>
#include <sys/stat.h>

#include <fstream>
#include <iostream>
#include <random>
#include <regex>

#include "common/errors.h"
#include "gtest/gtest.h"
#include "symbols_test_support.h"

namespace pystack {
namespace {

using namespace symbols_test;
namespace fs = std::filesystem;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Every libpython*.so* of pyenv plus Debian's static interpreter, those of them that are here
// (a test that would check none is skipped instead: SKIP_UNLESS).
std::vector<fs::path> all_interpreter_files() {
  std::vector<fs::path> files = pyenv_libpython_files();
  if (fs::exists(kDebianPython)) files.push_back(kDebianPython);
  return files;
}

// The files that hold a runtime (not the stable-ABI stub libpython3.so).
std::vector<fs::path> runtime_files() {
  std::vector<fs::path> files;
  for (const Interpreter& i : pyenv_interpreters()) files.push_back(i.library);
  if (fs::exists(kDebianPython)) files.push_back(kDebianPython);
  return files;
}

ElfFile open_or_die(const fs::path& path) {
  absl::StatusOr<ElfFile> elf = ElfFile::open(path);
  EXPECT_TRUE(elf.ok()) << path << ": " << elf.status();
  if (!elf.ok()) abort();
  return *std::move(elf);
}

// .dynsym read entry by entry with libelf: what a hash lookup must agree with.
struct DynamicEntry {
  std::string name;
  bool defined = false;
  uint64_t value = 0, size = 0;
};

std::vector<DynamicEntry> linear_dynsym(const fs::path& path) {
  elf_version(EV_CURRENT);
  std::vector<DynamicEntry> entries;
  int fd = ::open(path.c_str(), O_RDONLY);
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    gelf_getshdr(scn, &shdr);
    if (shdr.sh_type != SHT_DYNSYM) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    for (int i = 1; i < static_cast<int>(shdr.sh_size / shdr.sh_entsize); ++i) {
      GElf_Sym sym;
      gelf_getsym(data, i, &sym);
      entries.push_back({elf_strptr(elf, shdr.sh_link, sym.st_name), sym.st_shndx != SHN_UNDEF,
                         sym.st_value, sym.st_size});
    }
  }
  elf_end(elf);
  close(fd);
  return entries;
}

TEST(ElfFileTest, DynamicSymbolsMatchNm) {
  SKIP_UNLESS(!all_interpreter_files().empty(), "a CPython: pyenv's or Debian's python3.11");
  size_t checked = 0;
  for (const fs::path& file : all_interpreter_files()) {
    ElfFile elf = open_or_die(file);
    for (const auto& [name, value] : nm_symbols(file, "-D --defined-only")) {
      std::optional<ElfSymbol> found = elf.find_dynamic_symbol(name);
      ASSERT_TRUE(found.has_value()) << file << " " << name;
      EXPECT_EQ(found->value, value) << file << " " << name;
      ++checked;
    }
  }
  // About 1,500 exported symbols per interpreter, fewer in the stable-ABI stubs (libpython3.so).
  EXPECT_GT(checked, 500u * all_interpreter_files().size());
}

TEST(ElfFileTest, HashLookupMatchesLinearScan) {
  SKIP_UNLESS(!all_interpreter_files().empty(), "a CPython: pyenv's or Debian's python3.11");
  size_t defined = 0, undefined = 0;
  for (const fs::path& file : all_interpreter_files()) {
    ElfFile elf = open_or_die(file);
    std::vector<DynamicEntry> entries = linear_dynsym(file);
    std::set<std::string> defined_names;
    for (const DynamicEntry& e : entries) {
      if (e.defined) defined_names.insert(e.name);
    }
    for (const DynamicEntry& e : entries) {
      std::optional<ElfSymbol> found = elf.find_dynamic_symbol(e.name);
      if (e.defined) {
        ASSERT_TRUE(found.has_value()) << file << " " << e.name;
        EXPECT_EQ(found->value, e.value) << file << " " << e.name;
        EXPECT_EQ(found->size, e.size) << file << " " << e.name;
        ++defined;
      } else if (!defined_names.contains(e.name)) {
        // An import (malloc, memcpy...): named in .dynsym, defined elsewhere.
        EXPECT_FALSE(found.has_value()) << file << " " << e.name;
        EXPECT_FALSE(elf.find_symbol(e.name).has_value()) << file << " " << e.name;
        ++undefined;
      }
      EXPECT_FALSE(elf.find_dynamic_symbol(e.name + "_absent").has_value());
    }
  }
  EXPECT_GT(defined, 500u * all_interpreter_files().size());
  EXPECT_GT(undefined, 500u);
}

TEST(ElfFileTest, FindSymbolSearchesSymtabToo) {
  SKIP_UNLESS(!pyenv_interpreters().empty(), "pyenv's CPython interpreters (full symbol tables)");
  size_t checked = 0;
  for (const fs::path& file : runtime_files()) {
    ElfFile elf = open_or_die(file);
    std::map<std::string, uint64_t> all = nm_symbols(file, "--defined-only");
    if (fs::path(file) == kDebianPython) {
      EXPECT_TRUE(all.empty()) << "Debian's python3.11 was expected to be stripped";
      continue;
    }
    size_t i = 0;
    for (const auto& [name, value] : all) {
      if (i++ % 53 != 0) continue;  // a sample: each lookup is a linear scan of ~15000 symbols
      std::optional<ElfSymbol> found = elf.find_symbol(name);
      ASSERT_TRUE(found.has_value()) << file << " " << name;
      EXPECT_EQ(found->value, value) << file << " " << name;
      ++checked;
    }
  }
  EXPECT_GT(checked, 1000u);  // a sample of pyenv's full symbol tables (Debian's is stripped)
}

TEST(ElfFileTest, InterpHeadOnlyInSymtab) {
  SKIP_UNLESS(!pyenv_interpreters().empty(), "pyenv's CPython interpreters");
  int seen = 0;
  for (const Interpreter& interp : pyenv_interpreters()) {
    if (!(interp.major == 2 || (interp.major == 3 && interp.minor == 6))) continue;
    ++seen;
    ElfFile elf = open_or_die(interp.library);
    std::map<std::string, uint64_t> all = nm_symbols(interp.library, "--defined-only");
    ASSERT_TRUE(all.contains("interp_head")) << interp.library;
    EXPECT_FALSE(elf.find_dynamic_symbol("interp_head").has_value());
    std::optional<ElfSymbol> found = elf.find_symbol("interp_head");
    ASSERT_TRUE(found.has_value()) << interp.library;
    EXPECT_EQ(found->value, all["interp_head"]);
    EXPECT_EQ(found->size, 8u);
  }
  EXPECT_EQ(seen, 2) << "expected pyenv 2.7 and 3.6";
}

// [Nr] Name Type Address Off Size, as readelf -SW prints them.
struct ReadelfSection {
  uint64_t address, offset, size;
};

std::map<std::string, ReadelfSection> readelf_sections(const fs::path& file) {
  std::map<std::string, ReadelfSection> sections;
  std::istringstream lines(run("readelf -SW " + shell_quote(file)));
  std::regex row(R"(^\s*\[\s*(\d+)\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+))");
  std::string line;
  std::smatch m;
  while (std::getline(lines, line)) {
    if (!std::regex_search(line, m, row) || m[1] == "0") continue;
    sections[m[2]] = {std::stoull(m[4], nullptr, 16), std::stoull(m[5], nullptr, 16),
                      std::stoull(m[6], nullptr, 16)};
  }
  return sections;
}

TEST(ElfFileTest, SectionsMatchReadelf) {
  SKIP_UNLESS(!all_interpreter_files().empty(), "a CPython: pyenv's or Debian's python3.11");
  std::string with_pyruntime, without_pyruntime;
  size_t checked = 0;
  for (const fs::path& file : all_interpreter_files()) {
    ElfFile elf = open_or_die(file);
    std::map<std::string, ReadelfSection> sections = readelf_sections(file);
    ASSERT_GT(sections.size(), 10u) << file;
    for (const auto& [name, expected] : sections) {
      std::optional<ElfSection> found = elf.find_section(name);
      ASSERT_TRUE(found.has_value()) << file << " " << name;
      EXPECT_EQ(found->address, expected.address) << file << " " << name;
      EXPECT_EQ(found->file_offset, expected.offset) << file << " " << name;
      EXPECT_EQ(found->size, expected.size) << file << " " << name;
      ++checked;
    }
    EXPECT_EQ(elf.find_section(".PyRuntime").has_value(), sections.contains(".PyRuntime"));
    EXPECT_FALSE(elf.find_section(".nonexistent").has_value());
    (sections.contains(".PyRuntime") ? with_pyruntime : without_pyruntime) += " " + file.string();
  }
  EXPECT_GT(checked, 25u * all_interpreter_files().size());
  std::cout << "with .PyRuntime:" << with_pyruntime << "\nwithout:" << without_pyruntime << "\n";
}

TEST(ElfFileTest, HeaderFactsMatchReadelf) {
  SKIP_UNLESS(!all_interpreter_files().empty(), "a CPython: pyenv's or Debian's python3.11");
  SKIP_UNLESS(fs::exists(kDebianPython), std::string("Debian's ") + kDebianPython);
  for (const fs::path& file : all_interpreter_files()) {
    ElfFile elf = open_or_die(file);
    std::string header = run("readelf -hlnW " + shell_quote(file));
    std::smatch m;
    ASSERT_TRUE(std::regex_search(header, m, std::regex(R"(Type:\s+(\w+))"))) << file;
    EXPECT_EQ(elf.is_shared_object(), m[1] == "DYN") << file;
    ASSERT_TRUE(std::regex_search(header, m, std::regex(R"(LOAD\s+0x0+\s+0x([0-9a-f]+))"))) << file;
    EXPECT_EQ(elf.base_address(), std::stoull(m[1], nullptr, 16)) << file;
    ASSERT_TRUE(std::regex_search(header, m, std::regex(R"(Build ID: ([0-9a-f]+))"))) << file;
    EXPECT_EQ(elf.build_id(), m[1]) << file;
    EXPECT_EQ(elf.path(), file.string());
  }
  EXPECT_EQ(open_or_die(kDebianPython).base_address(), 0x400000u);
  EXPECT_FALSE(open_or_die(kDebianPython).is_shared_object());
}

TEST(ElfFileTest, StrippedCopyStillFindsTheRuntime) {
  SKIP_UNLESS(!all_interpreter_files().empty(), "a CPython: pyenv's or Debian's python3.11");
  TempDir tmp;
  int checked = 0;
  for (const fs::path& file : runtime_files()) {
    fs::path copy = tmp.path() / file.filename();
    ASSERT_EQ(system(("strip --strip-all -o " + shell_quote(copy) + " " + shell_quote(file)).c_str()),
              0);
    std::map<std::string, uint64_t> dynamic = nm_symbols(file, "-D --defined-only");
    std::map<std::string, ReadelfSection> sections = readelf_sections(file);
    ElfFile elf = open_or_die(copy);
    EXPECT_FALSE(elf.find_section(".symtab").has_value()) << copy;
    EXPECT_EQ(elf.find_symbol("PyCode_Type")->value, dynamic.at("PyCode_Type")) << file;
    if (dynamic.contains("_PyRuntime")) {
      std::optional<ElfSymbol> runtime = elf.find_symbol("_PyRuntime");
      ASSERT_TRUE(runtime.has_value()) << copy;
      EXPECT_EQ(runtime->value, dynamic["_PyRuntime"]);
      if (sections.contains(".PyRuntime")) {
        EXPECT_EQ(elf.find_section(".PyRuntime")->address, runtime->value) << copy;
      }
    } else {
      // 2.7 and 3.6: the thread state pointer is exported; interp_head was local and is gone.
      EXPECT_EQ(elf.find_symbol("_PyThreadState_Current")->value,
                dynamic.at("_PyThreadState_Current"));
      EXPECT_FALSE(elf.find_symbol("interp_head").has_value()) << copy;
    }
    fs::remove(copy);
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(runtime_files().size()));
}

TEST(ElfFileTest, NonElfFilesAreErrors) {
  TempDir tmp;
  write_bytes(tmp.path() / "text", "#!/bin/sh\necho not an ELF file\n");
  write_bytes(tmp.path() / "empty", "");
  write_bytes(tmp.path() / "magic-only", "\x7f" "ELF");
  write_bytes(tmp.path() / "bad-class", std::string("\x7f" "ELF\x07\x01\x01", 7) + std::string(100, '\0'));
  ASSERT_EQ(mkfifo((tmp.path() / "fifo").c_str(), 0600), 0);
  for (const char* name : {"text", "empty", "magic-only", "bad-class", "fifo"}) {
    absl::StatusOr<ElfFile> elf = ElfFile::open(tmp.path() / name);
    ASSERT_FALSE(elf.ok()) << name;
    EXPECT_EQ(error_kind(elf.status()), ErrorKind::kNotElf) << name << ": " << elf.status();
  }
  for (const char* path : {"/dev/null", "/proc/self"}) {
    absl::StatusOr<ElfFile> elf = ElfFile::open(path);
    ASSERT_FALSE(elf.ok()) << path;
    EXPECT_EQ(error_kind(elf.status()), ErrorKind::kNotElf) << path;
  }
  absl::StatusOr<ElfFile> missing = ElfFile::open(tmp.path() / "missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(error_kind(missing.status()), ErrorKind::kNoSuchFile);
  EXPECT_EQ(error_kind(ElfFile::open("/etc/passwd/x").status()), ErrorKind::kNoSuchFile);
}

// Calls everything; whatever is found must be what the intact file says.
void exercise(const ElfFile& elf, const std::map<std::string, uint64_t>& expected) {
  for (const auto& [name, value] : expected) {
    if (std::optional<ElfSymbol> found = elf.find_symbol(name)) {
      EXPECT_EQ(found->value, value);
    }
  }
  elf.find_section(".PyRuntime");
  elf.find_section(".text");
  elf.base_address();
  elf.is_shared_object();
  elf.build_id();
}

TEST(ElfFileTest, TruncatedCopiesGiveErrorsNotCrashes) {
  SKIP_UNLESS(!all_interpreter_files().empty(), "a CPython: pyenv's or Debian's python3.11");
  TempDir tmp;
  int opened = 0, refused = 0;
  for (const fs::path& file : runtime_files()) {
    std::string bytes = read_bytes(file);
    std::map<std::string, uint64_t> expected = nm_symbols(file, "-D --defined-only");
    std::map<std::string, uint64_t> sample;
    for (const char* name : {"_PyRuntime", "PyCode_Type", "Py_Version", "_PyThreadState_Current",
                             "PyUnicode_Type", "Py_Initialize"}) {
      if (expected.contains(name)) sample[name] = expected[name];
    }
    for (size_t size : {size_t{0}, size_t{16}, size_t{63}, size_t{64}, size_t{4096},
                        bytes.size() / 2, bytes.size() - 1}) {
      fs::path copy = tmp.path() / "truncated";
      write_bytes(copy, std::string_view(bytes).substr(0, size));
      absl::StatusOr<ElfFile> elf = ElfFile::open(copy);
      if (!elf.ok()) {
        EXPECT_EQ(error_kind(elf.status()), ErrorKind::kNotElf) << elf.status();
        ++refused;
        continue;
      }
      ++opened;
      exercise(*elf, sample);
    }
  }
  std::cout << "truncated copies: " << opened << " opened, " << refused << " refused\n";
  EXPECT_EQ(opened + refused, 7 * static_cast<int>(runtime_files().size()));
}

TEST(ElfFileTest, MovedFileKeepsWorking) {
  SKIP_UNLESS(!all_interpreter_files().empty(), "a CPython: pyenv's or Debian's python3.11");
  SKIP_UNLESS(fs::exists(kDebianPython), std::string("Debian's ") + kDebianPython);
  ElfFile a = open_or_die(kDebianPython);
  ElfFile b = std::move(a);
  EXPECT_TRUE(b.find_symbol("_PyRuntime").has_value());
  ElfFile c = open_or_die(runtime_files().front());
  c = std::move(b);
  EXPECT_EQ(c.path(), kDebianPython);
  EXPECT_TRUE(c.find_symbol("_PyRuntime").has_value());
  c = std::move(c);  // self-move must not end the handle
  EXPECT_TRUE(c.find_section(".PyRuntime").has_value());
}

// ---- A small library of our own, to test both hash table kinds and corrupt them. ----

constexpr int kTinySymbols = 300;

// Builds lib<style>.so with --hash-style=<style> (sysv, gnu or both).
fs::path build_tiny_library(const fs::path& dir, const std::string& style) {
  std::string source = "#include <stdio.h>\nstatic int hidden_static = 7;\n"
                       "int get_hidden(void) { puts(\"x\"); return hidden_static; }\n";
  for (int i = 0; i < kTinySymbols; ++i) {
    source += "int var_" + std::to_string(i) + " = " + std::to_string(i) + ";\n";
  }
  write_bytes(dir / "tiny.c", source);
  fs::path lib = dir / ("lib" + style + ".so");
  std::string cmd = "cc -shared -fPIC -O0 -Wl,--hash-style=" + style + " -o " + shell_quote(lib) +
                    " " + shell_quote(dir / "tiny.c");
  EXPECT_EQ(system(cmd.c_str()), 0) << cmd;
  return lib;
}

TEST(ElfFileTest, BothHashTableKinds) {
  TempDir tmp;
  for (const std::string style : {"sysv", "gnu", "both"}) {
    fs::path lib = build_tiny_library(tmp.path(), style);
    std::map<std::string, ReadelfSection> sections = readelf_sections(lib);
    EXPECT_EQ(sections.contains(".hash"), style != "gnu") << style;
    EXPECT_EQ(sections.contains(".gnu.hash"), style != "sysv") << style;
    ElfFile elf = open_or_die(lib);
    std::map<std::string, uint64_t> dynamic = nm_symbols(lib, "-D --defined-only");
    ASSERT_GT(dynamic.size(), static_cast<size_t>(kTinySymbols)) << style;
    for (const auto& [name, value] : dynamic) {
      std::optional<ElfSymbol> found = elf.find_dynamic_symbol(name);
      ASSERT_TRUE(found.has_value()) << style << " " << name;
      EXPECT_EQ(found->value, value);
    }
    EXPECT_FALSE(elf.find_dynamic_symbol("puts").has_value()) << "undefined import";
    EXPECT_FALSE(elf.find_dynamic_symbol("hidden_static").has_value());
    EXPECT_EQ(elf.find_symbol("hidden_static")->value,
              nm_symbols(lib, "--defined-only").at("hidden_static"));
    EXPECT_FALSE(elf.find_dynamic_symbol("var_300").has_value());
  }
}

void patch_u32(std::string& bytes, uint64_t offset, uint32_t value) {
  ASSERT_LE(offset + 4, bytes.size());
  memcpy(bytes.data() + offset, &value, 4);
}

// Writes `corrupt(copy of lib)` and checks that every lookup terminates and that whatever it
// finds is right (names are compared, so a corrupt table may lose symbols but not invent them).
void check_corruption(const fs::path& lib, const std::string& what,
                      const std::function<void(std::string&, const ElfSection&)>& corrupt,
                      const std::string& table) {
  std::string bytes = read_bytes(lib);
  std::optional<ElfSection> section = open_or_die(lib).find_section(table);
  ASSERT_TRUE(section.has_value()) << lib << " " << table;
  corrupt(bytes, *section);
  fs::path copy = lib.parent_path() / "corrupt.so";
  write_bytes(copy, bytes);
  ElfFile elf = open_or_die(copy);
  for (const auto& [name, value] : nm_symbols(lib, "-D --defined-only")) {
    std::optional<ElfSymbol> found = elf.find_dynamic_symbol(name);
    if (found) {
      EXPECT_EQ(found->value, value) << what << " " << name;
    }
  }
}

TEST(ElfFileTest, CorruptGnuHashTablesTerminate) {
  TempDir tmp;
  fs::path lib = build_tiny_library(tmp.path(), "gnu");
  using Patch = std::function<void(std::string&, const ElfSection&)>;
  const uint64_t header = 16;
  std::vector<std::pair<std::string, Patch>> cases = {
      {"no buckets", [](std::string& b, const ElfSection& s) { patch_u32(b, s.file_offset, 0); }},
      {"huge bucket count",
       [](std::string& b, const ElfSection& s) { patch_u32(b, s.file_offset, 0xffffffff); }},
      {"huge symoffset",
       [](std::string& b, const ElfSection& s) { patch_u32(b, s.file_offset + 4, 0xffffffff); }},
      {"huge bloom",
       [](std::string& b, const ElfSection& s) {
         patch_u32(b, s.file_offset + 8, 0xffffffff);
         patch_u32(b, s.file_offset + 12, 0xffffffff);
       }},
      {"zero bloom",
       [](std::string& b, const ElfSection& s) { patch_u32(b, s.file_offset + 8, 0); }},
      {"endless chains",
       [&](std::string& b, const ElfSection& s) {
         // Bloom all ones, every bucket at symoffset, no chain ever ends.
         uint32_t symoffset, bloom_size;
         memcpy(&symoffset, b.data() + s.file_offset + 4, 4);
         memcpy(&bloom_size, b.data() + s.file_offset + 8, 4);
         uint64_t buckets = s.file_offset + header + bloom_size * 8ull;
         memset(b.data() + s.file_offset + header, 0xff, bloom_size * 8ull);
         for (uint64_t off = buckets; off + 4 <= s.file_offset + s.size; off += 4) {
           patch_u32(b, off, off < buckets + 4 ? symoffset : 2);
         }
         patch_u32(b, s.file_offset, 1);  // one bucket
       }},
      {"buckets past the symbols",
       [&](std::string& b, const ElfSection& s) {
         uint32_t bloom_size;
         memcpy(&bloom_size, b.data() + s.file_offset + 8, 4);
         for (uint64_t off = s.file_offset + header + bloom_size * 8ull;
              off + 4 <= s.file_offset + s.size; off += 4) {
           patch_u32(b, off, 0x7ffffff0);
         }
       }},
  };
  for (uint32_t seed = 0; seed < 20; ++seed) {
    cases.emplace_back("random " + std::to_string(seed), [seed](std::string& b, const ElfSection& s) {
      std::mt19937 rng(seed);
      for (uint64_t off = s.file_offset; off < s.file_offset + s.size; ++off) {
        if (rng() % 4 == 0) b[off] = static_cast<char>(rng());
      }
    });
  }
  for (const auto& [what, patch] : cases) check_corruption(lib, what, patch, ".gnu.hash");
  // And a real interpreter's table, where this machine has one.
  std::optional<Interpreter> py312 = pyenv_interpreter(3, 12);
  if (!py312) {
    std::cout << "[ skipped  ] a real .gnu.hash table: needs pyenv's CPython 3.12\n";
    return;
  }
  fs::path copy = tmp.path() / "libpython3.12.so.1.0";
  fs::copy_file(py312->library, copy);
  for (size_t i = 0; i < cases.size(); i += 3) check_corruption(copy, cases[i].first, cases[i].second, ".gnu.hash");
}

TEST(ElfFileTest, CorruptSysvHashTablesTerminate) {
  TempDir tmp;
  fs::path lib = build_tiny_library(tmp.path(), "sysv");
  using Patch = std::function<void(std::string&, const ElfSection&)>;
  std::vector<std::pair<std::string, Patch>> cases = {
      {"no buckets", [](std::string& b, const ElfSection& s) { patch_u32(b, s.file_offset, 0); }},
      {"huge bucket count",
       [](std::string& b, const ElfSection& s) { patch_u32(b, s.file_offset, 0xffffffff); }},
      {"huge chain count",
       [](std::string& b, const ElfSection& s) { patch_u32(b, s.file_offset + 4, 0xffffffff); }},
      {"chains loop to themselves",
       [](std::string& b, const ElfSection& s) {
         uint32_t nbucket;
         memcpy(&nbucket, b.data() + s.file_offset, 4);
         uint64_t chains = s.file_offset + 8 + nbucket * 4ull;
         for (uint32_t i = 0; chains + i * 4ull + 4 <= s.file_offset + s.size; ++i) {
           patch_u32(b, chains + i * 4ull, i);
         }
       }},
      {"two-cycle chains",
       [](std::string& b, const ElfSection& s) {
         uint32_t nbucket;
         memcpy(&nbucket, b.data() + s.file_offset, 4);
         uint64_t chains = s.file_offset + 8 + nbucket * 4ull;
         for (uint32_t i = 0; chains + i * 4ull + 4 <= s.file_offset + s.size; ++i) {
           patch_u32(b, chains + i * 4ull, i ^ 1);
         }
       }},
  };
  for (uint32_t seed = 0; seed < 20; ++seed) {
    cases.emplace_back("random " + std::to_string(seed), [seed](std::string& b, const ElfSection& s) {
      std::mt19937 rng(seed);
      for (uint64_t off = s.file_offset; off < s.file_offset + s.size; ++off) {
        if (rng() % 4 == 0) b[off] = static_cast<char>(rng());
      }
    });
  }
  for (const auto& [what, patch] : cases) check_corruption(lib, what, patch, ".hash");
}

// Random bytes anywhere in the file (headers, section table, symbols, strings): every call must
// return, and nothing may crash.
TEST(ElfFileTest, RandomlyCorruptedFilesNeverCrash) {
  TempDir tmp;
  for (const std::string style : {"gnu", "sysv"}) {
    fs::path lib = build_tiny_library(tmp.path(), style);
    std::string original = read_bytes(lib);
    std::map<std::string, uint64_t> names = nm_symbols(lib, "-D --defined-only");
    std::mt19937 rng(42);
    int opened = 0;
    for (int round = 0; round < 400; ++round) {
      std::string bytes = original;
      int flips = 1 + static_cast<int>(rng() % 40);
      for (int i = 0; i < flips; ++i) {
        // Half of the damage goes to the first 4 KiB, where the headers and tables are.
        size_t limit = rng() % 2 ? std::min<size_t>(4096, bytes.size()) : bytes.size();
        bytes[rng() % limit] = static_cast<char>(rng());
      }
      fs::path copy = tmp.path() / "fuzzed.so";
      write_bytes(copy, bytes);
      absl::StatusOr<ElfFile> elf = ElfFile::open(copy);
      if (!elf.ok()) continue;
      ++opened;
      for (const auto& [name, value] : names) elf->find_symbol(name);
      elf->find_section(".gnu.hash");
      elf->base_address();
      elf->build_id();
    }
    EXPECT_GT(opened, 100) << style;
  }
}

}  // namespace
}  // namespace pystack

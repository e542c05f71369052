// CoreFile and CoreMemory on small cores built here byte by byte: notes, segments, memory that
// only the mapped files hold, build ids, and truncated, foreign or corrupt files.
#include "memory/core_file.h"

#include <elf.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/procfs.h>
#include <sys/user.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "common/errors.h"
#include "gtest/gtest.h"
#include "memory/core_memory.h"

namespace pystack {
namespace {

using Bytes = std::vector<uint8_t>;

template <typename T>
void append(Bytes& out, const T& value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&value);
  out.insert(out.end(), p, p + sizeof value);
}

void pad_to(Bytes& out, size_t alignment) {
  while (out.size() % alignment != 0) out.push_back(0);
}

void append_note(Bytes& out, const std::string& owner, uint32_t type, const Bytes& desc) {
  append(out, static_cast<uint32_t>(owner.size() + 1));
  append(out, static_cast<uint32_t>(desc.size()));
  append(out, type);
  out.insert(out.end(), owner.begin(), owner.end());
  out.push_back(0);
  pad_to(out, 4);
  out.insert(out.end(), desc.begin(), desc.end());
  pad_to(out, 4);
}

// A minimal ELF shared object image: one PT_LOAD from offset 0, one PT_NOTE with a build id.
Bytes elf_with_build_id(const Bytes& id, size_t size = 8192) {
  Bytes out;
  Elf64_Ehdr ehdr{};
  std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
  ehdr.e_ident[EI_CLASS] = ELFCLASS64;
  ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
  ehdr.e_ident[EI_VERSION] = EV_CURRENT;
  ehdr.e_type = ET_DYN;
  ehdr.e_machine = EM_X86_64;
  ehdr.e_phoff = sizeof(Elf64_Ehdr);
  ehdr.e_phentsize = sizeof(Elf64_Phdr);
  ehdr.e_phnum = 2;
  ehdr.e_ehsize = sizeof(Elf64_Ehdr);
  append(out, ehdr);
  const uint64_t note_offset = sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr);
  Bytes note;
  append_note(note, "GNU", NT_GNU_BUILD_ID, id);
  Elf64_Phdr load{PT_LOAD, PF_R, 0, 0, 0, size, size, 4096};
  Elf64_Phdr notes{PT_NOTE,     PF_R,        note_offset, note_offset,
                   note_offset, note.size(), note.size(), 4};
  append(out, load);
  append(out, notes);
  out.insert(out.end(), note.begin(), note.end());
  out.resize(size, 0xee);
  return out;
}

// Builds an x86-64 ELF core: notes first, then each segment's bytes page-aligned.
class CoreBuilder {
 public:
  void thread(pid_t tid, int signal, uint64_t fs_base) {
    struct elf_prstatus status {};
    status.pr_pid = tid;
    status.pr_cursig = static_cast<short>(signal);
    struct user_regs_struct regs {};
    regs.fs_base = fs_base;
    std::memcpy(&status.pr_reg, &regs, sizeof regs);
    Bytes desc;
    append(desc, status);
    append_note(notes_, "CORE", NT_PRSTATUS, desc);
  }
  void siginfo(int signal) {
    Bytes desc(128, 0);
    std::memcpy(desc.data(), &signal, sizeof signal);
    append_note(notes_, "CORE", 0x53494749, desc);
  }
  void prpsinfo(pid_t pid, const std::string& fname, const std::string& args) {
    struct elf_prpsinfo info {};
    info.pr_pid = pid;
    std::strncpy(info.pr_fname, fname.c_str(), sizeof info.pr_fname - 1);
    std::strncpy(info.pr_psargs, args.c_str(), sizeof info.pr_psargs - 1);
    Bytes desc;
    append(desc, info);
    append_note(notes_, "CORE", NT_PRPSINFO, desc);
  }
  void auxv(const std::vector<std::pair<uint64_t, uint64_t>>& entries) {
    Bytes desc;
    for (auto [type, value] : entries) {
      append(desc, type);
      append(desc, value);
    }
    append(desc, uint64_t{AT_NULL});
    append(desc, uint64_t{0});
    append_note(notes_, "CORE", NT_AUXV, desc);
  }
  struct File {
    uint64_t start, end, page_offset;
    std::string path;
  };
  void files(const std::vector<File>& files, uint64_t page_size = 4096) {
    Bytes desc;
    append(desc, uint64_t{files.size()});
    append(desc, page_size);
    for (const File& f : files) {
      append(desc, f.start);
      append(desc, f.end);
      append(desc, f.page_offset);
    }
    for (const File& f : files) {
      desc.insert(desc.end(), f.path.begin(), f.path.end());
      desc.push_back(0);
    }
    append_note(notes_, "CORE", 0x46494c45, desc);
  }
  // `bytes` in the core at `address`; memory_size > bytes.size() leaves the rest out.
  void segment(uint64_t address, Bytes bytes, uint64_t memory_size = 0) {
    segments_.push_back({address, std::move(bytes), memory_size});
  }

  Bytes build() const {
    const size_t phnum = 1 + segments_.size();
    const uint64_t notes_offset = sizeof(Elf64_Ehdr) + phnum * sizeof(Elf64_Phdr);
    uint64_t data_offset = (notes_offset + notes_.size() + 4095) & ~uint64_t{4095};
    Bytes out;
    Elf64_Ehdr ehdr{};
    std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
    ehdr.e_ident[EI_CLASS] = ELFCLASS64;
    ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
    ehdr.e_ident[EI_VERSION] = EV_CURRENT;
    ehdr.e_type = ET_CORE;
    ehdr.e_machine = EM_X86_64;
    ehdr.e_version = EV_CURRENT;
    ehdr.e_phoff = sizeof(Elf64_Ehdr);
    ehdr.e_phentsize = sizeof(Elf64_Phdr);
    ehdr.e_phnum = static_cast<uint16_t>(phnum);
    ehdr.e_ehsize = sizeof(Elf64_Ehdr);
    append(out, ehdr);
    Elf64_Phdr note{PT_NOTE, 0, notes_offset, 0, 0, notes_.size(), 0, 4};
    append(out, note);
    std::vector<uint64_t> offsets;
    for (const Segment& s : segments_) {
      offsets.push_back(data_offset);
      const uint64_t memsz = std::max<uint64_t>(s.memory_size, s.bytes.size());
      Elf64_Phdr load{PT_LOAD, PF_R | PF_W, data_offset, s.address, 0, s.bytes.size(), memsz, 4096};
      append(out, load);
      data_offset = (data_offset + s.bytes.size() + 4095) & ~uint64_t{4095};
    }
    out.insert(out.end(), notes_.begin(), notes_.end());
    for (size_t i = 0; i < segments_.size(); ++i) {
      out.resize(offsets[i], 0);
      out.insert(out.end(), segments_[i].bytes.begin(), segments_[i].bytes.end());
    }
    return out;
  }

 private:
  struct Segment {
    uint64_t address;
    Bytes bytes;
    uint64_t memory_size;
  };
  Bytes notes_;
  std::vector<Segment> segments_;
};

class TempDir {
 public:
  TempDir() {
    char templ[] = "/tmp/core-file-test-XXXXXX";
    path_ = mkdtemp(templ) ? templ : "/tmp";
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name, const Bytes& bytes) const {
    std::string path = path_ + "/" + name;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Bytes pattern(size_t size, uint8_t seed) {
  Bytes out(size);
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(seed + i * 7);
  return out;
}

constexpr uint64_t kHeap = 0x10000;
constexpr uint64_t kLibrary = 0x7f0000000000;

// A core of a process with two threads, a heap in the core and a library of which the core
// holds only the first page (as the kernel does for ELF files). The library's file is written
// to `dir`, with its build id `disk_id`; the core's image carries `core_id`.
struct Fixture {
  TempDir dir;
  std::string library;
  std::string core;
  Bytes library_bytes;
};

std::unique_ptr<Fixture> make_fixture(const Bytes& disk_id, const Bytes& core_id) {
  auto f = std::make_unique<Fixture>();
  f->library_bytes = elf_with_build_id(disk_id, 5 * 4096);
  // The file's pages 1.. carry a pattern, so reads from it can be checked.
  Bytes tail = pattern(4 * 4096, 3);
  std::copy(tail.begin(), tail.end(), f->library_bytes.begin() + 4096);
  f->library = f->dir.file("libfake.so", f->library_bytes);
  CoreBuilder b;
  b.thread(101, SIGSEGV, 0x7f00aaaa0000);
  b.thread(102, SIGSEGV, 0x7f00bbbb0000);
  b.siginfo(SIGSEGV);
  b.prpsinfo(101, "python3.12", "python3.12 -X faulthandler crash.py");
  b.auxv({{AT_PHDR, kLibrary + 64}, {AT_PAGESZ, 4096}});
  // The library is mapped from its page 1 on at kLibrary + 4096, and its page 0 at kLibrary.
  b.files({{kLibrary, kLibrary + 4096, 0, f->library},
           {kLibrary + 4096, kLibrary + 4 * 4096, 1, f->library}});
  b.segment(kHeap, pattern(3 * 4096, 1));
  Bytes image = elf_with_build_id(core_id);
  image.resize(4096);  // the kernel keeps only the first page of a file mapping
  b.segment(kLibrary, image, 4 * 4096);
  f->core = f->dir.file("core", b.build());
  return f;
}

const Bytes kIdA = {0xaa, 0xbb, 0xcc, 0xdd, 0x01, 0x02, 0x03, 0x04};
const Bytes kIdB = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};

FileLocator plain_locator() {
  return [](const std::string& path) { return path; };
}

TEST(CoreFile, ReadsThreadsSignalProcessAuxvAndFiles) {
  auto f = make_fixture(kIdA, kIdA);
  absl::StatusOr<std::unique_ptr<CoreFile>> core = CoreFile::open(f->core);
  ASSERT_TRUE(core.ok()) << core.status();
  const CoreFile& c = **core;
  ASSERT_EQ(c.threads().size(), 2u);
  EXPECT_EQ(c.threads()[0].tid, 101);
  EXPECT_EQ(c.threads()[0].fs_base, 0x7f00aaaa0000u);
  EXPECT_EQ(c.threads()[1].tid, 102);
  EXPECT_EQ(c.threads()[1].fs_base, 0x7f00bbbb0000u);
  EXPECT_EQ(c.signal(), SIGSEGV);
  EXPECT_EQ(c.process().pid, 101);
  EXPECT_EQ(c.process().command, "python3.12");
  EXPECT_EQ(c.process().arguments, "python3.12 -X faulthandler crash.py");
  EXPECT_EQ(c.auxv(AT_PHDR), kLibrary + 64);
  EXPECT_EQ(c.auxv(AT_PAGESZ), 4096u);
  EXPECT_FALSE(c.auxv(AT_ENTRY).has_value());
  ASSERT_EQ(c.mapped_files().size(), 2u);
  EXPECT_EQ(c.mapped_files()[1].start, kLibrary + 4096);
  EXPECT_EQ(c.mapped_files()[1].file_offset, 4096u);  // pages times the note's page size
  EXPECT_EQ(c.mapped_files()[1].path, f->library);
  EXPECT_FALSE(c.truncated());
}

// gdb 13's gcore writes zeros for a whole thread stack that begins with recent glibc's
// in-mapping guard page: the thread's TCB at fs_base then lacks the pointer to itself that the
// x86-64 TLS ABI puts there. Such a stack is reported lost, and reading it fails.
TEST(CoreFile, AStackSavedAsZerosIsLostNotRead) {
  TempDir dir;
  constexpr uint64_t kGoodStack = 0x7f0010000000, kLostStack = 0x7f0020000000;
  constexpr uint64_t kTcbOffset = 2 * 4096 - 64;
  CoreBuilder b;
  b.thread(201, 0, kGoodStack + kTcbOffset);
  b.thread(202, 0, kLostStack + kTcbOffset);
  Bytes good(2 * 4096, 0x11);
  const uint64_t self = kGoodStack + kTcbOffset;
  std::memcpy(good.data() + kTcbOffset, &self, sizeof self);
  b.segment(kGoodStack, good);
  b.segment(kLostStack, Bytes(2 * 4096, 0));
  absl::StatusOr<std::unique_ptr<CoreFile>> core = CoreFile::open(dir.file("core", b.build()));
  ASSERT_TRUE(core.ok()) << core.status();
  EXPECT_EQ((*core)->lost_stacks(), std::vector<pid_t>{202});
  CoreMemory memory(**core, plain_locator());
  uint64_t value = 0;
  EXPECT_TRUE(memory.read(kGoodStack + 8, &value, sizeof value).ok());
  EXPECT_EQ(value, 0x1111111111111111u);
  absl::Status lost = memory.read(kLostStack + 8, &value, sizeof value);
  ASSERT_FALSE(lost.ok());
  EXPECT_NE(lost.message().find("thread 202"), std::string_view::npos) << lost.message();
}

TEST(CoreFile, SignalFallsBackToTheFirstThreadsCurrentSignal) {
  TempDir dir;
  CoreBuilder b;
  b.thread(7, SIGABRT, 1);
  b.thread(8, 0, 2);
  absl::StatusOr<std::unique_ptr<CoreFile>> core = CoreFile::open(dir.file("core", b.build()));
  ASSERT_TRUE(core.ok()) << core.status();
  EXPECT_EQ((*core)->signal(), SIGABRT);
}

TEST(CoreMemory, ReadsTheCoreAndWhatItLeftOutFromTheMappedFiles) {
  auto f = make_fixture(kIdA, kIdA);
  absl::StatusOr<std::unique_ptr<CoreFile>> core = CoreFile::open(f->core);
  ASSERT_TRUE(core.ok()) << core.status();
  CoreMemory memory(**core, plain_locator());

  Bytes heap = pattern(3 * 4096, 1);
  Bytes out(5000);
  ASSERT_TRUE(memory.read(kHeap + 4000, out.data(), out.size()).ok());
  EXPECT_TRUE(std::equal(out.begin(), out.end(), heap.begin() + 4000));

  // Across the end of the core's page 0 of the library into the file's page 1 and 2.
  out.assign(8192, 0);
  ASSERT_TRUE(memory.read(kLibrary + 4000, out.data(), out.size()).ok());
  Bytes expected(f->library_bytes.begin() + 4000, f->library_bytes.begin() + 4000 + 8192);
  EXPECT_EQ(out, expected);

  // Nothing there: no segment, no file.
  uint64_t value = 0;
  EXPECT_FALSE(memory.read(0x5000, &value, sizeof value).ok());
  EXPECT_FALSE(memory.read(kHeap + 3 * 4096 - 4, &value, sizeof value).ok());  // runs off the end
  EXPECT_FALSE(memory.read(UINT64_MAX - 2, &value, sizeof value).ok());
  EXPECT_TRUE(memory.take_warnings().empty());
}

TEST(CoreMemory, ReadImageNeverReadsTheMappedFiles) {
  auto f = make_fixture(kIdA, kIdA);
  absl::StatusOr<std::unique_ptr<CoreFile>> core = CoreFile::open(f->core);
  ASSERT_TRUE(core.ok()) << core.status();
  uint64_t value = 0;
  EXPECT_TRUE((*core)->read_image(kLibrary + 8, &value, sizeof value).ok());
  EXPECT_FALSE((*core)->read_image(kLibrary + 4096, &value, sizeof value).ok());
}

TEST(CoreMemory, WarnsOnceWhenAFileDoesNotMatchTheCore) {
  auto f = make_fixture(kIdA, kIdB);
  absl::StatusOr<std::unique_ptr<CoreFile>> core = CoreFile::open(f->core);
  ASSERT_TRUE(core.ok()) << core.status();
  CoreMemory memory(**core, plain_locator());
  uint64_t value = 0;
  ASSERT_TRUE(memory.read(kLibrary + 4096, &value, sizeof value).ok());
  ASSERT_TRUE(memory.read(kLibrary + 8192, &value, sizeof value).ok());
  memory.check_build_id(f->library);
  std::vector<std::string> warnings = memory.take_warnings();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(f->library), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("aabbccdd01020304"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("1122334455667788"), std::string::npos) << warnings[0];
  EXPECT_EQ(warnings[0].find('\n'), std::string::npos);
}

TEST(CoreMemory, NoWarningWhenBuildIdsMatch) {
  auto f = make_fixture(kIdA, kIdA);
  absl::StatusOr<std::unique_ptr<CoreFile>> core = CoreFile::open(f->core);
  ASSERT_TRUE(core.ok()) << core.status();
  CoreMemory memory(**core, plain_locator());
  memory.check_build_id(f->library);
  EXPECT_TRUE(memory.take_warnings().empty());
}

TEST(CoreMemory, TheLocatorSaysWhereFilesAre) {
  auto f = make_fixture(kIdA, kIdA);
  absl::StatusOr<std::unique_ptr<CoreFile>> core = CoreFile::open(f->core);
  ASSERT_TRUE(core.ok()) << core.status();
  CoreMemory nowhere(**core, [](const std::string&) { return std::string("/nonexistent/x"); });
  uint64_t value = 0;
  absl::Status status = nowhere.read(kLibrary + 4096, &value, sizeof value);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("/nonexistent/x"), std::string::npos) << status;
}

TEST(CoreFile, TruncatedCoreKeepsWhatIsThere) {
  auto f = make_fixture(kIdA, kIdA);
  std::filesystem::resize_file(f->core, std::filesystem::file_size(f->core) - 4096 - 100);
  absl::StatusOr<std::unique_ptr<CoreFile>> core = CoreFile::open(f->core);
  ASSERT_TRUE(core.ok()) << core.status();
  EXPECT_TRUE((*core)->truncated());
  EXPECT_GT((*core)->expected_size(), (*core)->size());
  CoreMemory memory(**core, plain_locator());
  uint64_t value = 0;
  EXPECT_TRUE(memory.read(kHeap, &value, sizeof value).ok());
  absl::Status cut = memory.read(kLibrary + 4000, &value, sizeof value);
  EXPECT_FALSE(cut.ok());
  EXPECT_NE(cut.message().find("truncated"), std::string::npos) << cut;
}

TEST(CoreFile, CoreCutBeforeItsNotesIsABadCore) {
  auto f = make_fixture(kIdA, kIdA);
  std::filesystem::resize_file(f->core, sizeof(Elf64_Ehdr) + 3 * sizeof(Elf64_Phdr) + 20);
  absl::StatusOr<std::unique_ptr<CoreFile>> core = CoreFile::open(f->core);
  ASSERT_FALSE(core.ok());
  EXPECT_EQ(error_kind(core.status()), ErrorKind::kBadCore);
  EXPECT_NE(core.status().message().find("truncated"), std::string::npos) << core.status();
}

TEST(CoreFile, RejectsWhatIsNotACore) {
  TempDir dir;
  struct Case {
    std::string name;
    Bytes bytes;
  };
  Bytes executable = elf_with_build_id(kIdA);
  reinterpret_cast<Elf64_Ehdr*>(executable.data())->e_type = ET_EXEC;
  Bytes arm = CoreBuilder().build();
  reinterpret_cast<Elf64_Ehdr*>(arm.data())->e_machine = EM_AARCH64;
  std::vector<Case> cases = {
      {"empty", {}},
      {"text", Bytes{'h', 'e', 'l', 'l', 'o', '\n'}},
      {"short", Bytes{0x7f, 'E', 'L', 'F'}},
      {"executable", executable},
      {"aarch64", arm},
      {"no_threads", CoreBuilder().build()},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::unique_ptr<CoreFile>> core = CoreFile::open(dir.file(c.name, c.bytes));
    ASSERT_FALSE(core.ok()) << c.name;
    EXPECT_EQ(error_kind(core.status()), ErrorKind::kBadCore) << c.name << ": " << core.status();
  }
  EXPECT_EQ(error_kind(CoreFile::open(dir.path() + "/missing").status()),
            ErrorKind::kNoSuchFile);
  EXPECT_EQ(error_kind(CoreFile::open(dir.path()).status()), ErrorKind::kBadCore);  // a directory
}

// Flipped bytes anywhere must give an error or a result, never a crash or a hang.
TEST(CoreFile, CorruptCoresNeverCrash) {
  auto f = make_fixture(kIdA, kIdB);
  const std::optional<Bytes> original = [&]() -> std::optional<Bytes> {
    std::ifstream in(f->core, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }();
  ASSERT_TRUE(original && !original->empty());
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    std::mt19937 random(seed);
    Bytes bytes = *original;
    // Most flips in the headers and notes, where they change the most.
    const size_t head = std::min<size_t>(bytes.size(), 4096);
    for (int i = 0; i < 8; ++i) {
      const size_t at = (i % 4 == 3) ? random() % bytes.size() : random() % head;
      bytes[at] ^= static_cast<uint8_t>(1 + random() % 255);
    }
    std::string path = f->dir.file("corrupt", bytes);
    absl::StatusOr<std::unique_ptr<CoreFile>> core = CoreFile::open(path);
    if (!core.ok()) {
      EXPECT_NE(error_kind(core.status()), ErrorKind::kInternal) << seed << ": " << core.status();
      continue;
    }
    CoreMemory memory(**core, plain_locator());
    Bytes out(3 * 4096);
    for (uint64_t address : {kHeap, kLibrary, kLibrary + 4096, uint64_t{0}, UINT64_MAX - 100}) {
      (void)memory.read(address, out.data(), out.size());
    }
    memory.check_build_id(f->library);
    (void)memory.take_warnings();
  }
}

TEST(ElfBuildId, FromFileOffsetsAndFromAMappedImage) {
  Bytes image = elf_with_build_id(kIdB);
  ByteReader by_offset = [&](uint64_t where, void* out, size_t size) {
    if (where > image.size() || size > image.size() - where) return false;
    std::memcpy(out, image.data() + where, size);
    return true;
  };
  EXPECT_EQ(elf_build_id(by_offset, std::nullopt), "1122334455667788");
  const uint64_t base = 0x400000;
  ByteReader by_address = [&](uint64_t where, void* out, size_t size) {
    return where >= base && by_offset(where - base, out, size);
  };
  EXPECT_EQ(elf_build_id(by_address, base), "1122334455667788");
  Bytes garbage(4096, 0x42);
  ByteReader nothing = [&](uint64_t where, void* out, size_t size) {
    if (where > garbage.size() || size > garbage.size() - where) return false;
    std::memcpy(out, garbage.data() + where, size);
    return true;
  };
  EXPECT_EQ(elf_build_id(nothing, std::nullopt), "");
}

}  // namespace
}  // namespace pystack

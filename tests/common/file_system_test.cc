#include "common/file_system.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include "tests/support/fault_file_system.h"
#include "tests/support/temp_dir.h"

namespace baton {
namespace {

using ::baton::testing::FaultFileSystem;

// A temp dir that hands out file paths inside it.
class ScratchDir {
 public:
  const std::string& path() const { return dir_.path(); }
  std::string File(const std::string& name) const { return dir_.Join(name); }

 private:
  ::baton::testing::TempDir dir_;
};

std::string Slurp(FileSystem& fs, const std::string& path) {
  auto contents = fs.ReadFileToString(path);
  EXPECT_TRUE(contents.ok()) << contents.status();
  return contents.ok() ? *contents : "";
}

TEST(PosixFileSystem, WriteAppendReadBack) {
  ScratchDir dir;
  FileSystem& fs = PosixFileSystem();
  const std::string path = dir.File("a");
  {
    auto file = fs.NewWritableFile(path);
    ASSERT_TRUE(file.ok()) << file.status();
    ASSERT_TRUE((*file)->Append("hello ").ok());
    ASSERT_TRUE((*file)->Sync().ok());
    EXPECT_EQ((*file)->Size(), 6u);
    ASSERT_TRUE((*file)->Close().ok());
    EXPECT_TRUE((*file)->Close().ok()) << "Close twice is harmless";
  }
  {
    auto file = fs.NewAppendableFile(path);
    ASSERT_TRUE(file.ok()) << file.status();
    EXPECT_EQ((*file)->Size(), 6u);
    ASSERT_TRUE((*file)->Append("world").ok());
    EXPECT_EQ((*file)->Size(), 11u);
  }  // destructor closes
  EXPECT_EQ(Slurp(fs, path), "hello world");
  auto size = fs.GetFileSize(path);
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 11u);

  // NewWritableFile truncates an existing file.
  auto again = fs.NewWritableFile(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Slurp(fs, path), "");
}

TEST(PosixFileSystem, SequentialAndRandomAccessReads) {
  ScratchDir dir;
  FileSystem& fs = PosixFileSystem();
  const std::string path = dir.File("r");
  {
    auto file = fs.NewWritableFile(path);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append("0123456789").ok());
  }
  auto seq = fs.NewSequentialFile(path);
  ASSERT_TRUE(seq.ok()) << seq.status();
  std::string out;
  ASSERT_TRUE((*seq)->Read(3, &out).ok());
  EXPECT_EQ(out, "012");
  ASSERT_TRUE((*seq)->Skip(2).ok());
  ASSERT_TRUE((*seq)->Read(100, &out).ok());
  EXPECT_EQ(out, "56789");
  ASSERT_TRUE((*seq)->Read(100, &out).ok());
  EXPECT_EQ(out, "");

  auto random = fs.NewRandomAccessFile(path);
  ASSERT_TRUE(random.ok()) << random.status();
  ASSERT_TRUE((*random)->Read(4, 3, &out).ok());
  EXPECT_EQ(out, "456");
  ASSERT_TRUE((*random)->Read(8, 10, &out).ok());
  EXPECT_EQ(out, "89") << "short read at the end";
  ASSERT_TRUE((*random)->Read(50, 10, &out).ok());
  EXPECT_EQ(out, "");
}

TEST(PosixFileSystem, ReaderSeesBytesAppendedByAnotherHandle) {
  ScratchDir dir;
  FileSystem& fs = PosixFileSystem();
  const std::string path = dir.File("grow");
  auto writer = fs.NewWritableFile(path);
  ASSERT_TRUE(writer.ok());
  auto reader = fs.NewRandomAccessFile(path);
  ASSERT_TRUE(reader.ok());
  std::string out;
  ASSERT_TRUE((*reader)->Read(0, 10, &out).ok());
  EXPECT_EQ(out, "");
  ASSERT_TRUE((*writer)->Append("abc").ok());
  ASSERT_TRUE((*reader)->Read(0, 10, &out).ok());
  EXPECT_EQ(out, "abc");
}

TEST(PosixFileSystem, DirectoryOperations) {
  ScratchDir dir;
  FileSystem& fs = PosixFileSystem();
  const std::string nested = dir.File("x/y/z");
  ASSERT_TRUE(fs.CreateDirs(nested).ok());
  ASSERT_TRUE(fs.CreateDirs(nested).ok()) << "existing directory is fine";
  for (const char* name : {"b", "c", "a"}) ASSERT_TRUE(fs.NewWritableFile(JoinPath(nested, name)).ok());
  auto children = fs.GetChildren(nested);
  ASSERT_TRUE(children.ok()) << children.status();
  EXPECT_EQ(*children, (std::vector<std::string>{"a", "b", "c"}));

  ASSERT_TRUE(fs.RenameFile(JoinPath(nested, "a"), JoinPath(nested, "d")).ok());
  ASSERT_TRUE(fs.RemoveFile(JoinPath(nested, "b")).ok());
  children = fs.GetChildren(nested);
  ASSERT_TRUE(children.ok());
  EXPECT_EQ(*children, (std::vector<std::string>{"c", "d"}));
  ASSERT_TRUE(fs.SyncDir(nested).ok());

  auto exists = fs.FileExists(JoinPath(nested, "d"));
  ASSERT_TRUE(exists.ok());
  EXPECT_TRUE(*exists);
  exists = fs.FileExists(JoinPath(nested, "b"));
  ASSERT_TRUE(exists.ok());
  EXPECT_FALSE(*exists);

  // A regular file in the way of CreateDirs is an error.
  EXPECT_FALSE(fs.CreateDirs(JoinPath(nested, "d")).ok());
}

TEST(PosixFileSystem, TruncateFile) {
  ScratchDir dir;
  FileSystem& fs = PosixFileSystem();
  const std::string path = dir.File("t");
  {
    auto file = fs.NewWritableFile(path);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append("0123456789").ok());
  }
  ASSERT_TRUE(fs.TruncateFile(path, 4).ok());
  EXPECT_EQ(Slurp(fs, path), "0123");
}

TEST(PosixFileSystem, ErrorsNameOperationPathAndReason) {
  ScratchDir dir;
  FileSystem& fs = PosixFileSystem();
  const std::string missing = dir.File("missing");

  auto opened = fs.NewRandomAccessFile(missing);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kNotFound);
  EXPECT_NE(opened.status().message().find("open " + missing), std::string::npos) << opened.status();
  EXPECT_NE(opened.status().message().find("No such file"), std::string::npos) << opened.status();

  Status removed = fs.RemoveFile(missing);
  EXPECT_EQ(removed.code(), StatusCode::kNotFound);
  EXPECT_NE(removed.message().find(missing), std::string::npos);
  EXPECT_EQ(fs.GetFileSize(missing).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs.GetChildren(missing).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs.TruncateFile(missing, 0).code(), StatusCode::kNotFound);

  // A directory cannot be opened for writing: not ENOENT, so INTERNAL.
  auto dir_as_file = fs.NewWritableFile(dir.path());
  ASSERT_FALSE(dir_as_file.ok());
  EXPECT_EQ(dir_as_file.status().code(), StatusCode::kInternal) << dir_as_file.status();
}

TEST(PosixFileSystem, DiskFullIsResourceExhausted) {
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  auto file = PosixFileSystem().NewAppendableFile("/dev/full");
  ASSERT_TRUE(file.ok()) << file.status();
  Status s = (*file)->Append("x");
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s;
  EXPECT_NE(s.message().find("write /dev/full"), std::string::npos) << s;
}

TEST(JoinPath, ExactlyOneSlash) {
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "b"), "a/b");
  EXPECT_EQ(JoinPath("a//", "/b"), "a/b");
  EXPECT_EQ(JoinPath("/", "b"), "/b");
  EXPECT_EQ(JoinPath("", "b"), "b");
}

// --- the fault-injecting wrapper used by the WAL tests ---------------------

TEST(FaultFileSystem, DropUnsyncedDataKeepsOnlySyncedBytes) {
  ScratchDir dir;
  FaultFileSystem fs;
  const std::string path = dir.File("f");
  {
    auto file = fs.NewWritableFile(path);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append("synced").ok());
    ASSERT_TRUE((*file)->Sync().ok());
    ASSERT_TRUE((*file)->Append("+lost").ok());
  }
  ASSERT_TRUE(fs.SyncDir(dir.path()).ok());
  EXPECT_EQ(fs.sync_calls(), 1);
  EXPECT_EQ(Slurp(fs, path), "synced+lost");
  ASSERT_TRUE(fs.DropUnsyncedData().ok());
  EXPECT_EQ(Slurp(fs, path), "synced");
}

TEST(FaultFileSystem, DropUnsyncedDataRemovesFilesWhoseDirectoryWasNotSynced) {
  ScratchDir dir;
  FaultFileSystem fs;
  const std::string path = dir.File("new");
  {
    auto file = fs.NewWritableFile(path);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append("data").ok());
    ASSERT_TRUE((*file)->Sync().ok());
  }
  ASSERT_TRUE(fs.DropUnsyncedData().ok());
  auto exists = fs.FileExists(path);
  ASSERT_TRUE(exists.ok());
  EXPECT_FALSE(*exists);
}

TEST(FaultFileSystem, FailedSyncKeepsNothingAndCountsTheCall) {
  ScratchDir dir;
  FaultFileSystem fs;
  const std::string path = dir.File("f");
  auto file = fs.NewWritableFile(path);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(fs.SyncDir(dir.path()).ok());
  ASSERT_TRUE((*file)->Append("abc").ok());
  fs.FailSyncs(Status::Internal("Input/output error (injected)"));
  Status s = (*file)->Sync();
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_NE(s.message().find(path), std::string::npos) << s;
  EXPECT_EQ(fs.sync_calls(), 1);
  EXPECT_EQ(fs.syncs_completed(), 0);
  fs.ClearSyncFailure();
  file->reset();
  ASSERT_TRUE(fs.DropUnsyncedData().ok());
  EXPECT_EQ(Slurp(fs, path), "");
}

TEST(FaultFileSystem, DiskFullWritesAPrefixThenFails) {
  ScratchDir dir;
  FaultFileSystem fs;
  auto file = fs.NewWritableFile(dir.File("f"));
  ASSERT_TRUE(file.ok());
  fs.SetDiskFull(true);
  Status s = (*file)->Append("abcdef");
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s;
  EXPECT_EQ((*file)->Size(), 3u);
  fs.SetDiskFull(false);
  EXPECT_TRUE((*file)->Append("g").ok());
  EXPECT_EQ(Slurp(fs, dir.File("f")), "abcg");
}

TEST(FaultFileSystem, SyncGateHoldsSyncUntilOpened) {
  ScratchDir dir;
  FaultFileSystem fs;
  auto file = fs.NewWritableFile(dir.File("f"));
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Append("x").ok());
  fs.CloseSyncGate();
  std::atomic<bool> returned{false};
  std::thread syncer([&] {
    EXPECT_TRUE((*file)->Sync().ok());
    returned = true;
  });
  ASSERT_TRUE(fs.WaitForBlockedSyncs(1, std::chrono::seconds(10)));
  EXPECT_FALSE(returned.load());
  EXPECT_EQ(fs.syncs_completed(), 0);
  fs.OpenSyncGate();
  syncer.join();
  EXPECT_TRUE(returned.load());
  EXPECT_EQ(fs.syncs_completed(), 1);
  EXPECT_EQ(fs.blocked_syncs(), 0);
}

TEST(FaultFileSystem, TruncateFailureIsInjected) {
  ScratchDir dir;
  FaultFileSystem fs;
  {
    auto file = fs.NewWritableFile(dir.File("f"));
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append("abc").ok());
  }
  fs.FailTruncates(Status::Internal("injected"));
  EXPECT_FALSE(fs.TruncateFile(dir.File("f"), 1).ok());
  fs.ClearTruncateFailure();
  EXPECT_TRUE(fs.TruncateFile(dir.File("f"), 1).ok());
  EXPECT_EQ(Slurp(fs, dir.File("f")), "a");
}

}  // namespace
}  // namespace baton

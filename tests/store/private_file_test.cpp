// Private files and directories (src/store/private_file.h): modes whatever the umask, atomic
// replacement, secrets made once.
#include "store/private_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "concord/store.h"

namespace fs = std::filesystem;
using namespace concord;

namespace {

// A fresh directory under the system's temporary directory, removed afterwards.
struct ScratchDir {
  fs::path dir;
  ScratchDir() {
    static int n = 0;
    dir = fs::temp_directory_path() /
          ("concord-private-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

// Sets the process's umask for a scope.
struct Umask {
  mode_t old;
  explicit Umask(mode_t m) : old(::umask(m)) {}
  ~Umask() { ::umask(old); }
};

mode_t mode_of(const fs::path& p) {
  struct stat st;
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The names in a directory.
std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    out.insert(e.path().filename().string());
  return out;
}

}  // namespace

TEST_CASE("private directories and files are 0700 and 0600 whatever the umask") {
  for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}, mode_t{0277}}) {
    DYNAMIC_SECTION("umask " << std::oct << mask) {
      ScratchDir t;
      Umask u(mask);
      const fs::path state = t.dir / "a" / "b" / "state";
      REQUIRE(make_private_dir(state).is_ok());
      // Every level it made, not only the last.
      CHECK(mode_of(t.dir / "a") == 0700);
      CHECK(mode_of(t.dir / "a" / "b") == 0700);
      CHECK(mode_of(state) == 0700);

      REQUIRE(
          write_file_atomically(state / "report.csv", "email\r\nwilma@bedrock.org\r\n").is_ok());
      CHECK(mode_of(state / "report.csv") == 0600);
      CHECK(read(state / "report.csv") == "email\r\nwilma@bedrock.org\r\n");

      Result<std::unique_ptr<PrivateFile>> f = PrivateFile::create(state / "backup.json");
      REQUIRE(f.is_ok());
      (*f)->out() << "[]\n";
      REQUIRE((*f)->close().is_ok());
      CHECK(mode_of(state / "backup.json") == 0600);

      Result<std::string> key = read_or_create_secret(state / "webhook.key", "0123abcd");
      REQUIRE(key.is_ok());
      CHECK(*key == "0123abcd");
      CHECK(mode_of(state / "webhook.key") == 0600);
      CHECK(read(state / "webhook.key") == "0123abcd\n");
    }
  }
}

TEST_CASE("an existing state directory wider than 0700 is narrowed; a named one is kept") {
  ScratchDir t;
  const fs::path state = t.dir / "state";
  fs::create_directories(state);
  REQUIRE(::chmod(state.c_str(), 0755) == 0);
  REQUIRE(make_private_dir(state, ExistingDir::kKeep).is_ok());
  CHECK(mode_of(state) == 0755);
  REQUIRE(make_private_dir(state).is_ok());
  CHECK(mode_of(state) == 0700);
  // Its parent, which concord did not make, is left alone.
  REQUIRE(::chmod(t.dir.c_str(), 0755) == 0);
  REQUIRE(make_private_dir(t.dir / "state" / "store").is_ok());
  CHECK(mode_of(t.dir) == 0755);
  CHECK(mode_of(t.dir / "state" / "store") == 0700);
}

TEST_CASE("a shared (sticky) directory is not narrowed, and is refused as a state directory") {
  ScratchDir t;
  const fs::path shared = t.dir / "tmp";
  fs::create_directories(shared);
  REQUIRE(::chmod(shared.c_str(), 01777) == 0);
  Status s = make_private_dir(shared);
  CHECK(s.code() == Status::Code::kInvalid);
  CHECK_THAT(s.message(), Catch::Matchers::Contains(shared.string()));
  CHECK(mode_of(shared) == 01777);
  // Below it, concord's own directory is fine.
  CHECK(make_private_dir(shared / "concord").is_ok());
  CHECK(mode_of(shared / "concord") == 0700);
}

TEST_CASE("make_private_dir names the path when a level is not a directory") {
  ScratchDir t;
  std::ofstream(t.dir / "file") << "x";
  Status s = make_private_dir(t.dir / "file" / "state");
  CHECK(s.code() == Status::Code::kIoError);
  CHECK_THAT(s.message(), Catch::Matchers::Contains((t.dir / "file").string()));
  CHECK_THAT(s.message(), Catch::Matchers::Contains("Not a directory"));
}

TEST_CASE("write_file_atomically replaces the file whole and leaves no temporary file") {
  ScratchDir t;
  const fs::path file = t.dir / "report.json";
  REQUIRE(write_file_atomically(file, "old").is_ok());
  REQUIRE(::chmod(file.c_str(), 0644) == 0);  // as an older concord left it
  REQUIRE(write_file_atomically(file, "new").is_ok());
  CHECK(read(file) == "new");
  CHECK(mode_of(file) == 0600);
  CHECK(names_in(t.dir) == std::set<std::string>{"report.json"});
}

TEST_CASE("a failed atomic write leaves the old file as it was and no temporary file") {
  ScratchDir t;
  const fs::path file = t.dir / "report.json";
  REQUIRE(write_file_atomically(file, "old").is_ok());

  SECTION("the temporary file cannot be made (the directory is a regular file)") {
    // Tests run as root, who may write anywhere: a parent that is a file fails for everyone.
    Status s = write_file_atomically(file / "x", "new");
    CHECK(s.code() == Status::Code::kIoError);
    CHECK_THAT(s.message(), Catch::Matchers::Contains(file.string()));
  }
  SECTION("the writer gives up before commit (an error while writing the content)") {
    Result<std::unique_ptr<AtomicFile>> f = AtomicFile::create(file);
    REQUIRE(f.is_ok());
    (*f)->out() << "half of the n";
    CHECK(names_in(t.dir).size() == 2);  // the temporary file beside it
    f->reset();                          // destroyed without commit()
  }
  SECTION("the rename fails (a directory has the file's name)") {
    const fs::path taken = t.dir / "taken";
    fs::create_directories(taken / "inside");
    Status s = write_file_atomically(taken, "new");
    CHECK(s.code() == Status::Code::kIoError);
    CHECK_THAT(s.message(), Catch::Matchers::Contains(taken.string()));
    CHECK(fs::is_directory(taken / "inside"));
    fs::remove_all(taken);
  }
  CHECK(read(file) == "old");
  CHECK(names_in(t.dir) == std::set<std::string>{"report.json"});
}

TEST_CASE("a private file is made with O_EXCL: an existing file is an error, not overwritten") {
  ScratchDir t;
  const fs::path file = t.dir / "crm.csv";
  std::ofstream(file) << "someone else's";
  Result<std::unique_ptr<PrivateFile>> f = PrivateFile::create(file);
  CHECK(f.status().code() == Status::Code::kIoError);
  CHECK_THAT(f.status().message(), Catch::Matchers::Contains("File exists"));
  CHECK(read(file) == "someone else's");
  // A symlink is not followed either.
  const fs::path link = t.dir / "link.csv";
  fs::create_symlink(t.dir / "elsewhere.csv", link);
  CHECK_FALSE(PrivateFile::create(link).is_ok());
  CHECK_FALSE(fs::exists(t.dir / "elsewhere.csv"));
}

TEST_CASE("a secret file made twice keeps its first secret") {
  ScratchDir t;
  const fs::path file = t.dir / "webhook.key";
  Result<std::string> first = read_or_create_secret(file, "first-secret");
  REQUIRE(first.is_ok());
  Result<std::string> second = read_or_create_secret(file, "second-secret");
  REQUIRE(second.is_ok());
  CHECK(*first == "first-secret");
  CHECK(*second == "first-secret");
  CHECK(names_in(t.dir) == std::set<std::string>{"webhook.key"});
}

TEST_CASE("processes making a secret at once all end up with the same one") {
  ScratchDir t;
  const fs::path file = t.dir / "serve.token";
  constexpr int kMakers = 8;
  std::vector<std::string> got(kMakers);
  std::vector<std::thread> makers;
  for (int i = 0; i < kMakers; ++i) {
    makers.emplace_back([&, i] {
      Result<std::string> s = read_or_create_secret(file, "secret-" + std::to_string(i));
      got[i] = s.is_ok() ? *s : "error: " + s.status().message();
    });
  }
  for (std::thread& m : makers)
    m.join();
  const std::string stored = read(file);
  for (const std::string& g : got)
    CHECK(g + "\n" == stored);
  CHECK(names_in(t.dir) == std::set<std::string>{"serve.token"});
  CHECK(mode_of(file) == 0600);
}

TEST_CASE("a secret file left wide by an older concord is narrowed; an empty one is an error") {
  ScratchDir t;
  const fs::path file = t.dir / "webhook.key";
  std::ofstream(file) << "old-secret\n";
  REQUIRE(::chmod(file.c_str(), 0644) == 0);
  Result<std::string> s = read_or_create_secret(file, "new-secret");
  REQUIRE(s.is_ok());
  CHECK(*s == "old-secret");
  CHECK(mode_of(file) == 0600);

  std::ofstream(file, std::ios::trunc).flush();
  s = read_or_create_secret(file, "new-secret");
  CHECK(s.status().code() == Status::Code::kIoError);
  CHECK_THAT(s.status().message(), Catch::Matchers::Contains(file.string()));
  CHECK(read(file).empty());  // not replaced behind the user's back
}

TEST_CASE("the store's directory is 0700 whatever the umask, and narrowed when reopened") {
  ScratchDir t;
  const fs::path dir = t.dir / "state" / "store";
  {
    Umask u(0);
    Result<std::unique_ptr<Store>> s = Store::open(dir);
    REQUIRE(s.is_ok());
  }
  CHECK(mode_of(t.dir / "state") == 0700);
  CHECK(mode_of(dir) == 0700);
  REQUIRE(::chmod(dir.c_str(), 0755) == 0);
  {
    Result<std::unique_ptr<Store>> s = Store::open(dir);
    REQUIRE(s.is_ok());
  }
  CHECK(mode_of(dir) == 0700);
}

// Runs the real concord-sandbox binary (CONCORD_SANDBOX_BIN) for a test, and stops it after.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace concord::testing {

class SandboxProcess {
 public:
  // Starts `concord-sandbox --state-dir <fresh dir> [--seed seed] extra…` and waits for its
  // ready line. Throws std::runtime_error when it does not start.
  explicit SandboxProcess(const std::string& seed = "", std::vector<std::string> extra = {}) {
    static int n = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("concord-sandbox-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(dir_);
    const char* bin = std::getenv("CONCORD_SANDBOX_BIN");
    if (bin == nullptr) throw std::runtime_error("CONCORD_SANDBOX_BIN is not set");
    std::vector<std::string> args = {bin, "--state-dir", dir_.string()};
    if (!seed.empty()) {
      args.push_back("--seed");
      args.push_back(seed);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> argv;
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
    char line[4096];
    if (out_ == nullptr || std::fgets(line, sizeof line, out_) == nullptr) {
      stop();
      throw std::runtime_error("concord-sandbox did not print its ready line");
    }
    ready = nlohmann::json::parse(line);
  }
  ~SandboxProcess() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int st = 0;
      waitpid(pid_, &st, 0);
      pid_ = -1;
    }
    if (out_ != nullptr) {
      std::fclose(out_);
      out_ = nullptr;
    }
  }
  std::string mailchimp_url() const { return ready.at("mailchimp_url"); }
  std::string ca_file() const { return ready.value("ca_file", ""); }
  const std::filesystem::path& dir() const { return dir_; }
  pid_t pid() const { return pid_; }

  nlohmann::json ready;

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
};

}  // namespace concord::testing

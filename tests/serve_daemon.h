// A `concord serve` process for tests: started in a Workdir with the sandbox's keys, its port read
// from its first log line, its stderr kept; plain HTTP calls to it.
#pragma once

#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "e2e_harness.h"

namespace concord::testing {

// A `concord serve` process; its stderr is collected by a thread.
class Daemon {
 public:
  Daemon(const Workdir& w, std::vector<std::string> extra_args = {},
         const std::map<std::string, std::string>& extra_env = {}) {
    int err[2];
    REQUIRE(pipe(err) == 0);
    std::vector<std::string> args = {"serve"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<std::string> env;
    for (const auto& [k, v] : extra_env)
      env.push_back(k + "=" + v);
    pid_ = spawn_concord(w.dir(), args, env, err[1]);
    REQUIRE(pid_ >= 0);
    close(err[1]);
    fd_ = err[0];
    reader_ = std::thread([this] {
      char buf[4096];
      ssize_t n;
      while ((n = read(fd_, buf, sizeof buf)) > 0) {
        std::lock_guard<std::mutex> lock(mu_);
        log_.append(buf, static_cast<std::size_t>(n));
      }
    });
    // "concord serve: listening on http://HOST:PORT/ …"
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string l = log();
      const std::size_t at = l.find("listening on http://");
      const std::size_t slash = at == std::string::npos ? at : l.find('/', at + 20);
      if (slash != std::string::npos) {
        port_ = std::atoi(l.c_str() + l.rfind(':', slash) + 1);
        break;
      }
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    INFO(log());
    REQUIRE(port_ > 0);
    // Every listener needs a token: the one the test set, or the one made at first start.
    if (auto t = extra_env.find("CONCORD_TOKEN"); t != extra_env.end()) {
      token_ = t->second;
    } else {
      std::ifstream in(w.state_dir() / "serve.token");
      std::getline(in, token_);
    }
    client_ = std::move(http::Client::create(http::Url::parse(url()).value(), {}).value());
  }
  ~Daemon() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (reader_.joinable()) reader_.join();
    close(fd_);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  const std::string& token() const { return token_; }
  // A request with the token (as a script sends it).
  http::Response call(const std::string& method, const std::string& target,
                      const std::string& body = "", const std::string& type = "application/json") {
    return call_anonymous(method, target, body, type, {{"Authorization", "Bearer " + token_}});
  }
  // A request without the token.
  http::Response call_anonymous(const std::string& method, const std::string& target,
                                const std::string& body = "",
                                const std::string& type = "application/json",
                                std::vector<http::Header> headers = {}) {
    http::Request r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.headers = std::move(headers);
    if (!body.empty() || method == "POST") r.headers.push_back({"Content-Type", type});
    Result<http::Response> resp = client_->send(r);
    if (!resp) throw std::runtime_error(target + ": " + resp.status().to_string());
    return *resp;
  }
  nlohmann::json api(const std::string& method, const std::string& target,
                     const nlohmann::json& body = nullptr) {
    http::Response r =
        call(method, target, body.is_null() ? (method == "POST" ? "{}" : "") : body.dump());
    INFO(r.body);
    REQUIRE(r.status < 300);
    return nlohmann::json::parse(r.body);
  }
  http::Response send(const http::Request& r) {
    Result<http::Response> resp = client_->send(r);
    if (!resp) throw std::runtime_error(r.target + ": " + resp.status().to_string());
    return *resp;
  }
  nlohmann::json api_with_token(const std::string& method, const std::string& target,
                                const std::string& token) {
    http::Request r;
    r.method = method;
    r.target = target;
    r.headers.push_back({"Authorization", "Bearer " + token});
    Result<http::Response> resp = client_->send(r);
    if (!resp) throw std::runtime_error(target + ": " + resp.status().to_string());
    if (resp->status >= 300)
      throw std::runtime_error(target + ": HTTP " + std::to_string(resp->status));
    return nlohmann::json::parse(resp->body);
  }
  // SIGKILL, as a crash or the OOM killer would.
  void kill_hard() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // SIGTERM; the exit status.
  int terminate(int timeout_s = 30) {
    kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  int port_ = 0;
  std::thread reader_;
  mutable std::mutex mu_;
  std::string log_;
  std::string token_;
  std::unique_ptr<http::Client> client_;
};

}  // namespace concord::testing

#include "serve/webdriver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "concord/http.h"

namespace concord::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// The W3C key under which an element reference is returned.
constexpr const char* kElementKey = "element-6066-11e4-a52e-4f735466cecf";

bool executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// A port that was free a moment ago (chromedriver takes it; a lost race is retried).
std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw WebDriverError("socket() failed", "");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw WebDriverError("cannot find a free port", "");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::vector<unsigned char> base64_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<unsigned char> out;
  out.reserve(in.size() * 3 / 4);
  unsigned buffer = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = value(c);
    if (v < 0) {
      if (c == '\n' || c == '\r' || c == ' ') continue;
      throw WebDriverError("screenshot: bad base64", "");
    }
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<unsigned char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

std::string element_id(const json& v) {
  if (!v.is_object() || !v.contains(kElementKey))
    throw WebDriverError("not an element reference: " + v.dump(), "");
  return v.at(kElementKey).get<std::string>();
}

}  // namespace

bool WebDriver::available(std::string* why, const WebDriverOptions& options) {
  for (const std::string* path : {&options.chromium, &options.chromedriver}) {
    if (!executable(*path)) {
      if (why != nullptr)
        *why = *path + " is not installed (apt-get install chromium chromium-driver)";
      return false;
    }
  }
  return true;
}

WebDriver::WebDriver(WebDriverOptions options) : options_(std::move(options)) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "concord-webdriver-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw WebDriverError("mkdtemp failed", "");
  dir_ = tmpl;
  try {
    start_driver();
    json args = json::array(
        {"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--no-default-browser-check", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
         "--window-size=" + std::to_string(options_.width) + "," + std::to_string(options_.height),
         "--user-data-dir=" + (dir_ / "profile").string()});
    json caps = {{"capabilities",
                  {{"alwaysMatch",
                    {{"browserName", "chrome"},
                     {"pageLoadStrategy", "normal"},
                     {"timeouts", {{"implicit", 0}, {"pageLoad", 30000}, {"script", 30000}}},
                     {"goog:chromeOptions", {{"binary", options_.chromium}, {"args", args}}}}}}}};
    json value = command("POST", "/session", &caps);
    session_ = value.at("sessionId").get<std::string>();
  } catch (const std::exception& e) {
    std::string log = driver_log();
    stop_driver();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    throw WebDriverError(std::string("cannot start the browser: ") + e.what() +
                             (log.empty() ? "" : "\nchromedriver log:\n" + log),
                         "");
  }
}

WebDriver::~WebDriver() {
  if (!session_.empty() && client_ != nullptr) {
    try {
      command("DELETE", "/session/" + session_, nullptr);
    } catch (const std::exception&) {
      // The driver is stopped below anyway.
    }
  }
  stop_driver();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void WebDriver::start_driver() {
  const std::string log_path = (dir_ / "chromedriver.log").string();
  for (int attempt = 1;; ++attempt) {
    port_ = free_port();
    std::vector<std::string> args = {options_.chromedriver, "--port=" + std::to_string(port_),
                                     "--allowed-ips=127.0.0.1"};
    pid_ = ::fork();
    if (pid_ < 0) throw WebDriverError("fork failed", "");
    if (pid_ == 0) {
      // Its own process group: the browser it starts is in it too, and is stopped with it.
      ::setpgid(0, 0);
      int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      int null = ::open("/dev/null", O_RDONLY);
      if (log >= 0) {
        ::dup2(log, STDOUT_FILENO);
        ::dup2(log, STDERR_FILENO);
      }
      if (null >= 0) ::dup2(null, STDIN_FILENO);
      std::vector<char*> argv;
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);  // also from here, so that it holds before chromedriver runs

    auto url = http::Url::parse("http://127.0.0.1:" + std::to_string(port_));
    http::ClientOptions copts;
    copts.max_connections = 4;
    copts.connect_timeout = std::chrono::milliseconds(2000);
    copts.request_timeout = std::chrono::milliseconds(90000);
    copts.retry.max_attempts = 1;  // WebDriver commands are not all safe to repeat
    copts.user_agent = "concord-webdriver-test";
    auto client = http::Client::create(url.value(), copts);
    if (!client) throw WebDriverError("http client: " + client.status().to_string(), "");
    client_ = std::move(client.value());

    const auto deadline = Clock::now() + options_.startup_timeout;
    while (true) {
      if (driver_exited()) break;
      http::Request req;
      req.target = "/status";
      auto r = client_->send(req);
      if (r && r->status == 200) {
        try {
          if (json::parse(r->body).at("value").value("ready", false)) return;
        } catch (const std::exception&) {
        }
      }
      if (Clock::now() > deadline) {
        stop_driver();
        throw WebDriverError("chromedriver did not become ready", "");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // Exited early: most likely the port was taken in between. Try another.
    client_.reset();
    if (attempt >= 3) throw WebDriverError("chromedriver exited at start", "");
  }
}

bool WebDriver::driver_exited() {
  if (pid_ <= 0) return true;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    pid_ = -1;
    return true;
  }
  return false;
}

void WebDriver::stop_driver() {
  client_.reset();
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  int st = 0;
  while (::waitpid(pid_, &st, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Anything of the browser's still in the group (the driver has gone).
  ::kill(-pid_, SIGKILL);
  pid_ = -1;
}

std::string WebDriver::driver_log(std::size_t max_bytes) const {
  std::ifstream in(dir_ / "chromedriver.log", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
}

json WebDriver::command(const std::string& method, const std::string& path, const json* body) {
  if (client_ == nullptr) throw WebDriverError(method + " " + path + ": no driver", "");
  http::Request req;
  req.method = method;
  req.target = path;
  if (body != nullptr) {
    req.headers.push_back({"Content-Type", "application/json; charset=utf-8"});
    req.body = body->dump();
  }
  req.idempotent = method == "GET";
  auto r = client_->send(req);
  if (!r) throw WebDriverError(method + " " + path + ": " + r.status().to_string(), "");
  json reply;
  try {
    reply = json::parse(r->body);
  } catch (const std::exception&) {
    throw WebDriverError(method + " " + path + ": HTTP " + std::to_string(r->status) +
                             ", not JSON: " + r->body.substr(0, 300),
                         "");
  }
  json value = reply.is_object() && reply.contains("value") ? reply["value"] : json();
  if (r->status != 200) {
    std::string error = value.is_object() ? value.value("error", "") : "";
    std::string message = value.is_object() ? value.value("message", "") : "";
    throw WebDriverError(method + " " + path + ": " + error + ": " + message.substr(0, 1000),
                         error);
  }
  return value;
}

json WebDriver::session_command(const std::string& method, const std::string& path,
                                const json& body) {
  const std::string full = "/session/" + session_ + path;
  if (method == "GET" || method == "DELETE") return command(method, full, nullptr);
  const json payload = body.is_null() ? json::object() : body;
  return command(method, full, &payload);
}

void WebDriver::navigate(const std::string& url) {
  session_command("POST", "/url", {{"url", url}});
}

std::string WebDriver::current_url() {
  return session_command("GET", "/url").get<std::string>();
}

std::string WebDriver::title() {
  return session_command("GET", "/title").get<std::string>();
}

std::string WebDriver::find(const std::string& css, ms timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    try {
      return element_id(
          session_command("POST", "/element", {{"using", "css selector"}, {"value", css}}));
    } catch (const WebDriverError& e) {
      if (e.error() != "no such element") throw;
      if (Clock::now() > deadline)
        throw WebDriverError(
            "no element matches " + css + " after " + std::to_string(timeout.count()) + " ms",
            e.error());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::vector<std::string> WebDriver::find_all(const std::string& css) {
  std::vector<std::string> out;
  for (const json& e :
       session_command("POST", "/elements", {{"using", "css selector"}, {"value", css}}))
    out.push_back(element_id(e));
  return out;
}

void WebDriver::click(const std::string& element) {
  session_command("POST", "/element/" + element + "/click", json::object());
}

std::string WebDriver::text(const std::string& element) {
  return session_command("GET", "/element/" + element + "/text").get<std::string>();
}

std::optional<std::string> WebDriver::attribute(const std::string& element,
                                                const std::string& name) {
  json v = session_command("GET", "/element/" + element + "/attribute/" + name);
  if (v.is_null()) return std::nullopt;
  return v.is_string() ? v.get<std::string>() : v.dump();
}

json WebDriver::property(const std::string& element, const std::string& name) {
  return session_command("GET", "/element/" + element + "/property/" + name);
}

json WebDriver::element_ref(const std::string& element) {
  return {{kElementKey, element}};
}

json WebDriver::execute_script(const std::string& js, const json& args) {
  return session_command("POST", "/execute/sync", {{"script", js}, {"args", args}});
}

std::string WebDriver::wait_until(const std::string& css,
                                  const std::function<bool(const std::string&)>& predicate,
                                  ms timeout, const std::string& what) {
  const auto deadline = Clock::now() + timeout;
  std::string last = "(no element)";
  while (true) {
    try {
      auto found = find_all(css);
      if (!found.empty()) {
        last = text(found.front());
        if (predicate(last)) return last;
      } else {
        last = "(no element)";
      }
    } catch (const WebDriverError& e) {
      // The element was replaced between finding and reading it: look again.
      if (e.error() != "stale element reference" && e.error() != "no such element") throw;
    }
    if (Clock::now() > deadline)
      throw WebDriverError("timed out after " + std::to_string(timeout.count()) +
                               " ms waiting for " + css + " to show " + what + "; last text: \"" +
                               last + "\"",
                           "timeout");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string WebDriver::wait_for_text(const std::string& css, const std::string& expected,
                                     ms timeout) {
  return wait_until(
      css, [&](const std::string& t) { return t == expected; }, timeout, "\"" + expected + "\"");
}

void WebDriver::wait_for(const std::function<bool()>& condition, ms timeout,
                         const std::string& what) {
  const auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() > deadline)
      throw WebDriverError(
          "timed out after " + std::to_string(timeout.count()) + " ms waiting for " + what,
          "timeout");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void WebDriver::screenshot(const std::filesystem::path& path) {
  json v = session_command("GET", "/screenshot");
  std::vector<unsigned char> png = base64_decode(v.get<std::string>());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
  if (!out) throw WebDriverError("cannot write " + path.string(), "");
}

void WebDriver::set_window_size(int width, int height) {
  session_command("POST", "/window/rect", {{"width", width}, {"height", height}});
}

json WebDriver::cdp(const std::string& command_name, const json& params) {
  return session_command("POST", "/goog/cdp/execute", {{"cmd", command_name}, {"params", params}});
}

}  // namespace concord::testing

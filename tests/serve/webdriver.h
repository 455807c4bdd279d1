// A small W3C WebDriver client for browser tests: starts chromedriver, which starts a headless
// Chromium, and drives it over concord's own HTTP client.
//
//   if (!WebDriver::available(&why)) { skip }
//   WebDriver browser;                       // chromedriver + a fresh Chromium profile
//   browser.navigate("http://127.0.0.1:8080/");
//   browser.click(browser.find("button.run-now"));
//   browser.wait_for_text("tr[data-sync=a] .result", "done");
//
// Failures throw WebDriverError (a std::runtime_error) naming the command, the WebDriver error and
// its message. The destructor ends the session, stops chromedriver (and the browser it started,
// which share its process group) and removes the temporary directory (profile and logs).
//
// Not thread-safe: one WebDriver per thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace concord::http {
class Client;
}

namespace concord::testing {

class WebDriverError : public std::runtime_error {
 public:
  WebDriverError(const std::string& what, std::string error)
      : std::runtime_error(what), error_(std::move(error)) {}
  // The W3C error code ("no such element", "stale element reference", …); "" for failures that
  // are not WebDriver errors (no response, a bad response).
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

struct WebDriverOptions {
  std::string chromium = "/usr/bin/chromium";
  std::string chromedriver = "/usr/bin/chromedriver";
  int width = 1200;
  int height = 800;
  std::chrono::milliseconds startup_timeout{30000};  // chromedriver ready, then the session
};

class WebDriver {
 public:
  using ms = std::chrono::milliseconds;
  static constexpr ms kDefaultWait{10000};

  // Whether the browser and the driver are installed (executable files); when not, `why` says
  // which is missing.
  static bool available(std::string* why = nullptr, const WebDriverOptions& options = {});

  // Starts chromedriver on a free port of 127.0.0.1 and opens a session. Throws WebDriverError.
  explicit WebDriver(WebDriverOptions options = {});
  ~WebDriver();
  WebDriver(const WebDriver&) = delete;
  WebDriver& operator=(const WebDriver&) = delete;

  void navigate(const std::string& url);
  std::string current_url();
  std::string title();

  // The first element matching a CSS selector, waiting (polling) up to `timeout` for one to appear.
  // Returns its WebDriver element id.
  std::string find(const std::string& css, ms timeout = kDefaultWait);
  // Every element matching now (no wait).
  std::vector<std::string> find_all(const std::string& css);

  void click(const std::string& element);
  // The element's rendered text ("" when it is not displayed).
  std::string text(const std::string& element);
  // An HTML attribute (nullopt when absent) and a DOM property (JSON null when absent).
  std::optional<std::string> attribute(const std::string& element, const std::string& name);
  nlohmann::json property(const std::string& element, const std::string& name);

  // The reference to pass an element to execute_script (in `args`).
  static nlohmann::json element_ref(const std::string& element);

  // Runs `js` as a function body in the page (`arguments` are `args`) and returns what it returns.
  nlohmann::json execute_script(const std::string& js,
                                const nlohmann::json& args = nlohmann::json::array());

  // Polls the text of the first element matching `css` until `predicate` holds (an absent element
  // does not match). Returns that text; throws WebDriverError naming `what` and the last text seen
  // on timeout.
  std::string wait_until(const std::string& css,
                         const std::function<bool(const std::string& text)>& predicate,
                         ms timeout = kDefaultWait, const std::string& what = "a match");
  std::string wait_for_text(const std::string& css, const std::string& expected,
                            ms timeout = kDefaultWait);
  // Polls `condition` (which may use this driver) until it is true; throws on timeout.
  void wait_for(const std::function<bool()>& condition, ms timeout = kDefaultWait,
                const std::string& what = "a condition");

  // Writes a PNG of the viewport to `path`.
  void screenshot(const std::filesystem::path& path);
  void set_window_size(int width, int height);
  // A Chrome DevTools Protocol command through chromedriver (e.g. "Emulation.setEmulatedMedia").
  nlohmann::json cdp(const std::string& command, const nlohmann::json& params);

  // The end of chromedriver's log (for diagnostics when something fails).
  std::string driver_log(std::size_t max_bytes = 4000) const;

 private:
  nlohmann::json command(const std::string& method, const std::string& path,
                         const nlohmann::json* body);
  nlohmann::json session_command(const std::string& method, const std::string& path,
                                 const nlohmann::json& body = nullptr);
  void start_driver();
  void stop_driver();
  bool driver_exited();

  WebDriverOptions options_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::unique_ptr<http::Client> client_;
  std::string session_;
};

}  // namespace concord::testing

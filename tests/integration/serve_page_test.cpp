// The status page of a real `concord serve` (against concord-sandbox) in headless Chromium: the
// page loads, a sync is toggled off and on (and the daemon keeps it), "Run now" starts a run whose
// result appears on the page. A screenshot is written to the current directory (the build
// directory under meson). Exits 77 (skipped) when chromium or chromedriver is not installed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <atomic>
#include <iostream>
#include <thread>

#include "e2e_harness.h"
#include "serve/webdriver.h"
#include "serve_daemon.h"

using namespace concord;
using namespace concord::testing;
using nlohmann::json;

namespace {
std::atomic<bool> g_skipped{false};
}

TEST_CASE("the status page of concord serve: toggle, run now, the result appears",
          "[serve][browser]") {
  std::string why;
  if (!WebDriver::available(&why)) {
    std::cout << "SKIP: " << why << "\n";
    g_skipped = true;
    return;
  }
  Sandbox sandbox;
  sandbox.reset(fixture_seed());
  Workdir w(sandbox,
            "schedule = \"every 1d\"\nmax_removal_fraction = 1.0\n"
            "[serve]\nlisten = \"127.0.0.1:0\"\ntoken_env = \"CONCORD_TOKEN\"\n");
  REQUIRE(w.concord({"sync", "--allow-mass-removal"}).code == 0);
  const std::string token = "page-test-token-0123456789";
  Daemon d(w, {}, {{"CONCORD_TOKEN", token}});
  INFO(d.log());
  // The API wants the token.
  CHECK(d.call_anonymous("GET", "/api/syncs").status == 401);

  // The browser logs in through the form once; the session cookie carries it from then on.
  WebDriver browser;
  browser.navigate(d.url() + "/");
  browser.wait_for([&] { return browser.current_url() == d.url() + "/login"; },
                   WebDriver::kDefaultWait, "the redirect to the login form");
  browser.execute_script(
      "document.getElementById('token').value = arguments[0];"
      "document.querySelector('form').submit();",
      json::array({token}));
  browser.wait_for([&] { return browser.current_url() == d.url() + "/"; }, WebDriver::kDefaultWait,
                   "the status page after logging in");
  CHECK(browser.execute_script("return document.cookie;") == "");  // HttpOnly
  const std::string row = "tr[data-sync=\"newsletter\"]";
  browser.wait_for_text(row + " .result", "done");
  const std::string first_id = browser.text(browser.find(row + " .run-id"));
  CHECK(first_id == "#1");

  // Off, and the daemon says so; then on again.
  browser.click(browser.find(row + " input.toggle"));
  browser.wait_for(
      [&] { return d.api_with_token("GET", "/api/syncs", token)["syncs"][0]["enabled"] == false; },
      WebDriver::kDefaultWait, "the sync to be disabled");
  browser.wait_for_text(row + " .state", "disabled");
  browser.click(browser.find(row + " input.toggle"));
  browser.wait_for(
      [&] { return d.api_with_token("GET", "/api/syncs", token)["syncs"][0]["enabled"] == true; },
      WebDriver::kDefaultWait, "the sync to be enabled");

  // Run now: a new run, and its result on the page without a reload.
  browser.click(browser.find(row + " button.run-now"));
  browser.wait_until(
      row + " .run-id", [&](const std::string& t) { return t == "#2"; }, std::chrono::seconds(30),
      "run #2 on the page");
  browser.wait_for_text(row + " .result", "done", std::chrono::seconds(30));
  const json runs = d.api_with_token("GET", "/api/runs?sync=newsletter", token);
  REQUIRE(runs["runs"].size() == 2);
  CHECK(runs["runs"][0]["command"] == "serve");
  CHECK(runs["runs"][0]["result"] == "done");

  const auto shot = std::filesystem::current_path() / "status-page-daemon.png";
  browser.screenshot(shot);
  std::cout << "screenshot: " << shot.string() << "\n";
  CHECK(std::filesystem::file_size(shot) > 1000);

  // The report link opens the run's conflict report.
  browser.navigate(d.url() + "/syncs/newsletter/runs/1/report.html");
  CHECK(browser.title().find("newsletter") != std::string::npos);
  CHECK(d.terminate() == 0);
}

int main(int argc, char** argv) {
  const int failed = Catch::Session().run(argc, argv);
  if (failed == 0 && g_skipped) return 77;
  return failed;
}

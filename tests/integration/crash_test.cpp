// Crash safety, end to end: `concord sync` is killed with SIGKILL at random moments of an initial
// migration and started again until a run finishes by itself. Then both sides must be in the
// state the plan asked for, the next run must have nothing to do, and the sandbox's request log
// must show no membership write sent again after it had succeeded.
#include <catch2/catch.hpp>

#include <random>
#include <thread>

#include "e2e_harness.h"

using namespace concord;
using namespace concord::testing;
using nlohmann::json;

namespace {

// Waits for the process; kills it with SIGKILL after `ms` milliseconds, or as soon as the
// sandbox has answered `writes` write requests after log position `mark` (when writes > 0).
// Returns its exit status, or -1 when it was killed.
int run_until(pid_t pid, Sandbox& sandbox, std::uint64_t mark, int writes, int ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    if (writes > 0) {
      int n = 0;
      for (const json& r : sandbox.requests_since(mark))
        n += Sandbox::is_write(r) ? 1 : 0;
      if (n >= writes) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string form_params(const std::string& body) {
  for (const auto& [k, v] : http::parse_query(body)) {
    if (k == "params") return v;
  }
  return "{}";
}

// One membership write the log shows as done: "mailchimp <email> <status>" for each member of a
// successful batch-subscribe, "crm <contact> <status>" for each record of a successful
// GroupContact.save, "crm-email <email>" for each address of a successful Email.save.
std::vector<std::string> writes_of(const json& r) {
  std::vector<std::string> out;
  if (r.value("status", 0) != 200 || r.value("body_truncated", false)) return out;
  const std::string path = r.value("path", "");
  const std::string body = r.value("body", "");
  if (r.value("part", "") == "mailchimp" && r.value("method", "") == "POST") {
    json b = json::parse(body, nullptr, false);
    if (!b.is_object() || !b.contains("members")) return out;
    for (const json& m : b["members"]) {
      out.push_back("mailchimp " + normalise_email(m.value("email_address", "")) + " " +
                    m.value("status", ""));
    }
  } else if (r.value("part", "") == "civicrm") {
    json p = json::parse(form_params(body), nullptr, false);
    if (!p.is_object() || !p.contains("records")) return out;
    if (path.ends_with("/GroupContact/save")) {
      for (const json& rec : p["records"]) {
        out.push_back("crm " + rec.value("contact_id", json()).dump() + " " +
                      rec.value("status", ""));
      }
    } else if (path.ends_with("/Email/save")) {
      for (const json& rec : p["records"]) {
        out.push_back("crm-email " + normalise_email(rec.value("email", "")));
      }
    }
  }
  return out;
}

// The membership state of both sides: Mailchimp status per email, group status per contact.
std::map<std::string, std::string> memberships(Sandbox& sandbox) {
  SideState state(sandbox.state());
  std::map<std::string, std::string> out;
  for (const json& m : state.list()["members"]) {
    out["mailchimp " + normalise_email(m.value("email_address", ""))] =
        m.value("status", "subscribed");
  }
  for (const json& gc : state.civicrm()["group_contacts"]) {
    if (gc["group_id"] == 42) out["crm " + gc["contact_id"].dump()] = gc.value("status", "Added");
  }
  return out;
}

// How often each membership write the sandbox answered after `mark` succeeded. (A write counts as
// succeeded when the member ended in the written state, `actual`: Mailchimp answers a batch with
// 200 even for members it refused, and those may be sent again.)
std::map<std::string, int> succeeded_writes(Sandbox& sandbox, std::uint64_t mark,
                                            const std::map<std::string, std::string>& actual) {
  std::map<std::string, int> done;
  for (const json& r : sandbox.requests_since(mark)) {
    for (const std::string& w : writes_of(r)) {
      if (w.starts_with("mailchimp ")) {
        const std::size_t sp = w.rfind(' ');
        auto it = actual.find(w.substr(0, sp));
        if (it == actual.end() || it->second != w.substr(sp + 1)) continue;
      }
      ++done[w];
    }
  }
  return done;
}

// A sandbox holding a generated pair of lists (about 1500 members each), slowed down so that a
// run lasts long enough to be killed in its middle.
void prepare(Sandbox& sandbox, const json& seed) {
  sandbox.reset(seed);
  sandbox.faults("mailchimp", {{"latency_ms", 40}});
  sandbox.faults("civicrm", {{"latency_ms", 40}});
}

}  // namespace

TEST_CASE(
    "killed at random moments, concord sync ends in the planned state without repeating a "
    "write") {
  const json seed = generated_seed(1500);

  // The end state the plan leads to: the same migration, not interrupted.
  Sandbox reference;
  prepare(reference, seed);
  Workdir ref_work(reference, "max_removal_fraction = 1.0");
  const std::uint64_t ref_mark = reference.log_mark();
  const auto t0 = std::chrono::steady_clock::now();
  Command ref = ref_work.concord({"sync", "--json"});
  const int run_ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  INFO(ref.text());
  REQUIRE((ref.code == 0 || ref.code == 4));
  REQUIRE(ref.pair_json()["operations"].size() > 100);
  const auto expected = memberships(reference);
  // The runs below send at once what they may: the CRM's write batches up to its budget (4),
  // Mailchimp's batch calls over the account's connections (8), both sides together.
  std::map<std::string, int> most_at_once;
  for (const json& r : reference.requests_since(ref_mark)) {
    int& most = most_at_once[r.value("part", "")];
    most = std::max(most, r.value("in_flight", 0));
  }
  CHECK(most_at_once["civicrm"] >= 2);
  CHECK(most_at_once["civicrm"] <= 4);
  CHECK(most_at_once["mailchimp"] <= 8);

  Sandbox sandbox;
  REQUIRE(sandbox.has_request_log());
  prepare(sandbox, seed);
  Workdir work(sandbox, "max_removal_fraction = 1.0");
  const std::uint64_t mark = sandbox.log_mark();
  // The first runs die at a random moment early in the run (while fetching, planning or
  // journaling: every run gets that far); then half die at a random moment, half right after the
  // sandbox answered one of their writes (so the answer may never have been journaled). Batches
  // go out several at once, so one run may get most of the writes out before its kill.
  std::mt19937 rng(20261123);
  std::uniform_int_distribution<int> early(30, std::max(60, run_ms / 3));
  std::uniform_int_distribution<int> when(30, std::max(60, run_ms * 9 / 10));
  int kills = 0, code = -1;
  for (int attempt = 0; attempt < 60 && code < 0; ++attempt) {
    const std::uint64_t before = sandbox.log_mark();
    // Most runs allow mass removal: no guard can stop a first sync then, and it sends while it
    // plans (engine.cpp's stream()), so that early kills land while both run; the others plan
    // first, then send.
    std::vector<std::string> args = {"sync"};
    if (attempt % 3 != 2) args.push_back("--allow-mass-removal");
    pid_t pid = spawn_concord(work.dir(), args);
    if (attempt >= 40) {
      code = run_until(pid, sandbox, before, 0, 120000);
    } else if (attempt < 6) {
      code = run_until(pid, sandbox, before, 0, early(rng));
    } else if (attempt % 2 == 0) {
      code = run_until(pid, sandbox, before, 1, 120000);
    } else {
      code = run_until(pid, sandbox, before, 0, when(rng));
    }
    if (code < 0) ++kills;
  }
  INFO("killed " << kills << " times; an uninterrupted run took " << run_ms << " ms");
  REQUIRE((code == 0 || code == 4));
  CHECK(kills >= 5);

  // Both sides as the uninterrupted run left them.
  const auto actual = memberships(sandbox);
  CHECK(actual.size() == expected.size());
  for (const auto& [who, status] : expected) {
    INFO(who);
    auto it = actual.find(who);
    REQUIRE(it != actual.end());
    CHECK(it->second == status);
  }

  // No write repeated after it succeeded.
  const std::map<std::string, int> done = succeeded_writes(sandbox, mark, actual);
  CHECK(!done.empty());
  for (const auto& [w, n] : done) {
    INFO(w);
    CHECK(n == 1);
  }

  // Some runs died while applying: their journals were resolved by the runs after them.
  Command st = work.concord({"status", "--json"});
  REQUIRE(st.code == 0);
  int resolved = 0;
  const json status = st.json();
  for (const json& r : status[0]["runs"]) {
    for (const json& n : r["notes"])
      resolved += n.get<std::string>().find("journal resolved") == 0;
  }
  WARN("killed " << kills << " times; " << resolved << " runs' journals resolved by a later run");
  CHECK(resolved >= 2);

  Command again = work.concord({"sync", "--json"});
  REQUIRE((again.code == 0 || again.code == 4));
  const json last = again.pair_json();
  CHECK(last["operations"].empty());
}

// The two windows the journal exists for, hit exactly by fail points (src/core/fail_point.h;
// scripts/test builds with them): killed after a side answered a batch but before its outcomes
// were journaled, and after a batch was journaled but before it was sent. The next run verifies
// what the dead one left against both sides, sends nothing twice and drops nothing. Also killed
// after a first sync's single pass journaled its plan and wrote bases, before it applied: the
// next run removes both and migrates from an empty base. And killed around a send of a first sync
// that no guard can stop (it sends while its pass still journals).
TEST_CASE("killed at a fail point around a send, the next run repeats nothing and drops nothing") {
  const json seed = generated_seed(400);
  Sandbox reference;
  reference.reset(seed);
  Workdir ref_work(reference, "max_removal_fraction = 1.0");
  Command ref = ref_work.concord({"sync", "--json"});
  INFO(ref.text());
  REQUIRE((ref.code == 0 || ref.code == 4));
  const auto expected = memberships(reference);

  struct Point {
    std::string name;
    int hit;
    bool streams = false;  // --allow-mass-removal: the first sync sends while it plans
  };
  for (const Point& p : {Point{"after-send", 1}, Point{"after-send", 2}, Point{"before-send", 1},
                         Point{"before-send", 2}, Point{"single-pass", 1},
                         Point{"after-send", 1, true}, Point{"before-send", 2, true}}) {
    DYNAMIC_SECTION(p.name << " " << p.hit << (p.streams ? " streamed" : "")) {
      Sandbox sandbox;
      REQUIRE(sandbox.has_request_log());
      sandbox.reset(seed);
      Workdir work(sandbox, "max_removal_fraction = 1.0");
      const std::uint64_t mark = sandbox.log_mark();
      std::vector<std::string> args = {"sync"};
      if (p.streams) args.push_back("--allow-mass-removal");
      Command killed =
          work.concord(args, {{"CONCORD_FAIL_POINT", p.name + ":" + std::to_string(p.hit)}});
      INFO(killed.text());
      REQUIRE(killed.code == 128 + SIGKILL);
      Command next = work.concord({"sync", "--json"});
      INFO(next.text());
      REQUIRE((next.code == 0 || next.code == 4));

      const auto actual = memberships(sandbox);
      CHECK(actual == expected);
      const std::map<std::string, int> done = succeeded_writes(sandbox, mark, actual);
      CHECK_FALSE(done.empty());
      for (const auto& [w, n] : done) {
        INFO(w);
        CHECK(n == 1);
      }
      // The next run resolved what the dead one journaled; or, killed after the first sync's
      // single pass (nothing sent), removed it and planned afresh.
      const std::string note =
          p.name == "single-pass" ? "run 1 ended before it applied anything" : "journal resolved";
      const json status = work.concord({"status", "--json"}).json();
      bool resolved = false;
      for (const json& r : status[0]["runs"]) {
        for (const json& n : r["notes"])
          resolved |= n.get<std::string>().find(note) == 0;
      }
      CHECK(resolved);
      // No run is left saying it is running.
      for (const json& r : status[0]["runs"])
        CHECK(r["result"] != "running");
      CHECK(work.concord({"sync", "--json"}).pair_json()["operations"].empty());
    }
  }
}

// fetch: a 1M-member audience in concord-sandbox (over TLS) fetched into the store, then an
// incremental fetch after 100 changes.
//
// Prints fetch_members_per_s, pages, requests, peak_rss_mb (this process: the client and the
// store, not the sandbox), then incremental_pages (goal ≤ 3) and incremental_s.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "bench_util.h"
#include "concord/mailchimp_client.h"
#include "concord/snapshot.h"
#include "sandbox_process.h"

using namespace concord;
using namespace concord::bench;

namespace {

constexpr const char* kKey = "0123456789abcdef0123456789abcdef-us6";

// The seed is streamed to a file so that this process never holds it. Members changed at
// distinct times over the past year, 30 s apart, as a real audience's changes spread out.
void write_seed(const std::string& path, std::uint64_t n) {
  const Micros first = parse_iso8601("2025-03-01T00:00:00+00:00").value();
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) die("cannot write " + path);
  std::fprintf(f,
               "{\"mailchimp\":{\"api_key\":\"%s\",\"lists\":[{\"id\":\"bench00001\",\"name\":"
               "\"Bench\",\"merge_fields\":[{\"tag\":\"FNAME\",\"type\":\"text\"},{\"tag\":"
               "\"LNAME\",\"type\":\"text\"}],\"members\":[",
               kKey);
  for (std::uint64_t i = 0; i < n; ++i) {
    std::fprintf(f,
                 "%s{\"email_address\":\"person.%llu@bedrock.org\",\"status\":\"%s\","
                 "\"unsubscribe_origin\":\"admin\",\"timestamp_opt\":\"2025-06-01T00:00:00+00:00\","
                 "\"last_changed\":\"%s\",\"merge_fields\":{\"FNAME\":"
                 "\"Person\",\"LNAME\":\"Number %llu\"}}",
                 i ? "," : "", static_cast<unsigned long long>(i),
                 i % 13 == 0 ? "unsubscribed" : "subscribed",
                 format_iso8601(first + static_cast<Micros>(i) * 30 * kMicrosPerSecond).c_str(),
                 static_cast<unsigned long long>(i));
  }
  std::fprintf(f, "]}]},\"clock\":\"2026-03-01T00:00:00+00:00\"}\n");
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse_args(argc, argv, 1'000'000);
  std::filesystem::create_directories(args.dir);
  const std::string seed = args.dir + "/seed.json";
  write_seed(seed, args.members);
  testing::SandboxProcess sandbox(seed);
  std::filesystem::remove(seed);

  std::unique_ptr<Store> store = fresh_store(args.dir + "/store");
  const PairHandle& pair = *store->pair("bench").value();
  MailchimpOptions o;
  o.api_key = kKey;
  o.base_url = sandbox.mailchimp_url();
  o.http.ca_file = sandbox.ca_file();
  auto client = MailchimpClient::create(o);
  if (!client) die(client.status().to_string());

  Timer t;
  auto stats = fetch_mailchimp(**client, "bench00001", true, *store, pair);
  double s = t.seconds();
  if (!stats) die(stats.status().to_string());
  print("members", stats->written);
  print("fetch_s", s);
  print("fetch_members_per_s", static_cast<double>(args.members) / s, 0);
  print("pages", stats->pages);
  print("requests", (*client)->requests());

  // 100 people unsubscribe an hour later.
  http::Url url = http::Url::parse(sandbox.mailchimp_url()).value();
  http::ClientOptions ho;
  ho.ca_file = sandbox.ca_file();
  auto admin = http::Client::create(url, ho).value();
  auto post = [&](const std::string& target, const nlohmann::json& body) {
    http::Request r;
    r.method = "POST";
    r.target = target;
    r.body = body.dump();
    r.headers.push_back({"Content-Type", "application/json"});
    auto resp = admin->send(r);
    if (!resp || resp->status >= 300) die("sandbox admin call " + target + " failed");
  };
  post("/_sandbox/clock", {{"advance_seconds", 3600}});
  for (int i = 0; i < 100; ++i) {
    post("/_sandbox/mailchimp/members",
         {{"email_address", "person." + std::to_string(i * 7919 + 1) + "@bedrock.org"},
          {"action", "unsubscribe"}});
  }
  std::uint64_t before = (*client)->requests();
  Timer ti;
  auto inc = fetch_mailchimp(**client, "bench00001", false, *store, pair);
  double si = ti.seconds();
  if (!inc) die(inc.status().to_string());
  print("incremental_members", inc->members);
  print("incremental_pages", inc->pages);
  print("incremental_requests", (*client)->requests() - before);
  print("incremental_s", si, 4);
  print("peak_rss_mb", peak_rss_mb(), 1);
  return 0;
}

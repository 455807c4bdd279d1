// scripts/bench url: the URL and query-string parsers of concord/http.h, in a tight loop.
//
// parse_query runs over a Mailchimp webhook body as the daemon receives one on every delivery
// (application/x-www-form-urlencoded, 15 fields, brackets percent-encoded, '+' for spaces);
// Url::parse over the API base URLs a configuration names (parsed once per client, and for every
// webhook URL the sandbox validates).
//
// Each measurement is the best of five rounds of about 0.2 s, so that another process on the
// machine slows one round rather than the result.
//
// Prints (name: value): query_body_bytes, query_fields, query_parses_per_s, query_mb_per_s and
// url_parses_per_s.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "bench_util.h"
#include "concord/http.h"

using namespace concord;
using namespace concord::bench;

namespace {

// A subscribe delivery, as Mailchimp sends it (field order and encoding as in its webhooks).
constexpr std::string_view kWebhookBody =
    "type=subscribe&fired_at=2025-03-26+21%3A35%3A57"
    "&data%5Bid%5D=8a25ff1d98&data%5Blist_id%5D=a6b5da1054"
    "&data%5Bemail%5D=wilma.flintstone%40example.org&data%5Bemail_type%5D=html"
    "&data%5Bweb_id%5D=312857461"
    "&data%5Bmerges%5D%5BEMAIL%5D=wilma.flintstone%40example.org"
    "&data%5Bmerges%5D%5BFNAME%5D=Wilma&data%5Bmerges%5D%5BLNAME%5D=Flintstone"
    "&data%5Bmerges%5D%5BPHONE%5D=%2B1+555+0100"
    "&data%5Bmerges%5D%5BINTERESTS%5D=News%2C+Events"
    "&data%5Bmerges%5D%5BADDRESS%5D%5Bcity%5D=Bedrock"
    "&data%5Bip_opt%5D=10.20.10.30&data%5Bip_signup%5D=10.20.10.30";

// Base URLs of the kinds a configuration holds.
constexpr std::string_view kUrls[] = {
    "https://us6.api.mailchimp.com/3.0",    "https://crm.example.org/civicrm/ajax/api4",
    "https://example.eu.auth0.com",         "https://api2.amplitude.com",
    "https://mautic.example.org:8443/api/", "http://127.0.0.1:8080",
    "https://[::1]:9443/civicrm/ajax/api4", "https://data.mixpanel.com/api/2.0",
};

// Calls `step` (which returns a number to keep the work from being optimised away) in rounds;
// returns the best rate in calls per second.
template <typename Step>
double best_rate(Step step) {
  std::uint64_t sink = 0;
  std::uint64_t per_round = 1;
  // Grow the round until it takes about 0.2 s.
  for (;;) {
    Timer t;
    for (std::uint64_t i = 0; i < per_round; ++i)
      sink += step();
    if (t.seconds() >= 0.2) break;
    per_round *= 2;
  }
  double best = 0;
  for (int round = 0; round < 5; ++round) {
    Timer t;
    for (std::uint64_t i = 0; i < per_round; ++i)
      sink += step();
    best = std::max(best, static_cast<double>(per_round) / t.seconds());
  }
  if (sink == 0) die("nothing was parsed");
  return best;
}

}  // namespace

int main() {
  const auto fields = http::parse_query(kWebhookBody);
  if (fields.size() != 15 || fields[7].first != "data[merges][EMAIL]" ||
      fields[10].second != "+1 555 0100") {
    die("parse_query does not read the webhook body as expected");
  }
  for (std::string_view u : kUrls) {
    if (!http::Url::parse(u)) die("Url::parse refuses " + std::string(u));
  }

  print("query_body_bytes", static_cast<std::uint64_t>(kWebhookBody.size()));
  print("query_fields", static_cast<std::uint64_t>(fields.size()));
  const double queries = best_rate([] { return http::parse_query(kWebhookBody).size(); });
  print("query_parses_per_s", queries, 0);
  print("query_mb_per_s", queries * static_cast<double>(kWebhookBody.size()) / 1e6, 1);

  std::size_t next = 0;
  const double urls = best_rate([&next] {
    const std::string_view u = kUrls[next++ % std::size(kUrls)];
    return http::Url::parse(u)->host.size();
  });
  print("url_parses_per_s", urls, 0);
  return 0;
}

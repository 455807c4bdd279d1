// ingest: Mailchimp member pages of 1000 members, as the Marketing API returns them for
// kMemberFields, parsed into records (the Mailchimp side) and written into the Mailchimp snapshot
// family by the snapshot stage (random key order, as subscriber hashes are). The page bodies are
// generated outside the timed part.
//
// Prints ingest_members_per_s (goal ≥ 150000; a first fetch into an empty snapshot),
// refetch_members_per_s (the next full fetch, reading each stored record), page_bytes and
// peak_rss_mb.
#include <filesystem>
#include <string>

#include "bench_util.h"
#include "concord/snapshot.h"
#include "concord/store.h"
#include "sides/mailchimp/members_page.h"

using namespace concord;
using namespace concord::bench;

namespace {

// One page exactly as GET /lists/{id}/members?fields=<kMemberFields>&count=1000 returns it:
// members in the API's field order, every merge field of the list present ("" when empty),
// unset times as "", unsubscribe_reason only on unsubscribed members.
std::string make_page(std::uint64_t first, std::uint64_t count, std::uint64_t total) {
  static const char* kFirst[] = {"Wilma", "Fred", "Barney", "Betty", "Pebbles", "Bamm-Bamm"};
  static const char* kLast[] = {"Flintstone", "Rubble", "Slate", "Gazoo"};
  std::string s;
  s.reserve(count * 330 + 64);
  s += "{\"members\":[";
  for (std::uint64_t i = first; i < first + count; ++i) {
    if (i != first) s += ',';
    const bool unsub = i % 17 == 0;
    const bool pending = i % 23 == 0;
    char when[32];
    std::snprintf(
        when, sizeof when, "20%02llu-%02llu-%02lluT%02llu:%02llu:%02llu+00:00",
        static_cast<unsigned long long>(15 + i % 11), static_cast<unsigned long long>(1 + i % 12),
        static_cast<unsigned long long>(1 + i % 28), static_cast<unsigned long long>(i % 24),
        static_cast<unsigned long long>(i % 60), static_cast<unsigned long long>((i * 7) % 60));
    s += "{\"email_address\":\"person.";
    s += std::to_string(i);
    s += i % 3 == 0 ? "@example.org\"" : "@mail.example.com\"";
    s += ",\"status\":\"";
    s += unsub ? "unsubscribed" : pending ? "pending" : "subscribed";
    s += '"';
    if (unsub) s += ",\"unsubscribe_reason\":\"N/A (Unsubscribed by admin)\"";
    s += ",\"merge_fields\":{\"FNAME\":\"";
    s += kFirst[i % 6];
    s += "\",\"LNAME\":\"";
    s += kLast[i % 4];
    s += "\",\"ADDRESS\":";
    s += i % 5 == 0 ? "{\"addr1\":\"1 Rock Road\",\"addr2\":\"\",\"city\":\"Bedrock\",\"state\":"
                      "\"\",\"zip\":\"12345\",\"country\":\"US\"}"
                    : "\"\"";
    s += ",\"PHONE\":\"";
    if (i % 4 == 0) s += "+1 555 0100";
    s += "\",\"BIRTHDAY\":\"\"}";
    s += ",\"timestamp_opt\":\"";
    if (!pending) s += when;
    s += "\",\"last_changed\":\"";
    s += when;
    s += "\"}";
  }
  s += "],\"total_items\":";
  s += std::to_string(total);
  s += '}';
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse_args(argc, argv, 1'000'000);
  std::unique_ptr<Store> store = fresh_store(args.dir);
  const PairHandle& pair = *store->pair("bench").value();

  // Pass 1: a first full fetch into an empty snapshot. Pass 2: the next full fetch of the same
  // audience, where every member's stored record is read for its status_changed_at.
  std::uint64_t written = 0;
  for (int pass = 1; pass <= 2; ++pass) {
    MailchimpIngest ingest(*store, pair, SnapshotWriter::Mode::kFull);
    const std::uint64_t page_size = 1000;
    double timed = 0;
    std::uint64_t bytes = 0, pages = 0;
    written = 0;
    for (std::uint64_t first = 0; first < args.members; first += page_size) {
      std::uint64_t count = std::min(page_size, args.members - first);
      std::string body = make_page(first, count, args.members);  // not timed
      bytes += body.size();
      ++pages;
      Timer t;
      auto r = parse_members_page(body, ingest);
      timed += t.seconds();
      if (!r) die(r.status().to_string());
    }
    written = ingest.counts().written;
    Timer t;
    if (Status s = ingest.writer().finish(); !s) die(s.to_string());
    timed += t.seconds();
    if (pass == 1) {
      print("members", written);
      print("page_bytes", bytes / pages);
      print("ingest_s", timed);
      print("ingest_members_per_s", static_cast<double>(written) / timed, 0);
    } else {
      print("refetch_s", timed);
      print("refetch_members_per_s", static_cast<double>(written) / timed, 0);
    }
  }
  print("peak_rss_mb", peak_rss_mb(), 1);
  return written == args.members ? 0 : 1;
}

// diff_1m: the diff engine against a bare three-iterator merge-join over the same column
// families, in the same run. 1M × 1M members with a 1M base, about 10% differing.
//
// Prints engine_diff_s, bare_join_s, diff_ratio (goal ≤ 1.5), operations, report_rows and
// peak_rss_mb (goal < 300).
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <vector>

#include "bench_util.h"
#include "concord/diff.h"
#include "concord/email.h"
#include "concord/record.h"
#include "concord/store.h"

using namespace concord;
using namespace concord::bench;

namespace {

constexpr Micros kDay = 86400 * kMicrosPerSecond;
constexpr Micros kT0 = 1'767'225'600 * kMicrosPerSecond;  // 2026-01-01

std::string email_of(std::uint32_t i) {
  return "member" + std::to_string(i) + "@example.org";
}

// Writes the three families in key order, in batches, the way a full fetch and a base do.
void build(Store& store, const PairHandle& pair, std::uint32_t n) {
  std::vector<std::pair<MemberKey, std::uint32_t>> order(n);
  for (std::uint32_t i = 0; i < n; ++i)
    order[i] = {member_key(email_of(i)), i};
  std::sort(order.begin(), order.end());

  Batch batch;
  std::string value, body;
  for (const auto& [key, i] : order) {
    const std::string email = email_of(i);
    const Micros t = kT0 + static_cast<Micros>(i % 300) * kDay / 10;
    MailchimpState mc{MailchimpStatus::kSubscribed, UnsubscribeOrigin::kUnknown, t};
    CrmState crm{CrmStatus::kAdded, t + kDay, true};
    BaseRecord base{Membership::kIn, t, t + kDay, 0, 0};
    bool in_mc = true, in_crm = true;
    // About 10% differ from the base, in the ways real runs see.
    switch (i % 100) {
      case 0:
      case 1:
      case 2:  // unsubscribed in Mailchimp since: remove from the CRM group
        mc = {MailchimpStatus::kUnsubscribed, UnsubscribeOrigin::kSelf, t + 5 * kDay};
        break;
      case 3:
      case 4:
      case 5:  // removed in the CRM since: unsubscribe in Mailchimp
        crm = {CrmStatus::kRemoved, t + 5 * kDay, true};
        break;
      case 6:
      case 7:  // new in Mailchimp: add to the CRM
        in_crm = false;
        break;
      case 8:  // new in the CRM: add to Mailchimp
        in_mc = false;
        break;
      case 9:  // a name edit: hash differs, no membership change
        base.mailchimp_hash = 1;
        break;
    }
    body = "{\"merge_fields\":{\"FNAME\":\"Member\",\"LNAME\":\"Number" + std::to_string(i) +
           "\",\"ADDRESS\":\"\",\"PHONE\":\"\",\"BIRTHDAY\":\"\"},\"last_changed\":\"" +
           format_iso8601(t) + "\",\"timestamp_opt\":\"" + format_iso8601(t) + "\"}";
    const std::uint64_t mc_hash = content_hash(body, content_hash(email));
    if (base.mailchimp_hash == 0) base.mailchimp_hash = mc_hash;
    if (in_mc) {
      encode_snapshot(mailchimp_header(mc, mc_hash), email, body, &value);
      batch.put(pair, Family::kMailchimp, key.view(), value);
    }
    body = "{\"contact_id\":" + std::to_string(100000 + i) +
           ",\"first_name\":\"Member\",\"last_name\":\"Number" + std::to_string(i) + "\"}";
    const std::uint64_t crm_hash = content_hash(body, content_hash(email));
    base.crm_hash = crm_hash;
    if (in_crm) {
      encode_snapshot(crm_header(crm, crm_hash), email, body, &value);
      batch.put(pair, Family::kCrm, key.view(), value);
    }
    if (i % 100 != 6 && i % 100 != 8) {  // new members have no base
      encode_base(base, &value);
      batch.put(pair, Family::kBase, key.view(), value);
    }
    if (batch.count() >= 30000) {
      if (Status s = store.write(batch); !s) die(s.to_string());
      batch.clear();
    }
  }
  if (Status s = store.write(batch); !s) die(s.to_string());
  if (Status s = store.flush(); !s) die(s.to_string());
  for (Family f : {Family::kMailchimp, Family::kCrm, Family::kBase}) {
    if (Status s = store.compact(pair, f); !s) die(s.to_string());
  }
}

// The floor: a merge-join of the three families that touches every key and value and does
// nothing else.
std::uint64_t bare_join(Store& store, const PairHandle& pair) {
  Cursor a = store.scan(pair, Family::kMailchimp);
  Cursor b = store.scan(pair, Family::kCrm);
  Cursor c = store.scan(pair, Family::kBase);
  a.seek_to_first();
  b.seek_to_first();
  c.seek_to_first();
  std::uint64_t touched = 0;
  while (a.valid() || b.valid() || c.valid()) {
    std::string_view key;
    for (Cursor* cur : {&a, &b, &c}) {
      if (cur->valid() && (key.empty() || cur->key().compare(key) < 0)) key = cur->key();
    }
    // The key must outlive the cursor it came from moving on: copy its 16 bytes.
    char buf[16];
    std::memcpy(buf, key.data(), std::min<std::size_t>(key.size(), 16));
    std::string_view k(buf, std::min<std::size_t>(key.size(), 16));
    for (Cursor* cur : {&a, &b, &c}) {
      if (cur->valid() && cur->key() == k) {
        touched += static_cast<unsigned char>(cur->value()[0]) + cur->value().size();
        cur->next();
      }
    }
  }
  return touched;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse_args(argc, argv, 1'000'000);
  std::unique_ptr<Store> store = fresh_store(args.dir);
  const PairHandle& pair = *store->pair("bench").value();

  Timer build_timer;
  build(*store, pair, static_cast<std::uint32_t>(args.members));
  print("members", args.members);
  print("build_s", build_timer.seconds());

  double best_bare = 1e9, best_engine = 1e9;
  std::uint64_t ops = 0, reports = 0, sink = 0;
  for (int round = 0; round < 3; ++round) {
    Timer tb;
    sink += bare_join(*store, pair);
    best_bare = std::min(best_bare, tb.seconds());

    Timer te;
    Result<Plan> plan = make_plan(*store, pair, SyncOptions{});
    double e = te.seconds();
    if (!plan) die(plan.status().to_string());
    best_engine = std::min(best_engine, e);
    ops = plan->operations.size();
    reports = plan->reports.size();
  }
  print("operations", ops);
  print("report_rows", reports);
  print("engine_diff_s", best_engine);
  print("bare_join_s", best_bare);
  print("diff_ratio", best_engine / best_bare);
  print("peak_rss_mb", peak_rss_mb(), 1);
  return sink == 0 ? 1 : 0;
}

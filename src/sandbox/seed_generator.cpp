#include "sandbox/seed_generator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <set>
#include <utility>
#include <vector>

#include "concord/email.h"
#include "concord/time.h"
#include "sandbox/civicrm/seed.h"
#include "sandbox/json_writer.h"
#include "sandbox/mailchimp/seed.h"

namespace concord::sandbox {

namespace {

// ---- randomness that does not depend on the standard library's distributions ------------------

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull) {}
  std::uint64_t next() {  // SplitMix64
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n). REQUIRES: n > 0.
  std::uint64_t below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  // Uniform in [lo, hi] (whole seconds), hi >= lo.
  Micros time(Micros lo, Micros hi) {
    std::int64_t secs = (hi - lo) / kMicrosPerSecond;
    return lo + static_cast<Micros>(below(static_cast<std::uint64_t>(secs) + 1)) * kMicrosPerSecond;
  }
  bool chance(int percent) { return below(100) < static_cast<std::uint64_t>(percent); }
  template <typename T, std::size_t N>
  const T& pick(const std::array<T, N>& v) {
    return v[below(N)];
  }
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i)
      std::swap(v[i - 1], v[below(i)]);
  }

 private:
  std::uint64_t s_;
};

// A share of a population: `weight` parts of the total, at least `min` when the population allows.
struct Share {
  int kind;
  double weight;
  std::size_t min = 0;
};

// Deals kinds to n items in exact proportions (the first share takes the rounding, and gives way
// to the minimums of the others), in random order.
std::vector<int> deal(Rng& rng, std::size_t n, std::initializer_list<Share> shares) {
  double total = 0;
  for (const Share& s : shares)
    total += s.weight;
  std::vector<std::size_t> counts;
  std::size_t sum = 0;
  for (const Share& s : shares) {
    auto c = static_cast<std::size_t>(std::floor(s.weight / total * static_cast<double>(n)));
    if (&s != shares.begin()) c = std::max(c, s.min);
    counts.push_back(c);
    sum += c;
  }
  if (sum <= n) {
    counts[0] += n - sum;
  } else {  // minimums beyond a small population: take from the first, then the largest others
    std::size_t excess = sum - n;
    std::size_t take = std::min(excess, counts[0]);
    counts[0] -= take;
    excess -= take;
    while (excess > 0) {
      auto big = std::max_element(counts.begin(), counts.end());
      --*big;
      --excess;
    }
  }
  std::vector<int> out;
  out.reserve(n);
  std::size_t i = 0;
  for (const Share& s : shares) {
    out.insert(out.end(), counts[i++], s.kind);
  }
  rng.shuffle(out);
  return out;
}

// ---- names and addresses ------------------------------------------------------------------------

struct Name {
  const char* shown;  // UTF-8
  const char* slug;   // for email addresses
};

constexpr std::array<Name, 48> kFirstNames = {{
    {"Ada", "ada"},
    {"Ben", "ben"},
    {"Chloe", "chloe"},
    {"Dev", "dev"},
    {"Emma", "emma"},
    {"Farid", "farid"},
    {"Grace", "grace"},
    {"Hamish", "hamish"},
    {"Isla", "isla"},
    {"Jack", "jack"},
    {"Kemi", "kemi"},
    {"Liam", "liam"},
    {"Maya", "maya"},
    {"Noah", "noah"},
    {"Olivia", "olivia"},
    {"Priya", "priya"},
    {"Quentin", "quentin"},
    {"Rosa", "rosa"},
    {"Sam", "sam"},
    {"Tom", "tom"},
    {"Uma", "uma"},
    {"Victor", "victor"},
    {"Wendy", "wendy"},
    {"Xavier", "xavier"},
    {"Yasmin", "yasmin"},
    {"Zoë", "zoe"},
    {"José", "jose"},
    {"Siân", "sian"},
    {"Łukasz", "lukasz"},
    {"Aoife", "aoife"},
    {"Bronwen", "bronwen"},
    {"Callum", "callum"},
    {"Daniela", "daniela"},
    {"Eilidh", "eilidh"},
    {"Femi", "femi"},
    {"Gareth", "gareth"},
    {"Hannah", "hannah"},
    {"Imran", "imran"},
    {"Joan", "joan"},
    {"Kofi", "kofi"},
    {"Leah", "leah"},
    {"Mohammed", "mohammed"},
    {"Niamh", "niamh"},
    {"Oscar", "oscar"},
    {"Petra", "petra"},
    {"Ruth", "ruth"},
    {"Stanisław", "stanislaw"},
    {"Tariq", "tariq"},
}};

constexpr std::array<Name, 40> kLastNames = {{
    {"Cobble", "cobble"},     {"Granite", "granite"},   {"Boulder", "boulder"},
    {"Shale", "shale"},       {"Marble", "marble"},     {"Quartz", "quartz"},
    {"Basalt", "basalt"},     {"Gravel", "gravel"},     {"Stone", "stone"},
    {"Smith", "smith"},       {"Jones", "jones"},       {"Taylor", "taylor"},
    {"Brown", "brown"},       {"Williams", "williams"}, {"Wilson", "wilson"},
    {"Evans", "evans"},       {"Thomas", "thomas"},     {"Roberts", "roberts"},
    {"Patel", "patel"},       {"Khan", "khan"},         {"O'Brien", "obrien"},
    {"MacLeod", "macleod"},   {"Nowak", "nowak"},       {"García", "garcia"},
    {"Okafor", "okafor"},     {"Mensah", "mensah"},     {"Murphy", "murphy"},
    {"Kelly", "kelly"},       {"Davies", "davies"},     {"Hughes", "hughes"},
    {"Lewis", "lewis"},       {"Walker", "walker"},     {"Young", "young"},
    {"Ahmed", "ahmed"},       {"Singh", "singh"},       {"Müller", "muller"},
    {"Rossi", "rossi"},       {"Dubois", "dubois"},     {"Nguyen", "nguyen"},
    {"Ferreira", "ferreira"},
}};

constexpr std::array<const char*, 8> kDomains = {
    "granitemail.net", "rockpost.org",  "cobblestone.net", "slatebox.org",
    "pumicemail.net",  "shalewire.org", "basaltmail.net",  "quarrynews.org"};
constexpr std::array<const char*, 3> kWorkDomains = {"slaterockandgravel.com", "bedrockquarry.net",
                                                     "stonecutters.org"};
constexpr std::array<const char*, 6> kOwnReasons = {"No longer interested",
                                                    "Too many emails",
                                                    "I never signed up for this list",
                                                    "The emails are inappropriate",
                                                    "The emails are spam and should be reported",
                                                    "Other: moved away"};
constexpr std::array<const char*, 5> kMethods = {"Admin", "Web", "Form", "API", "Email"};
constexpr std::array<const char*, 4> kTags = {"volunteer", "donor", "member", "event-2025"};

// ---- the people ---------------------------------------------------------------------------------

enum McStatus : int {
  kSubscribed,
  kPending,
  kUnsubUser,
  kUnsubAdmin,
  kUnsubApi,
  kCleaned,
  kArchived,
  kTransactional,
};

enum CrmHistory : int {
  // IN: the latest row is Added.
  kAdded,
  kReadded,       // Added, Removed, Added
  kPendingAdded,  // Pending, Added (confirmed)
  kChurned,       // Added, Removed, Added, Removed, Added
  // OUT.
  kRemoved,         // Added, Removed
  kPendingOnly,     // Pending (never confirmed)
  kDeletedRow,      // Added, Deleted: no membership row left
  kTrashed,         // Added, and the contact is in the trash
  kRemovedTwice,    // Added, Removed, Added, Removed
  kNoHistory = -1,  // a contact in no group
};

enum Condition : int { kPlain, kDoNotEmail, kOptOut, kHoldBounce, kHoldOptOut };
enum Emails : int { kNoEmail = -1, kOneEmail, kWorkPrimaryBulk, kOldSecond };
enum Spelling : int { kSame, kMcCapitals, kCrmCapitals, kCrmSpaces };
enum Validity : int { kValid, kInvalid, kFake, kForgotten };

struct Person {
  int first = 0, last = 0;
  std::string email;  // as Mailchimp holds it (and the base of the CRM's spelling)
  bool in_mc = false;
  bool has_contact = false;
  int mc = kSubscribed;
  int history = kNoHistory;
  int condition = kPlain;
  int emails = kOneEmail;
  int spelling = kSame;
  int validity = kValid;
  bool volunteer = false;        // also in the base's second group
  bool duplicate = false;        // another contact shares the address
  Micros forced_last = kNoTime;  // the latest history row's time, when chosen (DST)
};

constexpr Micros kDay = 86400 * kMicrosPerSecond;

Micros utc(const char* iso) {
  return parse_iso8601(iso).value();
}

// ---- the generator ------------------------------------------------------------------------------

struct HistoryRow {
  Micros at;         // UTC: the order of the rows (and so of their ids)
  std::string text;  // the row's JSON
};

// A contact to write: a person's, or the second contact of a duplicated address.
struct ContactPlan {
  Person* person = nullptr;
  bool second = false;
  Micros created = 0;
};

class Generator {
 public:
  Generator(const SeedOptions& o, std::shared_ptr<const TimeZone> tz)
      : o_(o), tz_(std::move(tz)), rng_(o.random_seed) {}

  // Read from the base before generating.
  std::set<std::string> taken;  // normalised addresses the base uses
  std::int64_t group = 42, second_group = 0, first_contact_id = 1001;
  bool fname = true, lname = true, phone = true, address_field = true;
  bool with_memberships = false;

  // The output, as JSON lines.
  std::vector<std::string> members, forgotten, contacts, memberships;
  std::vector<HistoryRow> rows;

  void generate() {
    make_people();
    for (const Person& p : people_) {
      if (p.in_mc) members.push_back(member_line(p));
      if (p.validity == kForgotten) forgotten.push_back(p.email);
    }
    std::vector<ContactPlan> plans;
    for (Person& p : people_) {
      if (!p.has_contact) continue;
      ContactPlan c{&p, false, rng_.time(utc("2024-01-01T00:00:00Z"), kEnd - 30 * kDay)};
      if (p.forced_last != kNoTime) c.created = std::min(c.created, p.forced_last - 30 * kDay);
      plans.push_back(c);
      if (p.duplicate) plans.push_back({&p, true, rng_.time(c.created + kDay, kEnd - 7 * kDay)});
    }
    // Contact ids follow their creation, as the database's do.
    std::stable_sort(plans.begin(), plans.end(), [](const ContactPlan& a, const ContactPlan& b) {
      return a.created < b.created;
    });
    for (std::size_t k = 0; k < plans.size(); ++k)
      contact(plans[k], first_contact_id + static_cast<std::int64_t>(k));
  }

 private:
  static constexpr Micros kStart = 1740787200 * kMicrosPerSecond;  // 2025-03-01T00:00:00Z
  static constexpr Micros kEnd = 1772323199 * kMicrosPerSecond;    // 2026-02-28T23:59:59Z

  std::string local(Micros t) const { return format_civil(tz_->utc_to_local(t)); }
  // n times in [max(lo, kStart), kEnd], ascending, at least a minute apart.
  std::vector<Micros> sorted_times(std::size_t n, Micros lo) {
    std::vector<Micros> v;
    for (std::size_t i = 0; i < n; ++i)
      v.push_back(rng_.time(std::max(lo, kStart), kEnd));
    std::sort(v.begin(), v.end());
    for (std::size_t i = 1; i < v.size(); ++i)
      v[i] = std::max(v[i], v[i - 1] + 60 * kMicrosPerSecond);
    return v;
  }
  std::string address(const Person& p, std::size_t n);
  std::string crm_address(const Person& p, bool second);
  void make_people();
  std::string member_line(const Person& p);
  void contact(const ContactPlan& c, std::int64_t id);
  void history(std::int64_t contact, std::int64_t in_group, int kind, Micros created,
               Micros forced_last);

  const SeedOptions& o_;
  std::shared_ptr<const TimeZone> tz_;
  Rng rng_;
  std::vector<Person> people_;
};

std::string Generator::address(const Person& p, std::size_t n) {
  std::string first = kFirstNames[static_cast<std::size_t>(p.first)].slug;
  std::string last = kLastNames[static_cast<std::size_t>(p.last)].slug;
  std::string local;
  switch (n % 4) {
    case 0:
      local = first + "." + last;
      break;
    case 1:
      local = first.substr(0, 1) + last;
      break;
    case 2:
      local = first + "_" + last;
      break;
    default:
      local = first + last;
  }
  return local + std::to_string(n) + "@" + rng_.pick(kDomains);
}

void Generator::make_people() {
  const auto n = static_cast<std::size_t>(o_.members);
  const auto both = static_cast<std::size_t>(std::llround(static_cast<double>(n) * o_.overlap));
  const std::size_t only = n - both;
  const std::size_t noise = std::max<std::size_t>(3, n / 10);
  // people_: [0, both) on both sides, then [both, both + only) in Mailchimp only, then as many in
  // the CRM group only, then `noise` contacts in no group (some among the volunteers).
  const std::size_t mc_end = both + only, crm_end = mc_end + only;
  people_.resize(crm_end + noise);
  for (std::size_t i = 0; i < people_.size(); ++i) {
    Person& p = people_[i];
    p.first = static_cast<int>(rng_.below(kFirstNames.size()));
    p.last = static_cast<int>(rng_.below(kLastNames.size()));
    do {
      p.email = address(p, i + 1);
    } while (taken.count(p.email) > 0);
    p.in_mc = i < mc_end;
    p.has_contact = i < both || i >= mc_end;
  }

  // Mailchimp statuses of everyone in the list.
  auto statuses = deal(rng_, mc_end,
                       {{kSubscribed, 68},
                        {kPending, 3, 3},
                        {kUnsubUser, 9, 3},
                        {kUnsubAdmin, 5, 3},
                        {kUnsubApi, 1, 2},
                        {kCleaned, 5, 3},
                        {kArchived, 6, 3},
                        {kTransactional, 3, 3}});
  for (std::size_t i = 0; i < mc_end; ++i)
    people_[i].mc = statuses[i];

  // Whether each person in the CRM group is IN there: those on both sides agree with Mailchimp
  // but for the `disagree` fraction; those only in the CRM are IN three times in four.
  const auto disagreeing =
      static_cast<std::size_t>(std::llround(static_cast<double>(both) * o_.disagree));
  std::vector<int> differs(both, 0);
  std::fill(differs.begin(), differs.begin() + static_cast<std::ptrdiff_t>(disagreeing), 1);
  rng_.shuffle(differs);
  auto crm_only_in = deal(rng_, only, {{1, 75}, {0, 25, 1}});
  std::vector<std::size_t> in_people, out_people;
  for (std::size_t i = 0; i < both; ++i) {
    bool mc_in = people_[i].mc == kSubscribed || people_[i].mc == kPending;
    (mc_in != (differs[i] == 1) ? in_people : out_people).push_back(i);
  }
  for (std::size_t k = 0; k < only; ++k)
    (crm_only_in[k] == 1 ? in_people : out_people).push_back(mc_end + k);
  auto ins = deal(rng_, in_people.size(),
                  {{kAdded, 70}, {kReadded, 15, 2}, {kPendingAdded, 10, 2}, {kChurned, 5, 2}});
  for (std::size_t k = 0; k < in_people.size(); ++k)
    people_[in_people[k]].history = ins[k];
  auto outs = deal(rng_, out_people.size(),
                   {{kRemoved, 55},
                    {kPendingOnly, 12, 2},
                    {kDeletedRow, 8, 2},
                    {kTrashed, 12, 2},
                    {kRemovedTwice, 13, 2}});
  for (std::size_t k = 0; k < out_people.size(); ++k)
    people_[out_people[k]].history = outs[k];
  // Two rows in the hour repeated when the clocks go back (01:30 in London, once in summer time
  // and once in winter time).
  const Micros kRepeated[] = {utc("2025-10-26T00:30:00Z"), utc("2025-10-26T01:30:00Z")};
  std::size_t dst = 0;
  for (std::size_t i : in_people) {
    if (dst == 2) break;
    if (people_[i].history == kAdded) people_[i].forced_last = kRepeated[dst++];
  }

  // Some of those only in Mailchimp are contacts in no group (like Pebbles).
  auto known = deal(rng_, only, {{0, 70}, {1, 30, 2}});
  for (std::size_t k = 0; k < only; ++k)
    people_[both + k].has_contact = known[k] == 1;

  // What the contacts are like.
  std::vector<Person*> with_contact;
  for (Person& p : people_) {
    if (p.has_contact) with_contact.push_back(&p);
  }
  const std::size_t nc = with_contact.size();
  auto conditions = deal(rng_, nc,
                         {{kPlain, 91},
                          {kDoNotEmail, 2.5, 2},
                          {kOptOut, 2.5, 2},
                          {kHoldBounce, 3, 2},
                          {kHoldOptOut, 1, 2}});
  auto emails = deal(rng_, nc, {{kOneEmail, 94}, {kWorkPrimaryBulk, 3, 2}, {kOldSecond, 3, 2}});
  auto dups = deal(rng_, nc, {{0, 98.5}, {1, 1.5, 3}});
  auto volunteers = deal(rng_, nc, {{0, 92}, {1, 8}});
  for (std::size_t k = 0; k < nc; ++k) {
    with_contact[k]->condition = conditions[k];
    with_contact[k]->emails = emails[k];
    with_contact[k]->duplicate = dups[k] == 1;
    with_contact[k]->volunteer = volunteers[k] == 1 && second_group != 0;
  }
  // A bounce in Mailchimp often shows as a hold in the CRM, a person's own unsubscribe as an
  // opt-out.
  for (std::size_t i = 0; i < both; ++i) {
    Person& p = people_[i];
    if (p.mc == kCleaned && p.condition == kPlain && rng_.chance(50)) p.condition = kHoldBounce;
    if (p.mc == kUnsubUser && p.condition == kPlain && rng_.chance(20)) p.condition = kOptOut;
  }
  // How the address is spelt on either side, for those on both.
  auto spellings = deal(
      rng_, both, {{kSame, 96}, {kMcCapitals, 2, 2}, {kCrmCapitals, 1.5, 2}, {kCrmSpaces, 0.5, 1}});
  for (std::size_t i = 0; i < both; ++i)
    people_[i].spelling = spellings[i];
  // Addresses only the CRM holds: a few invalid, fake-looking, or permanently deleted from
  // Mailchimp.
  auto validity =
      deal(rng_, only, {{kValid, 99.2}, {kInvalid, 0.3, 3}, {kFake, 0.2, 2}, {kForgotten, 0.3, 2}});
  for (std::size_t k = 0; k < only; ++k)
    people_[mc_end + k].validity = validity[k];
  // A few contacts in no group have no email at all.
  auto no_email = deal(rng_, noise, {{kValid, 95}, {kInvalid, 5, 1}});
  for (std::size_t k = 0; k < noise; ++k) {
    if (no_email[k] == kInvalid) people_[crm_end + k].emails = kNoEmail;
  }
}

// "Jane.cobble12@Rockpost.net": the first letters of the local part and the domain in capitals.
std::string capitalised(std::string email) {
  auto up = [](char& c) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  };
  up(email[0]);
  up(email[email.find('@') + 1]);
  return email;
}

std::string Generator::member_line(const Person& p) {
  static constexpr std::array<const char*, 8> kStatusNames = {
      "subscribed",   "pending", "unsubscribed", "unsubscribed",
      "unsubscribed", "cleaned", "archived",     "transactional"};
  JsonOut o;
  o.begin_object();
  o.key("email_address");
  o.str(p.spelling == kMcCapitals ? capitalised(p.email) : p.email);
  o.key("status");
  o.str(kStatusNames[static_cast<std::size_t>(p.mc)]);
  auto times = sorted_times(2, kStart);
  Micros opt = times[0], change = times[1];
  switch (p.mc) {
    case kSubscribed:
      if (!rng_.chance(25)) change = opt;  // else a later profile edit moved last_changed
      break;
    case kPending:
      o.key("timestamp_signup");
      o.time(opt);
      change = opt;
      opt = kNoTime;
      break;
    case kUnsubUser:
      o.key("unsubscribe_origin");
      o.str("user");
      o.key("unsubscribe_reason");
      o.str(rng_.pick(kOwnReasons));
      break;
    case kUnsubAdmin:
      o.key("unsubscribe_origin");
      o.str("admin");
      o.key("unsubscribe_reason");
      o.str("N/A (Unsubscribed by admin)");
      break;
    case kUnsubApi:
      o.key("unsubscribe_origin");
      o.str("api");
      break;
    case kCleaned:
      o.key("clean_reason");
      o.str(rng_.chance(90) ? "hard" : "abuse");
      break;
    case kArchived:
      if (rng_.chance(30)) {
        o.key("status_before_archive");
        o.str("unsubscribed");
        o.key("unsubscribe_origin");
        o.str(rng_.chance(50) ? "user" : "admin");
      }
      break;
    default:  // transactional: never opted in
      opt = kNoTime;
  }
  if (opt != kNoTime) {
    o.key("timestamp_opt");
    o.time(opt);
  }
  if (change != opt) {  // else last_changed defaults to timestamp_opt (keeps the file small)
    o.key("last_changed");
    o.time(change);
  }
  o.key("merge_fields");
  o.begin_object();
  if (fname) {
    o.key("FNAME");
    o.str(kFirstNames[static_cast<std::size_t>(p.first)].shown);
  }
  if (lname && !rng_.chance(4)) {
    o.key("LNAME");
    o.str(kLastNames[static_cast<std::size_t>(p.last)].shown);
  }
  if (phone && rng_.chance(15)) {
    char number[32];
    std::snprintf(number, sizeof number, "+44 20 7946 0%03d", static_cast<int>(rng_.below(1000)));
    o.key("PHONE");
    o.str(number);
  }
  if (address_field && rng_.chance(5)) {
    o.key("ADDRESS");
    o.raw(
        R"({"addr1":")" + std::to_string(1 + rng_.below(200)) +
        R"( Quarry Lane","city":"Leeds","state":"West Yorkshire","zip":"LS1 4AP","country":"GB"})");
  }
  o.end_object();
  if (rng_.chance(10)) {
    o.key("tags");
    o.begin_array();
    o.str(rng_.pick(kTags));
    o.end_array();
  }
  if (rng_.chance(2)) {
    o.key("email_type");
    o.str("text");
  }
  if (rng_.chance(1)) {
    o.key("vip");
    o.boolean(true);
  }
  o.end_object();
  return std::move(o.buf);
}

std::string Generator::crm_address(const Person& p, bool second) {
  if (second) return rng_.chance(50) ? p.email : capitalised(p.email);
  const std::string& e = p.email;
  const std::string local = e.substr(0, e.find('@')), domain = e.substr(e.find('@') + 1);
  switch (p.validity) {
    case kInvalid:
      switch (rng_.below(5)) {
        case 0:
          return local + "." + domain;  // no @
        case 1:
          return local + "@" + domain.substr(0, domain.find('.'));  // no top-level domain
        case 2:
          return local + "@@" + domain;
        case 3:
          return local + " @" + domain;
        default:
          return local + "@";
      }
    case kFake:
      return local + (rng_.chance(50) ? "@example.com"
                                      : "@" + domain.substr(0, domain.find('.')) + ".test");
    default:
      break;
  }
  if (p.spelling == kCrmCapitals) return capitalised(e);
  if (p.spelling == kCrmSpaces) return " " + e + " ";
  return e;
}

void Generator::contact(const ContactPlan& c, std::int64_t id) {
  const Person& p = *c.person;
  JsonOut o;
  o.begin_object();
  o.key("id");
  o.integer(id);
  o.key("first_name");
  o.str(kFirstNames[static_cast<std::size_t>(c.second && rng_.chance(50)
                                                 ? rng_.below(kFirstNames.size())
                                                 : static_cast<std::size_t>(p.first))]
            .shown);
  o.key("last_name");
  o.str(kLastNames[static_cast<std::size_t>(p.last)].shown);
  int condition = c.second ? kPlain : p.condition;
  if (condition == kDoNotEmail) {
    o.key("do_not_email");
    o.boolean(true);
  }
  if (condition == kOptOut) {
    o.key("is_opt_out");
    o.boolean(true);
  }
  if (c.second ? rng_.chance(20) : p.history == kTrashed) {
    o.key("is_deleted");
    o.boolean(true);
  }
  o.key("created_date");
  o.str(local(c.created));
  o.key("emails");
  o.begin_array();
  auto list_email = [&](bool bulk) {
    o.begin_object();
    o.key("email");
    o.str(crm_address(p, c.second));
    if (bulk) {
      o.key("is_bulkmail");
      o.boolean(true);
    }
    if (condition == kHoldBounce || condition == kHoldOptOut) {
      o.key("on_hold");
      o.integer(condition == kHoldBounce ? 1 : 2);
      o.key("hold_date");
      o.str(local(rng_.time(std::max(c.created, kStart), kEnd)));
    }
    o.end_object();
  };
  const std::string first = kFirstNames[static_cast<std::size_t>(p.first)].slug;
  const std::string last = kLastNames[static_cast<std::size_t>(p.last)].slug;
  int emails = c.second ? kOneEmail : p.emails;
  if (emails == kWorkPrimaryBulk) {  // a primary work address; the list's is the bulk-mail one
    o.begin_object();
    o.key("email");
    o.str(first + "." + last + std::to_string(id) + "@" + rng_.pick(kWorkDomains));
    o.key("location_type_id");
    o.integer(2);
    o.end_object();
    list_email(true);
  } else if (emails == kOldSecond) {  // the list's address is primary; an older one beside it
    list_email(false);
    o.begin_object();
    o.key("email");
    o.str(first + last + std::to_string(id) + "@" + rng_.pick(kDomains));
    o.key("location_type_id");
    o.integer(4);
    o.end_object();
  } else if (emails == kOneEmail) {
    list_email(false);
  }
  o.end_array();
  o.end_object();
  contacts.push_back(std::move(o.buf));

  if (c.second) {
    if (rng_.chance(50))
      history(id, group, rng_.chance(70) ? kAdded : kRemoved, c.created, kNoTime);
  } else if (p.history != kNoHistory) {
    history(id, group, p.history, c.created, p.forced_last);
  }
  if (p.volunteer && !c.second) history(id, second_group, kAdded, c.created, kNoTime);
}

void Generator::history(std::int64_t contact, std::int64_t in_group, int kind, Micros created,
                        Micros forced_last) {
  static const std::array<std::vector<const char*>, 9> kRows = {{
      {"Added"},                                          // kAdded
      {"Added", "Removed", "Added"},                      // kReadded
      {"Pending", "Added"},                               // kPendingAdded
      {"Added", "Removed", "Added", "Removed", "Added"},  // kChurned
      {"Added", "Removed"},                               // kRemoved
      {"Pending"},                                        // kPendingOnly
      {"Added", "Deleted"},                               // kDeletedRow
      {"Added"},                                          // kTrashed
      {"Added", "Removed", "Added", "Removed"},           // kRemovedTwice
  }};
  const auto& statuses = kRows[static_cast<std::size_t>(kind)];
  auto times = sorted_times(statuses.size(), created + kDay);
  if (forced_last != kNoTime) times.back() = forced_last;
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    rows.push_back({times[i], "{\"contact_id\":" + std::to_string(contact) +
                                  ",\"group_id\":" + std::to_string(in_group) + ",\"status\":\"" +
                                  statuses[i] + "\",\"date\":\"" + local(times[i]) +
                                  "\",\"method\":\"" + rng_.pick(kMethods) + "\"}"});
  }
  if (with_memberships && std::string_view(statuses.back()) != "Deleted") {
    memberships.push_back("{\"contact_id\":" + std::to_string(contact) + ",\"group_id\":" +
                          std::to_string(in_group) + ",\"status\":\"" + statuses.back() + "\"}");
  }
}

// ---- the document -------------------------------------------------------------------------------

std::string dump(const ojson& j) {
  return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

// Appends `"key":[` + the lines, one a line + `]`.
void append_lines(std::string* out, std::string_view key, const std::vector<std::string>& lines) {
  append_json_string(out, key);
  *out += ":[";
  for (std::size_t i = 0; i < lines.size(); ++i) {
    *out += i == 0 ? "\n" : ",\n";
    *out += lines[i];
  }
  *out += "]";
}

std::vector<std::string> dumped(const ojson& part, const char* key) {
  std::vector<std::string> out;
  if (auto it = part.find(key); it != part.end() && it->is_array()) {
    for (const ojson& v : *it)
      out.push_back(dump(v));
  }
  return out;
}

// Fills in what a base without one part or the other would leave out.
Status complete_base(ojson& base) {
  if (!base.is_object()) return Status::invalid("base: expected a JSON object");
  if (!base.contains("mailchimp")) base["mailchimp"] = {{"api_key", kDefaultApiKey}};
  ojson& mc = base["mailchimp"];
  if (!mc.is_object()) return Status::invalid("base: mailchimp: expected an object");
  if (!mc.contains("lists") || (mc["lists"].is_array() && mc["lists"].empty())) {
    mc["lists"] = ojson::array({{{"id", "b3d1c0ffee"}, {"name", "Newsletter"}}});
  }
  if (!mc["lists"].is_array() || !mc["lists"][0].is_object()) {
    return Status::invalid("base: mailchimp.lists: expected an array of objects");
  }
  if (!base.contains("civicrm")) {
    base["civicrm"] = {{"api_key", kDefaultCivicrmApiKey},
                       {"site_key", kDefaultCivicrmSiteKey},
                       {"timezone", "Europe/London"}};
  }
  ojson& civi = base["civicrm"];
  if (!civi.is_object()) return Status::invalid("base: civicrm: expected an object");
  if (!civi.contains("groups") || (civi["groups"].is_array() && civi["groups"].empty())) {
    civi["groups"] = ojson::array({{{"id", 42}, {"name", "newsletter"}, {"title", "Newsletter"}}});
  }
  const ojson& groups = civi["groups"];
  if (!groups.is_array()) return Status::invalid("base: civicrm.groups: expected an array");
  for (std::size_t i = 0; i < groups.size() && i < 2; ++i) {
    if (!groups[i].is_object() || !groups[i].contains("id") ||
        !groups[i]["id"].is_number_integer()) {
      return Status::invalid("base: civicrm.groups[" + std::to_string(i) + "]: needs an id");
    }
  }
  return Status::ok();
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

Result<std::string> generate_seed(const SeedOptions& options) {
  if (options.members < 0 || options.members > 10000000) {
    return Status::invalid("members: expected 0 to 10000000");
  }
  if (!(options.overlap >= 0 && options.overlap <= 1)) {
    return Status::invalid("overlap: expected a fraction from 0 to 1");
  }
  if (!(options.disagree >= 0 && options.disagree <= 1)) {
    return Status::invalid("disagree: expected a fraction from 0 to 1");
  }
  ojson base = ojson::object();
  if (!options.base.empty()) {
    base = ojson::parse(options.base, nullptr, false);
    if (base.is_discarded()) return Status::invalid("base: not JSON");
  }
  if (Status s = complete_base(base); !s.is_ok()) return s;
  ojson& mc = base["mailchimp"];
  ojson& list = mc["lists"][0];
  ojson& civi = base["civicrm"];
  auto tz = TimeZone::load(civi.value("timezone", "UTC"));
  if (!tz.is_ok()) return Status::invalid("base: civicrm.timezone: " + tz.status().message());

  Generator g(options, *tz);
  if (auto it = list.find("merge_fields"); it != list.end() && it->is_array()) {
    auto has = [&](const char* tag) {
      return std::any_of(it->begin(), it->end(),
                         [&](const ojson& f) { return f.value("tag", "") == tag; });
    };
    g.fname = has("FNAME");
    g.lname = has("LNAME");
    g.phone = has("PHONE");
    g.address_field = has("ADDRESS");
  }
  for (const std::string& key : dumped(list, "members")) {
    ojson m = ojson::parse(key, nullptr, false);
    if (m.is_object()) g.taken.insert(normalise_email(m.value("email_address", "")));
  }
  std::int64_t max_id = 0;
  if (auto it = civi.find("contacts"); it != civi.end() && it->is_array()) {
    max_id = static_cast<std::int64_t>(it->size());  // contacts without ids are numbered too
    for (const ojson& c : *it) {
      if (c.contains("id") && c["id"].is_number_integer()) {
        max_id = std::max(max_id, c["id"].get<std::int64_t>());
      }
      if (c.contains("emails") && c["emails"].is_array()) {
        for (const ojson& e : c["emails"])
          g.taken.insert(normalise_email(e.value("email", "")));
      }
    }
  }
  g.first_contact_id = (max_id / 1000 + 1) * 1000 + 1;
  g.group = civi["groups"][0]["id"].get<std::int64_t>();
  if (civi["groups"].size() > 1) g.second_group = civi["groups"][1]["id"].get<std::int64_t>();
  g.with_memberships = civi.contains("group_contacts");
  g.generate();

  // The history in the order it happened (which numbers it), the base's rows among the generated
  // ones unless they carry their own ids.
  std::vector<HistoryRow> rows;
  bool base_ids = false;
  if (auto it = civi.find("subscription_history"); it != civi.end() && it->is_array()) {
    for (const ojson& r : *it) {
      auto civil = parse_civil(r.value("date", ""));
      base_ids = base_ids || r.contains("id") || !civil.is_ok();
      rows.push_back({civil.is_ok() ? (*tz)->local_to_utc(*civil) : kNoTime, dump(r)});
    }
  }
  std::stable_sort(g.rows.begin(), g.rows.end(),
                   [](const HistoryRow& a, const HistoryRow& b) { return a.at < b.at; });
  rows.insert(rows.end(), std::make_move_iterator(g.rows.begin()),
              std::make_move_iterator(g.rows.end()));
  if (!base_ids) {
    std::stable_sort(rows.begin(), rows.end(),
                     [](const HistoryRow& a, const HistoryRow& b) { return a.at < b.at; });
  }
  std::vector<std::string> history;
  history.reserve(rows.size());
  for (HistoryRow& r : rows)
    history.push_back(std::move(r.text));

  std::string comment = base.value("comment", "");
  if (!comment.empty()) comment += " ";
  comment += "Generated by concord-sandbox --generate-seed --members " +
             std::to_string(options.members) + " --overlap " + format_number(options.overlap) +
             " --disagree " + format_number(options.disagree) + " --random-seed " +
             std::to_string(options.random_seed) + (options.base.empty() ? "" : " --base FILE") +
             ": about that many members in list " + list.value("id", "") + " and contacts in " +
             "CiviCRM group " + std::to_string(g.group) + " (docs/sandbox.md \"Generated seeds\").";
  if (!base.contains("comment")) {
    ojson with_comment = {{"comment", comment}};
    with_comment.update(base);
    base = std::move(with_comment);
  }

  std::string out = "{";
  bool first_key = true;
  auto next_key = [&](std::string_view key) {
    out += first_key ? "" : ",\n";
    first_key = false;
    append_json_string(&out, key);
    out += ':';
  };
  for (auto it = base.begin(); it != base.end(); ++it) {
    if (it.key() == "comment") {
      next_key("comment");
      append_json_string(&out, comment);
    } else if (it.key() == "mailchimp") {
      next_key("mailchimp");
      out += '{';
      bool first = true;
      for (auto m = it->begin(); m != it->end(); ++m) {
        out += first ? "" : ",";
        first = false;
        if (m.key() != "lists") {
          append_json_string(&out, m.key());
          out += ':' + dump(*m);
          continue;
        }
        out += "\"lists\":[{";
        // The first list: its settings and merge fields first, then its members, one a line.
        for (auto l = m->front().begin(); l != m->front().end(); ++l) {
          if (l.key() == "members" || l.key() == "forgotten") continue;
          append_json_string(&out, l.key());
          out += ':' + dump(*l) + ",";
        }
        std::vector<std::string> forgotten = dumped(m->front(), "forgotten");
        for (const std::string& f : g.forgotten)
          forgotten.push_back(dump(f));
        if (!forgotten.empty()) {
          append_lines(&out, "forgotten", forgotten);
          out += ',';
        }
        std::vector<std::string> members = dumped(m->front(), "members");
        members.insert(members.end(), g.members.begin(), g.members.end());
        append_lines(&out, "members", members);
        out += '}';
        for (std::size_t i = 1; i < m->size(); ++i)
          out += ",\n" + dump((*m)[i]);
        out += ']';
      }
      out += '}';
    } else if (it.key() == "civicrm") {
      next_key("civicrm");
      out += '{';
      for (auto c = it->begin(); c != it->end(); ++c) {
        if (c.key() == "contacts" || c.key() == "subscription_history" ||
            c.key() == "group_contacts" || c.key() == "next_ids") {
          continue;
        }
        append_json_string(&out, c.key());
        out += ':' + dump(*c) + ",";
      }
      std::vector<std::string> contacts = dumped(*it, "contacts");
      contacts.insert(contacts.end(), g.contacts.begin(), g.contacts.end());
      append_lines(&out, "contacts", contacts);
      out += ",\n";
      append_lines(&out, "subscription_history", history);
      if (g.with_memberships) {
        std::vector<std::string> memberships = dumped(*it, "group_contacts");
        memberships.insert(memberships.end(), g.memberships.begin(), g.memberships.end());
        out += ",\n";
        append_lines(&out, "group_contacts", memberships);
      }
      out += '}';
    } else {
      next_key(it.key());
      out += dump(*it);
    }
  }
  out += "}\n";
  return out;
}

}  // namespace concord::sandbox

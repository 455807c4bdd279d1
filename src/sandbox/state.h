// The sandbox's Mailchimp account model, its seed/state format, and its persistence.
//
// One Account holds the API key and the lists (audiences). Each List keeps its members in
// creation order in a deque (stable addresses, no per-member allocation), with two compact
// open-addressing indexes: by subscriber hash and by contact_id. The handler (mailchimp.h) guards
// an Account with a shared mutex; nothing here locks.
//
// The seed and the persisted state share one JSON format (docs/sandbox.md "Seed format"):
//   {"mailchimp": {"api_key": "...-us6", "lists": [ {..., "merge_fields": [...],
//                  "members": [...]} ]},
//    "clock": "2026-03-01T00:00:00+00:00"}
// The "civicrm" part is skipped here without being built (sandbox/civicrm.h reads it); other
// unknown top-level keys are ignored. parse_seed() reads the document with a SAX parser
// that converts each member as soon as it is complete, so seeding a million members takes
// seconds and does not build a DOM of the whole document.
//
// Thread-safety: the model types are plain data. SandboxClock and Persister are thread-safe.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "concord/email.h"
#include "concord/status.h"
#include "concord/time.h"

namespace concord::sandbox {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

// ---- small shared helpers ---------------------------------------------------------------------

// "2021-11-23T22:51:56+00:00"; kNoTime gives "". Faster than concord::format_iso8601.
void append_time(std::string* out, Micros t);
std::string time_text(Micros t);
// "YYYY-MM-DD HH:MM:SS" (UTC), as webhook deliveries write fired_at.
std::string civil_text(Micros t);
// "Sun, 22 Nov 2026 10:00:00 GMT": an HTTP Date header (RFC 9110 IMF-fixdate).
std::string http_date_text(Micros t);
// Whole seconds: the API keeps times to the second.
inline Micros to_seconds(Micros t) {
  return t == kNoTime ? t : t - ((t % kMicrosPerSecond) + kMicrosPerSecond) % kMicrosPerSecond;
}

// "42", "-7", "+3" as a number; nullopt for anything else (spaces, fractions, more than 19
// characters).
std::optional<std::int64_t> parse_int64(std::string_view v);

// Appends `s` as a JSON string literal (quotes included).
void append_json_string(std::string* out, std::string_view s);

// Lower-case hex of bytes.
void append_hex(std::string* out, const std::uint8_t* bytes, std::size_t n);
// Parses 32 hex digits (either case) into 16 bytes. Returns false otherwise.
bool parse_hex16(std::string_view hex, std::array<std::uint8_t, 16>* out);

// A minimal streaming JSON writer: keys and commas are placed by a small stack.
class JsonOut {
 public:
  std::string buf;

  void begin_object() {
    pre_value();
    buf += '{';
    stack_.push_back(0);
  }
  void end_object() {
    buf += '}';
    stack_.pop_back();
  }
  void begin_array() {
    pre_value();
    buf += '[';
    stack_.push_back(0);
  }
  void end_array() {
    buf += ']';
    stack_.pop_back();
  }
  // Writes `"k":`; the next call writes its value.
  void key(std::string_view k) {
    if (!stack_.empty() && stack_.back()++ > 0) buf += ',';
    append_json_string(&buf, k);
    buf += ':';
    after_key_ = true;
  }
  void str(std::string_view v) {
    pre_value();
    append_json_string(&buf, v);
  }
  void time(Micros t) {
    pre_value();
    buf += '"';
    append_time(&buf, t);
    buf += '"';
  }
  void integer(std::int64_t v) {
    pre_value();
    buf += std::to_string(v);
  }
  void boolean(bool v) {
    pre_value();
    buf += v ? "true" : "false";
  }
  void null() {
    pre_value();
    buf += "null";
  }
  // A value that is already JSON text.
  void raw(std::string_view v) {
    pre_value();
    buf += v;
  }
  void value(const ojson& v) { raw(v.dump()); }
  void value(const json& v) { raw(v.dump()); }

 private:
  void pre_value() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!stack_.empty() && stack_.back()++ > 0) buf += ',';
  }
  std::vector<int> stack_;
  bool after_key_ = false;
};

// ---- the model ----------------------------------------------------------------------------------

enum class MemberStatus : std::uint8_t {
  kSubscribed = 0,
  kUnsubscribed,
  kCleaned,
  kPending,
  kTransactional,
  kArchived,
};
inline constexpr int kStatusCount = 6;
std::string_view status_name(MemberStatus s);
std::optional<MemberStatus> parse_status(std::string_view s);

// Who made a change: an API call, an account admin in the web app, or the contact themself. The
// origin of an unsubscribe decides whether the API may resubscribe the contact.
enum class Source : std::uint8_t { kApi = 0, kAdmin, kUser };
std::string_view source_name(Source s);
std::optional<Source> parse_source(std::string_view s);

enum class MergeType : std::uint8_t {
  kText,
  kNumber,
  kAddress,
  kPhone,
  kDate,
  kUrl,
  kImageUrl,
  kRadio,
  kDropdown,
  kBirthday,
  kZip,
};
std::string_view merge_type_name(MergeType t);
std::optional<MergeType> parse_merge_type(std::string_view s);

struct MergeField {
  int merge_id = 0;
  std::string tag;  // upper case, e.g. "FNAME"
  std::string name;
  MergeType type = MergeType::kText;
  bool required = false;
  std::string default_value;
  bool is_public = true;
  int display_order = 0;
  json options = json::object();
  std::string help_text;
};

// A merge value as stored: the text of a string, the canonical text of a number ("15.5"), or the
// compact JSON text of an ADDRESS object. "" means unset.
// Members keep their values packed in one string, in the order of List::merge_fields: for each
// field a varint length and the bytes. A member packed before a field was added simply has fewer
// values (the missing ones are "").
std::string pack_merges(const std::vector<std::string>& values);
std::vector<std::string> unpack_merges(std::string_view packed, std::size_t n);
// Calls fn(index, value) for each packed value, in order.
template <typename Fn>
void for_each_merge(std::string_view packed, Fn fn) {
  std::size_t pos = 0, i = 0;
  while (pos < packed.size()) {
    std::size_t len = 0;
    int shift = 0;
    while (pos < packed.size()) {
      auto b = static_cast<unsigned char>(packed[pos++]);
      len |= static_cast<std::size_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
      shift += 7;
    }
    fn(i++, packed.substr(pos, len));
    pos += len;
  }
}

struct MemberTag {
  std::uint32_t tag_id = 0;
  Micros date_added = kNoTime;
};

// Rarely set fields, kept out of line.
struct MemberExtra {
  std::string ip_signup;
  std::string ip_opt;
  std::string language;
  std::string unsubscribe_reason;  // "" = the default text for the unsubscribe origin
  std::string clean_reason;        // "hard" or "abuse" for cleaned members
};

using Key16 = std::array<std::uint8_t, 16>;

struct Member {
  std::string email;  // as submitted, trimmed
  MemberKey key;      // md5 of the normalised email: the subscriber hash
  Key16 contact_id{};
  std::uint64_t unique_email_id = 0;  // 40 bits, written as 10 hex digits
  std::uint32_t web_id = 0;
  MemberStatus status = MemberStatus::kSubscribed;
  MemberStatus status_before_archive = MemberStatus::kSubscribed;
  Source unsubscribe_origin = Source::kApi;
  bool vip = false;
  bool text_email = false;   // email_type "text" (else "html")
  bool dead = false;         // permanently deleted: a tombstone in the order deque
  std::uint16_t source = 0;  // index into Account::sources ("API - Generic", ...)
  Micros timestamp_signup = kNoTime;
  Micros timestamp_opt = kNoTime;
  Micros last_changed = kNoTime;
  std::string merges;  // packed, see pack_merges()
  std::vector<MemberTag> tags;
  std::unique_ptr<MemberExtra> extra;

  MemberExtra& ext() {
    if (!extra) extra = std::make_unique<MemberExtra>();
    return *extra;
  }
  std::string_view ext_ip_signup() const { return extra ? extra->ip_signup : std::string_view(); }
  std::string_view ext_ip_opt() const { return extra ? extra->ip_opt : std::string_view(); }
  std::string_view ext_language() const { return extra ? extra->language : std::string_view(); }
  // The unsubscribe_reason the API shows for an unsubscribed member.
  std::string unsubscribe_reason() const;
  std::string_view clean_reason() const {
    return extra && !extra->clean_reason.empty() ? std::string_view(extra->clean_reason)
                                                 : std::string_view("hard");
  }
  // Self-unsubscribed or cleaned (also while archived): the API may not set "subscribed".
  bool in_compliance_state() const;
  // The status before archiving, for an archived member; else the status.
  MemberStatus effective_status() const {
    return status == MemberStatus::kArchived ? status_before_archive : status;
  }
};

// An open-addressing index of 16-byte keys to slots (positions in List::members). The keys live in
// the members; the table holds only 4-byte slots. KeyOf(slot) returns the 16 key bytes of a slot.
class SlotIndex {
 public:
  static constexpr std::uint32_t kNone = 0xffffffffu;

  template <typename KeyOf>
  std::uint32_t find(const std::uint8_t* key, KeyOf key_of) const {
    if (table_.empty()) return kNone;
    std::size_t mask = table_.size() - 1;
    for (std::size_t i = hash(key) & mask;; i = (i + 1) & mask) {
      std::uint32_t s = table_[i];
      if (s == kEmpty) return kNone;
      if (s != kDeleted && std::equal(key, key + 16, key_of(s))) return s;
    }
  }
  template <typename KeyOf>
  void insert(const std::uint8_t* key, std::uint32_t slot, KeyOf key_of) {
    if ((used_ + 1) * 10 >= table_.size() * 7) rehash(std::max<std::size_t>(16, live_ * 4), key_of);
    std::size_t mask = table_.size() - 1;
    std::size_t i = hash(key) & mask;
    while (table_[i] != kEmpty && table_[i] != kDeleted)
      i = (i + 1) & mask;
    if (table_[i] == kEmpty) ++used_;
    table_[i] = slot;
    ++live_;
  }
  template <typename KeyOf>
  void erase(const std::uint8_t* key, KeyOf key_of) {
    if (table_.empty()) return;
    std::size_t mask = table_.size() - 1;
    for (std::size_t i = hash(key) & mask;; i = (i + 1) & mask) {
      std::uint32_t s = table_[i];
      if (s == kEmpty) return;
      if (s != kDeleted && std::equal(key, key + 16, key_of(s))) {
        table_[i] = kDeleted;
        --live_;
        return;
      }
    }
  }
  void clear() {
    table_.clear();
    used_ = live_ = 0;
  }
  // Sizes the table for n keys up front (seeding).
  template <typename KeyOf>
  void reserve(std::size_t n, KeyOf key_of) {
    if (n * 10 >= table_.size() * 7) rehash(n * 2, key_of);
  }

 private:
  static constexpr std::uint32_t kEmpty = 0xffffffffu;
  static constexpr std::uint32_t kDeleted = 0xfffffffeu;
  static std::size_t hash(const std::uint8_t* key) {
    std::uint64_t h;
    std::memcpy(&h, key, 8);
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
  template <typename KeyOf>
  void rehash(std::size_t want, KeyOf key_of) {
    std::size_t cap = 16;
    while (cap < want)
      cap <<= 1;
    std::vector<std::uint32_t> old;
    old.swap(table_);
    table_.assign(cap, kEmpty);
    used_ = live_ = 0;
    for (std::uint32_t s : old) {
      if (s == kEmpty || s == kDeleted) continue;
      const std::uint8_t* k = key_of(s);
      std::size_t i = hash(k) & (cap - 1);
      while (table_[i] != kEmpty)
        i = (i + 1) & (cap - 1);
      table_[i] = s;
      ++used_;
      ++live_;
    }
  }
  std::vector<std::uint32_t> table_;
  std::size_t used_ = 0;  // live + deleted
  std::size_t live_ = 0;
};

struct TagDef {
  std::uint32_t id = 0;
  std::string name;
};

enum WebhookEvent : int {
  kEvSubscribe = 0,
  kEvUnsubscribe,
  kEvProfile,
  kEvCleaned,
  kEvUpemail,
  kEvCampaign
};
inline constexpr std::array<std::string_view, 6> kWebhookEventNames = {
    "subscribe", "unsubscribe", "profile", "cleaned", "upemail", "campaign"};
inline constexpr std::array<std::string_view, 3> kWebhookSourceNames = {"api", "admin", "user"};

struct Webhook {
  std::string id;
  std::string url;
  std::array<bool, 6> events{};   // by WebhookEvent
  std::array<bool, 3> sources{};  // by Source
};

// A cached result of a member query: the matching slots in result order.
struct CachedQuery {
  std::string key;
  std::uint64_t version = 0;
  std::shared_ptr<const std::vector<std::uint32_t>> slots;
};

struct Key16Hash {
  std::size_t operator()(const Key16& k) const {
    std::uint64_t h;
    std::memcpy(&h, k.data(), 8);
    return static_cast<std::size_t>(h);
  }
};

struct List {
  std::string id;  // 10 hex
  std::string name;
  std::uint32_t web_id = 0;
  Micros date_created = kNoTime;
  // Presentational settings kept as given: contact, permission_reminder, campaign_defaults,
  // use_archive_bar, notify_on_subscribe, notify_on_unsubscribe, email_type_option, visibility,
  // double_optin, marketing_permissions.
  json settings = json::object();

  std::vector<MergeField> merge_fields;  // in merge_id order
  int next_merge_id = 1;

  std::deque<Member> members;  // creation order; dead members stay as tombstones
  SlotIndex by_key;            // subscriber hash -> slot
  SlotIndex by_contact;        // contact_id -> slot
  std::unordered_set<Key16, Key16Hash> forgotten;  // hashes of permanently deleted emails
  std::vector<TagDef> tags;                        // the list's tags, by first use
  std::vector<Webhook> webhooks;

  std::array<std::int64_t, kStatusCount> counts{};  // live members by status
  Micros last_sub = kNoTime;
  Micros last_unsub = kNoTime;
  std::uint64_t version = 0;  // bumped on every member change (invalidates query caches)

  mutable std::mutex cache_mu;
  mutable std::vector<CachedQuery> cache;  // most recent first, at most a few

  List() = default;
  List(const List&) = delete;
  List& operator=(const List&) = delete;

  Member* find(const MemberKey& key);
  const Member* find(const MemberKey& key) const;
  Member* find_contact(const Key16& contact_id);
  std::uint32_t slot_of(const Member& m) const;
  // Index of the merge field with this tag (case-insensitive), or -1.
  int merge_index(std::string_view tag) const;
  // Tag id for a name (case-insensitive), creating the tag when `create`. 0 when absent.
  std::uint32_t tag_id(std::string_view name, bool create, std::uint32_t* next_tag_id);
  const TagDef* tag_by_id(std::uint32_t id) const;

  // Appends a member and indexes it. REQUIRES: no live member has its key or contact_id.
  Member& add(Member&& m);
  // Gives a member a new key (an email change) and re-indexes it.
  void rekey(Member& m, const MemberKey& new_key);
  // Makes a member a tombstone and records its hash as forgotten.
  void forget(Member& m);
  void count_status(MemberStatus s, int delta) { counts[static_cast<int>(s)] += delta; }
  std::int64_t live_count() const {
    std::int64_t n = 0;
    for (auto c : counts)
      n += c;
    return n;
  }
};

struct Account {
  std::string api_key;  // "<32 hex>-<dc>"
  std::vector<std::unique_ptr<List>> lists;
  std::vector<std::string> sources{"API - Generic"};  // interned Member::source values
  std::uint32_t next_web_id = 100000001;
  std::uint32_t next_tag_id = 10001;
  std::mt19937_64 rng{std::random_device{}()};

  std::string dc() const;  // the text after the last '-' of the key
  List* find_list(std::string_view id);
  std::uint16_t intern_source(std::string_view s);
  Key16 random16();
  std::uint64_t random_unique_email_id() { return rng() & 0xffffffffffull; }
  std::string random_hex(std::size_t digits);
};

// The default merge fields of a new audience: FNAME, LNAME, ADDRESS, PHONE (Mailchimp's own).
std::vector<MergeField> default_merge_fields();

// The API key of an account started without a seed or state.
inline constexpr std::string_view kDefaultApiKey = "0123456789abcdef0123456789abcdef-us6";

// Validates and normalises one merge value for a field. `v` is the JSON value given. On success
// stores the canonical text in *out and returns ""; else returns the API's message for the
// field ("Please enter a number", ...).
std::string encode_merge_value(const MergeField& f, const json& v, std::string* out);
// A merge field's definition as the API and the state file show it (without list_id/_links).
ojson merge_field_definition(const MergeField& f);
// Writes a stored merge value as the API shows it (string, number, or address object).
void write_merge_value(JsonOut& out, const MergeField& f, std::string_view stored);

// ---- seed / state -------------------------------------------------------------------------------

struct LoadedState {
  std::unique_ptr<Account> account;
  Micros clock = kNoTime;  // the fixed clock, when the document has "clock"
};

// Parses a seed or state document. `now` stands in for missing member times. Returns kInvalid
// naming the path of the first problem (e.g. "mailchimp.lists[0].members[3].status: ...").
Result<LoadedState> parse_seed(std::string_view text, Micros now);
// An account with the default key and no lists.
std::unique_ptr<Account> empty_account();

// The "mailchimp" part of the state document (an object), complete enough to reload exactly.
void write_mailchimp_state(JsonOut& out, const Account& account);
// The whole document: {"mailchimp": {...}, "clock": "..."} ("clock" only when fixed).
std::string state_document(const Account& account, Micros fixed_clock);

// Writes `contents` to `path` through a temporary file in the same directory, fsync and rename,
// so that a reader sees either the old or the new file. Returns kIoError on failure.
Status write_file_atomically(const std::string& path, std::string_view contents);
// Reads a whole file. kNotFound when it does not exist, kIoError when it cannot be read.
Result<std::string> read_file(const std::string& path);

// ---- clock ------------------------------------------------------------------------------------

// The sandbox's clock: real time, or a fixed time set through /_sandbox/clock.
class SandboxClock final : public Clock {
 public:
  Micros now() const override;
  void fix(Micros t) { fixed_.store(t); }
  void unfix() { fixed_.store(kNoTime); }
  // kNoTime when the clock follows real time.
  Micros fixed() const { return fixed_.load(); }

 private:
  std::atomic<Micros> fixed_{kNoTime};
};

// ---- persistence -------------------------------------------------------------------------------

// Saves the state document at most about once a second from a background thread, when it changed,
// and once more at stop().
class Persister {
 public:
  // `generation` returns a counter that moves on every change; `snapshot` returns the document.
  // Both are called from the persister's thread and must be thread-safe.
  Persister(std::string path, std::function<std::uint64_t()> generation,
            std::function<std::string()> snapshot,
            std::chrono::milliseconds interval = std::chrono::milliseconds(1000));
  ~Persister();  // stop()
  // Marks the current generation as saved (after loading the file it came from).
  void mark_saved(std::uint64_t generation) { saved_ = generation; }
  // Saves now if changed. Returns the write status.
  Status flush();
  // Stops the thread after a final flush. Idempotent.
  void stop();

 private:
  void run();
  std::string path_;
  std::function<std::uint64_t()> generation_;
  std::function<std::string()> snapshot_;
  std::chrono::milliseconds interval_;
  std::atomic<std::uint64_t> saved_{~std::uint64_t{0}};
  std::mutex mu_;
  std::mutex flush_mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace concord::sandbox

// The Mailchimp part's account model: one Account holds the API key and the lists (audiences).
//
// Each List keeps its members in creation order in a deque (stable addresses, no per-member
// allocation), with two compact open-addressing indexes: by subscriber hash and by contact_id.
// The handler (routing.h) guards an Account with a shared mutex; nothing here locks.
//
// Thread-safety: plain data.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "concord/email.h"
#include "concord/time.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox {

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

// An event recorded on a member (POST …/members/{hash}/events). The API gives events no id.
struct MemberEvent {
  std::string name;
  std::vector<std::pair<std::string, std::string>> properties;  // in the order given
  Micros occurred_at = kNoTime;
};

// Rarely set fields, kept out of line.
struct MemberExtra {
  std::string ip_signup;
  std::string ip_opt;
  std::string language;
  std::string unsubscribe_reason;   // "" = the default text for the unsubscribe origin
  std::string clean_reason;         // "hard" or "abuse" for cleaned members
  std::vector<MemberEvent> events;  // in the order they were posted
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
  // The groups the member is in: bit Interest::bit set. A list has at most kMaxInterests
  // interests, so one word holds a member's whole `interests` map (an unset bit is false).
  std::uint64_t interests = 0;
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

// A tag, which the API also shows as a static segment (GET /lists/{id}/segments): one id space,
// one name per list (compared case-insensitively).
struct TagDef {
  std::uint32_t id = 0;
  std::string name;
  Micros created_at = kNoTime;
  Micros updated_at = kNoTime;  // moves on a rename and when members are added or removed
};

// Interest categories (group titles) and their interests (group names), docs/sandbox.md
// "Interest categories and interests".
enum class CategoryType : std::uint8_t { kCheckboxes = 0, kDropdown, kRadio, kHidden };
inline constexpr std::array<std::string_view, 4> kCategoryTypeNames = {"checkboxes", "dropdown",
                                                                       "radio", "hidden"};
std::string_view category_type_name(CategoryType t);
std::optional<CategoryType> parse_category_type(std::string_view s);

// "Cannot have more than 60 interests per list (Across all categories)".
inline constexpr std::size_t kMaxInterests = 60;
static_assert(kMaxInterests <= 64, "a member's interests are one 64-bit word");

struct InterestCategory {
  std::string id;  // 10 hex
  std::string title;
  int display_order = 0;
  CategoryType type = CategoryType::kCheckboxes;
  std::uint32_t grouping_id = 0;  // the legacy numeric id that webhooks still carry
};

struct Interest {
  std::string id;  // 10 hex
  std::string category_id;
  std::string name;
  int display_order = 0;
  std::uint8_t bit = 0;  // its bit in Member::interests
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
  std::vector<InterestCategory> categories;        // creation order
  std::vector<Interest> interests;                 // creation order, at most kMaxInterests
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
  TagDef* tag_by_id(std::uint32_t id);

  InterestCategory* category(std::string_view id);
  const InterestCategory* category(std::string_view id) const;
  const Interest* interest(std::string_view id) const;
  Interest* interest(std::string_view id);
  // Whether a category or an interest of the list has this id.
  bool group_id_taken(std::string_view id) const;
  // A bit that no interest uses; -1 when the list has kMaxInterests interests.
  int free_interest_bit() const;
  // Takes the bits of `mask` off every member (interests that are deleted).
  void clear_interest_bits(std::uint64_t mask);
  // The categories by display_order (then creation order), as the API lists them.
  std::vector<const InterestCategory*> ordered_categories() const;
  // A category's interests by display_order (then creation order).
  std::vector<const Interest*> ordered_interests(std::string_view category_id) const;

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
  std::uint32_t next_grouping_id = 1001;  // legacy numeric ids of interest categories
  std::mt19937_64 rng{std::random_device{}()};

  std::string dc() const;  // the text after the last '-' of the key
  List* find_list(std::string_view id);
  std::uint16_t intern_source(std::string_view s);
  Key16 random16();
  std::uint64_t random_unique_email_id() { return rng() & 0xffffffffffull; }
  std::string random_hex(std::size_t digits);
  // A new 10-hex id for a category or an interest of `l`.
  std::string new_group_id(const List& l);
};

// The subscriber hash (md5 of the lower-cased email) as the API writes it: 32 hex digits.
std::string hash_hex(const MemberKey& k);
// 16 key bytes (a contact_id, a forgotten subscriber hash) as 32 hex digits.
std::string key_hex(const Key16& k);
// A unique_email_id as the API writes it: 10 hex digits.
std::string ueid_hex(std::uint64_t v);

// The default merge fields of a new audience: FNAME, LNAME, ADDRESS, PHONE (Mailchimp's own).
std::vector<MergeField> default_merge_fields();

}  // namespace concord::sandbox

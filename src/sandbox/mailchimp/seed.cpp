#include "sandbox/mailchimp/seed.h"

#include <cctype>
#include <cstdlib>

#include "sandbox/mailchimp/merge_values.h"
#include "sandbox/mailchimp/seed_fields.h"
#include "sandbox/mailchimp/seed_groups.h"
#include "sandbox/text.h"
#include "sandbox/times.h"

namespace concord::sandbox {

std::unique_ptr<Account> empty_account() {
  auto a = std::make_unique<Account>();
  a->api_key = std::string(kDefaultApiKey);
  return a;
}

namespace {

std::string path_of_member(std::size_t list, std::size_t member) {
  return "mailchimp.lists[" + std::to_string(list) + "].members[" + std::to_string(member) + "]";
}

using seed_fields::get_bool;
using seed_fields::get_string;
using seed_fields::get_time;

bool parse_merge_defs(const json& arr, std::vector<MergeField>* out, int* next_id, std::string* err,
                      const std::string& path) {
  out->clear();
  if (!arr.is_array()) {
    *err = path + ": expected an array";
    return false;
  }
  int max_id = 0;
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const json& o = arr[i];
    std::string p = path + "[" + std::to_string(i) + "]";
    if (!o.is_object()) {
      *err = p + ": expected an object";
      return false;
    }
    MergeField f;
    std::string type = "text";
    if (!get_string(o, "tag", &f.tag, err, p) || !get_string(o, "name", &f.name, err, p) ||
        !get_string(o, "type", &type, err, p) ||
        !get_string(o, "default_value", &f.default_value, err, p) ||
        !get_string(o, "help_text", &f.help_text, err, p) ||
        !get_bool(o, "required", &f.required, err, p) ||
        !get_bool(o, "public", &f.is_public, err, p)) {
      return false;
    }
    if (f.tag.empty()) {
      *err = p + ".tag: required";
      return false;
    }
    for (char& c : f.tag)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (const MergeField& other : *out) {
      if (other.tag == f.tag) {
        *err = p + ".tag: \"" + f.tag + "\" appears twice";
        return false;
      }
    }
    if (f.name.empty()) f.name = f.tag;
    auto t = parse_merge_type(type);
    if (!t) {
      *err = p + ".type: \"" + type + "\" is not a merge field type";
      return false;
    }
    f.type = *t;
    f.merge_id = o.value("merge_id", 0);
    f.display_order = o.value("display_order", static_cast<int>(i) + 2);
    if (auto it = o.find("options"); it != o.end() && it->is_object()) f.options = *it;
    out->push_back(std::move(f));
  }
  for (auto& f : *out)
    max_id = std::max(max_id, f.merge_id);
  for (auto& f : *out) {
    if (f.merge_id <= 0) f.merge_id = ++max_id;
  }
  *next_id = max_id + 1;
  return true;
}

const char* const kListSettingKeys[] = {
    "contact",
    "permission_reminder",
    "use_archive_bar",
    "campaign_defaults",
    "notify_on_subscribe",
    "notify_on_unsubscribe",
    "email_type_option",
    "visibility",
    "double_optin",
    "has_welcome",
    "marketing_permissions",
    "list_rating",
    "subscribe_url_short",
    "subscribe_url_long",
    "beamer_address",
};

// Builds the lists of a seed while the SAX parser delivers members one by one.
class Loader {
 public:
  Loader(Account* account, Micros now) : account_(account), now_(now) {}

  // A complete member object of list `li`; `partial_list` is the list object read so far.
  bool member(std::size_t li, const json& partial_list, json&& m) {
    Build& b = build(li);
    std::size_t mi = b.count++;
    if (!b.defs_ready) {
      auto it = partial_list.find("merge_fields");
      if (it != partial_list.end()) {
        if (!setup_defs(b, li, partial_list)) return false;
      } else {
        b.buffered.push_back(std::move(m));
        return true;
      }
    }
    return convert(b, li, mi, m);
  }

  bool list_done(std::size_t li, json&& l) {
    Build& b = build(li);
    std::string path = "mailchimp.lists[" + std::to_string(li) + "]";
    if (!l.is_object()) {
      error = path + ": expected an object";
      return false;
    }
    if (!b.defs_ready && !setup_defs(b, li, l)) return false;
    for (std::size_t i = 0; i < b.buffered.size(); ++i) {
      if (!convert(b, li, i, b.buffered[i])) return false;
    }
    b.buffered.clear();
    b.buffered.shrink_to_fit();
    // The keys that came after the list's first member, read now that the list is complete.
    if (!read_groups(b, li, l)) return false;
    List& list = *b.list;
    for (const auto& [slot, interests] : b.pending_interests) {
      if (!read_member_interests(interests, list, &list.members[slot].interests, &error,
                                 path_of_member(li, slot) + ".interests")) {
        return false;
      }
    }
    b.pending_interests.clear();
    for (TagDef& t : list.tags) {
      if (t.created_at == kNoTime) t.created_at = to_seconds(now_);
      if (t.updated_at == kNoTime) t.updated_at = t.created_at;
    }
    if (!get_string(l, "id", &list.id, &error, path) ||
        !get_string(l, "name", &list.name, &error, path) ||
        !get_time(l, "date_created", &list.date_created, &error, path)) {
      return false;
    }
    if (list.id.empty()) list.id = account_->random_hex(10);
    if (list.name.empty()) list.name = "Audience";
    if (list.date_created == kNoTime) list.date_created = to_seconds(now_);
    if (auto it = l.find("web_id"); it != l.end() && it->is_number_integer()) {
      list.web_id = it->get<std::uint32_t>();
    } else {
      list.web_id = account_->next_web_id++;
    }
    for (const char* k : kListSettingKeys) {
      if (auto it = l.find(k); it != l.end()) list.settings[k] = *it;
    }
    if (auto it = l.find("webhooks"); it != l.end()) {
      if (!it->is_array()) {
        error = path + ".webhooks: expected an array";
        return false;
      }
      for (std::size_t i = 0; i < it->size(); ++i) {
        const json& w = (*it)[i];
        std::string p = path + ".webhooks[" + std::to_string(i) + "]";
        Webhook hook;
        if (!w.is_object() || !get_string(w, "url", &hook.url, &error, p) ||
            !get_string(w, "id", &hook.id, &error, p)) {
          if (error.empty()) error = p + ": expected an object";
          return false;
        }
        if (hook.url.empty()) {
          error = p + ".url: required";
          return false;
        }
        if (hook.id.empty()) hook.id = account_->random_hex(10);
        for (std::size_t e = 0; e < kWebhookEventNames.size(); ++e) {
          hook.events[e] = w.contains("events") && w["events"].is_object() &&
                           w["events"].value(std::string(kWebhookEventNames[e]), false);
        }
        for (std::size_t s = 0; s < kWebhookSourceNames.size(); ++s) {
          hook.sources[s] = w.contains("sources") && w["sources"].is_object() &&
                            w["sources"].value(std::string(kWebhookSourceNames[s]), false);
        }
        list.webhooks.push_back(std::move(hook));
      }
    }
    if (auto it = l.find("forgotten"); it != l.end()) {
      if (!it->is_array()) {
        error = path + ".forgotten: expected an array";
        return false;
      }
      for (const json& f : *it) {
        Key16 k;
        std::string s = f.is_string() ? f.get<std::string>() : "";
        if (s.find('@') != std::string::npos) {
          k = member_key(normalise_email(s)).bytes;
        } else if (!parse_hex16(s, &k)) {
          error = path + ".forgotten: \"" + s + "\" is neither a subscriber hash nor an email";
          return false;
        }
        MemberKey mk;
        mk.bytes = k;
        if (list.find(mk) == nullptr) list.forgotten.insert(k);
      }
    }
    for (const auto& other : lists_done_) {
      if (other == list.id) {
        error = path + ".id: \"" + list.id + "\" appears twice";
        return false;
      }
    }
    lists_done_.push_back(list.id);
    return true;
  }

  // Collects the lists in document order.
  std::vector<std::unique_ptr<List>> take_lists() {
    std::vector<std::unique_ptr<List>> out;
    for (auto& b : builds_) {
      if (b.list) out.push_back(std::move(b.list));
    }
    return out;
  }

  std::string error;

 private:
  struct Build {
    std::unique_ptr<List> list;
    bool defs_ready = false;
    std::size_t count = 0;
    std::vector<json> buffered;
    // Which of the list's keys read_groups() has read; the others come after its members.
    bool tags_read = false, segments_read = false, categories_read = false;
    std::vector<std::uint32_t> declared_segments;
    // Members' interests read before the list's interest_categories: (slot, interests).
    std::vector<std::pair<std::size_t, json>> pending_interests;
  };

  // Reads the list's tags, segments and interest categories that `l` has and that were not read
  // yet.
  bool read_groups(Build& b, std::size_t li, const json& l) {
    std::string path = "mailchimp.lists[" + std::to_string(li) + "]";
    List& list = *b.list;
    auto step = [&](const char* key, bool* done, auto read) {
      if (*done) return true;
      auto it = l.find(key);
      if (it == l.end()) return true;
      *done = true;
      return it->is_null() || read(*it, path + "." + key);
    };
    auto segments = [&](const json& v, const std::string& p) {
      return read_segments(v, account_, &list, &b.declared_segments, &error, p);
    };
    auto categories = [&](const json& v, const std::string& p) {
      return read_interest_categories(v, account_, &list, &error, p);
    };
    // "tags" is the older form of "segments" ({id, name} only).
    return step("tags", &b.tags_read, segments) && step("segments", &b.segments_read, segments) &&
           step("interest_categories", &b.categories_read, categories);
  }

  Build& build(std::size_t li) {
    if (builds_.size() <= li) builds_.resize(li + 1);
    Build& b = builds_[li];
    if (!b.list) b.list = std::make_unique<List>();
    return b;
  }

  bool setup_defs(Build& b, std::size_t li, const json& l) {
    std::string path = "mailchimp.lists[" + std::to_string(li) + "]";
    List& list = *b.list;
    if (auto it = l.find("merge_fields"); it != l.end()) {
      if (!parse_merge_defs(*it, &list.merge_fields, &list.next_merge_id, &error,
                            path + ".merge_fields")) {
        return false;
      }
    } else {
      list.merge_fields = default_merge_fields();
      list.next_merge_id = 5;
    }
    if (!read_groups(b, li, l)) return false;
    b.defs_ready = true;
    return true;
  }

  bool convert(Build& b, std::size_t li, std::size_t mi, const json& o) {
    List& list = *b.list;
    std::string path = path_of_member(li, mi);
    if (!o.is_object()) {
      error = path + ": expected an object";
      return false;
    }
    Member m;
    std::string email, status = "subscribed", origin = "user", email_type = "html", source;
    std::string contact, ueid, before_archive = "subscribed";
    if (!get_string(o, "email_address", &email, &error, path) ||
        !get_string(o, "status", &status, &error, path) ||
        !get_string(o, "unsubscribe_origin", &origin, &error, path) ||
        !get_string(o, "email_type", &email_type, &error, path) ||
        !get_string(o, "source", &source, &error, path) ||
        !get_string(o, "contact_id", &contact, &error, path) ||
        !get_string(o, "unique_email_id", &ueid, &error, path) ||
        !get_string(o, "status_before_archive", &before_archive, &error, path) ||
        !get_time(o, "last_changed", &m.last_changed, &error, path) ||
        !get_time(o, "timestamp_opt", &m.timestamp_opt, &error, path) ||
        !get_time(o, "timestamp_signup", &m.timestamp_signup, &error, path) ||
        !get_bool(o, "vip", &m.vip, &error, path)) {
      return false;
    }
    m.email = trim(email);
    std::string norm = normalise_email(m.email);
    if (EmailProblem p = check_email(norm); p != EmailProblem::kOk) {
      error = path + ".email_address: \"" + m.email + "\": " + std::string(describe(p));
      return false;
    }
    m.key = member_key(norm);
    if (list.find(m.key) != nullptr) {
      error = path + ".email_address: \"" + m.email + "\" appears twice in this list";
      return false;
    }
    auto st = parse_status(status);
    if (!st) {
      error = path + ".status: \"" + status +
              "\" is not one of subscribed, unsubscribed, "
              "cleaned, pending, transactional, archived";
      return false;
    }
    m.status = *st;
    auto before = parse_status(before_archive);
    if (!before || *before == MemberStatus::kArchived) {
      error = path + ".status_before_archive: \"" + before_archive + "\" is not a status";
      return false;
    }
    m.status_before_archive = *before;
    auto org = parse_source(origin);
    if (!org) {
      error = path + ".unsubscribe_origin: \"" + origin + "\" is not one of user, admin, api";
      return false;
    }
    m.unsubscribe_origin = *org;
    if (email_type != "html" && email_type != "text") {
      error = path + ".email_type: \"" + email_type + "\" is not html or text";
      return false;
    }
    m.text_email = email_type == "text";
    m.source = account_->intern_source(source.empty() ? "Import" : source);
    std::string reason, clean_reason, ip_signup, ip_opt, language;
    if (!get_string(o, "unsubscribe_reason", &reason, &error, path) ||
        !get_string(o, "clean_reason", &clean_reason, &error, path) ||
        !get_string(o, "ip_signup", &ip_signup, &error, path) ||
        !get_string(o, "ip_opt", &ip_opt, &error, path) ||
        !get_string(o, "language", &language, &error, path)) {
      return false;
    }
    if (!clean_reason.empty() && clean_reason != "hard" && clean_reason != "abuse") {
      error = path + ".clean_reason: \"" + clean_reason + "\" is not hard or abuse";
      return false;
    }
    if (!reason.empty() || !clean_reason.empty() || !ip_signup.empty() || !ip_opt.empty() ||
        !language.empty()) {
      MemberExtra& x = m.ext();
      x.unsubscribe_reason = reason;
      x.clean_reason = clean_reason;
      x.ip_signup = ip_signup;
      x.ip_opt = ip_opt;
      x.language = language;
    }
    if (!contact.empty()) {
      if (!parse_hex16(contact, &m.contact_id)) {
        error = path + ".contact_id: expected 32 hex digits";
        return false;
      }
      if (list.find_contact(m.contact_id) != nullptr) {
        error = path + ".contact_id: appears twice in this list";
        return false;
      }
    } else {
      do {
        m.contact_id = account_->random16();
      } while (list.find_contact(m.contact_id) != nullptr);
    }
    if (!ueid.empty()) {
      char* end = nullptr;
      m.unique_email_id = std::strtoull(ueid.c_str(), &end, 16);
      if (ueid.size() != 10 || *end != '\0') {
        error = path + ".unique_email_id: expected 10 hex digits";
        return false;
      }
    } else {
      m.unique_email_id = account_->random_unique_email_id();
    }
    if (auto it = o.find("web_id"); it != o.end() && it->is_number_integer()) {
      m.web_id = it->get<std::uint32_t>();
      account_->next_web_id = std::max(account_->next_web_id, m.web_id + 1);
    } else {
      m.web_id = account_->next_web_id++;
    }
    if (auto it = o.find("merge_fields"); it != o.end() && !it->is_null()) {
      if (!it->is_object()) {
        error = path + ".merge_fields: expected an object";
        return false;
      }
      std::vector<std::string> values(list.merge_fields.size());
      for (auto kv = it->begin(); kv != it->end(); ++kv) {
        int idx = list.merge_index(kv.key());
        if (idx < 0) {
          error = path + ".merge_fields." + kv.key() +
                  ": no such merge field in this list (declare it in the list's merge_fields)";
          return false;
        }
        std::string msg = encode_merge_value(list.merge_fields[idx], kv.value(), &values[idx]);
        if (!msg.empty()) {
          error = path + ".merge_fields." + kv.key() + ": " + msg;
          return false;
        }
      }
      m.merges = pack_merges(values);
    }
    if (auto it = o.find("tags"); it != o.end() && !it->is_null()) {
      if (!it->is_array()) {
        error = path + ".tags: expected an array";
        return false;
      }
      for (const json& t : *it) {
        std::string name;
        Micros added = kNoTime;
        if (t.is_string()) {
          name = t.get<std::string>();
        } else if (t.is_object() && t.contains("name") && t["name"].is_string()) {
          name = t["name"].get<std::string>();
          if (!get_time(t, "date_added", &added, &error, path + ".tags")) return false;
        } else {
          error = path + ".tags: expected names or {\"name\": ...} objects";
          return false;
        }
        if (name.empty()) continue;
        std::uint32_t id = list.tag_id(name, true, &account_->next_tag_id);
        bool dup = false;
        for (const MemberTag& mt : m.tags)
          dup = dup || mt.tag_id == id;
        if (!dup) m.tags.push_back(MemberTag{id, added});
      }
    }
    if (m.last_changed == kNoTime) {
      m.last_changed = std::max(m.timestamp_opt, m.timestamp_signup);
      if (m.last_changed == kNoTime) m.last_changed = to_seconds(now_);
    }
    const json* interests = nullptr;
    if (auto it = o.find("interests"); it != o.end() && !it->is_null()) {
      if (b.categories_read) {
        if (!read_member_interests(*it, list, &m.interests, &error, path + ".interests")) {
          return false;
        }
      } else {
        interests = &*it;  // resolved when the list's interest_categories are read
      }
    }
    if (auto it = o.find("events"); it != o.end() && !it->is_null()) {
      std::vector<MemberEvent> events;
      if (!read_member_events(*it, &events, &error, path + ".events")) return false;
      for (MemberEvent& e : events) {
        if (e.occurred_at == kNoTime) e.occurred_at = m.last_changed;
      }
      if (!events.empty()) m.ext().events = std::move(events);
    }
    for (MemberTag& t : m.tags) {
      if (t.date_added == kNoTime) t.date_added = m.last_changed;
    }
    if (m.status == MemberStatus::kSubscribed || m.status == MemberStatus::kPending) {
      list.last_sub = std::max(list.last_sub, m.last_changed);
    } else if (m.status == MemberStatus::kUnsubscribed) {
      list.last_unsub = std::max(list.last_unsub, m.last_changed);
    }
    list.add(std::move(m));
    if (interests != nullptr) b.pending_interests.emplace_back(list.members.size() - 1, *interests);
    return true;
  }

  Account* account_;
  Micros now_;
  std::vector<Build> builds_;
  std::vector<std::string> lists_done_;
};

// A SAX handler that builds a DOM of everything except members, which it hands to the Loader as
// soon as each is complete.
class SeedSax final : public nlohmann::json_sax<json> {
 public:
  explicit SeedSax(Loader* loader) : loader_(loader) {}

  // The "civicrm" part (civicrm/seed.h reads it) is skipped without building anything: with a
  // million contacts it is most of the document.
  bool null() override { return skipping() || add(json(nullptr)); }
  bool boolean(bool v) override { return skipping() || add(json(v)); }
  bool number_integer(number_integer_t v) override { return skipping() || add(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return skipping() || add(json(v)); }
  bool number_float(number_float_t v, const string_t&) override {
    return skipping() || add(json(v));
  }
  bool string(string_t& v) override { return skipping() || add(json(std::move(v))); }
  bool binary(binary_t& v) override { return skipping() || add(json::binary(std::move(v))); }
  bool start_object(std::size_t) override {
    if (enter_skip()) return true;
    push(json::object());
    return true;
  }
  bool key(string_t& k) override {
    if (skip_depth_ > 0) return true;
    stack_.back().pending_key = std::move(k);
    return true;
  }
  bool end_object() override { return leave_skip() || pop(); }
  bool start_array(std::size_t) override {
    if (enter_skip()) return true;
    push(json::array());
    return true;
  }
  bool end_array() override { return leave_skip() || pop(); }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    error = "not valid JSON at byte " + std::to_string(position) + ": " + ex.what();
    return false;
  }

  json root;
  std::string error;

 private:
  struct Frame {
    json value;
    std::string key;  // this container's key in its parent object ("" in an array)
    std::string pending_key;
  };

  // Whether the value being read lies inside root["civicrm"] (a scalar there is dropped).
  bool skipping() const {
    return skip_depth_ > 0 || (stack_.size() == 1 && stack_[0].value.is_object() &&
                               stack_[0].pending_key == "civicrm");
  }
  // A container starts: inside the skipped part, or as root["civicrm"] itself.
  bool enter_skip() {
    if (!skipping()) return false;
    ++skip_depth_;
    return true;
  }
  // A container ends inside the skipped part. Returns true when it was skipped.
  bool leave_skip() {
    if (skip_depth_ == 0) return false;
    if (--skip_depth_ == 0) stack_.back().pending_key.clear();
    return true;
  }
  int skip_depth_ = 0;

  void push(json v) {
    Frame f;
    f.value = std::move(v);
    if (!stack_.empty() && stack_.back().value.is_object()) f.key = stack_.back().pending_key;
    stack_.push_back(std::move(f));
  }

  bool add(json&& v) {
    if (stack_.empty()) {
      root = std::move(v);
      return true;
    }
    Frame& top = stack_.back();
    if (top.value.is_array()) {
      top.value.push_back(std::move(v));
    } else {
      top.value[top.pending_key] = std::move(v);
    }
    return true;
  }

  // Whether stack_[0..2] is root{"mailchimp":{"lists":[ .
  bool in_lists() const {
    return stack_.size() >= 3 && stack_[0].value.is_object() && stack_[1].key == "mailchimp" &&
           stack_[1].value.is_object() && stack_[2].key == "lists" && stack_[2].value.is_array();
  }

  bool pop() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    if (stack_.size() == 5 && f.value.is_object() && in_lists() && stack_[3].value.is_object() &&
        stack_[4].key == "members" && stack_[4].value.is_array()) {
      if (!loader_->member(stack_[2].value.size(), stack_[3].value, std::move(f.value))) {
        error = loader_->error;
        return false;
      }
      return true;
    }
    if (stack_.size() == 3 && in_lists()) {
      std::size_t index = stack_[2].value.size();
      if (!loader_->list_done(index, std::move(f.value))) {
        error = loader_->error;
        return false;
      }
      stack_[2].value.push_back(nullptr);  // keeps the count of lists
      return true;
    }
    return add(std::move(f.value));
  }

  Loader* loader_;
  std::vector<Frame> stack_;
};

}  // namespace

Result<LoadedState> parse_seed(std::string_view text, Micros now) {
  LoadedState out;
  out.account = std::make_unique<Account>();
  Loader loader(out.account.get(), now);
  SeedSax sax(&loader);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &sax);
  } catch (const std::exception& e) {
    return Status::invalid(std::string("seed: ") + e.what());
  }
  if (!ok) return Status::invalid("seed: " + (sax.error.empty() ? "cannot parse" : sax.error));
  const json& root = sax.root;
  if (!root.is_object()) return Status::invalid("seed: expected a JSON object");
  Account& a = *out.account;
  a.api_key = std::string(kDefaultApiKey);
  if (auto mc = root.find("mailchimp"); mc != root.end()) {
    if (!mc->is_object()) return Status::invalid("seed: mailchimp: expected an object");
    if (auto k = mc->find("api_key"); k != mc->end()) {
      if (!k->is_string()) return Status::invalid("seed: mailchimp.api_key: expected a string");
      a.api_key = k->get<std::string>();
      auto dash = a.api_key.rfind('-');
      if (dash == std::string::npos || dash == 0 || dash + 1 == a.api_key.size()) {
        return Status::invalid(
            "seed: mailchimp.api_key: expected \"<key>-<dc>\", e.g. "
            "\"0123456789abcdef0123456789abcdef-us6\"");
      }
    }
    if (auto l = mc->find("lists"); l != mc->end() && !l->is_array()) {
      return Status::invalid("seed: mailchimp.lists: expected an array");
    }
  }
  a.lists = loader.take_lists();
  if (auto c = root.find("clock"); c != root.end() && !c->is_null()) {
    if (!c->is_string()) return Status::invalid("seed: clock: expected an ISO 8601 time");
    auto t = parse_iso8601(c->get<std::string>());
    if (!t.is_ok() || *t == kNoTime) {
      return Status::invalid("seed: clock: " +
                             (t.is_ok() ? std::string("empty") : t.status().message()));
    }
    out.clock = *t;
  }
  return out;
}

}  // namespace concord::sandbox

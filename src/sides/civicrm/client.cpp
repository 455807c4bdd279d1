#include "concord/civicrm_client.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>

#include "concord/email.h"
#include "concord/member.h"
#include "concord/record.h"
#include "concord/snapshot.h"

namespace concord {
namespace {

// ordered_json: APIv4 reads orderBy in the order keys are sent (PHP keeps it); a sorted object
// would reorder multi-key orderBy.
using json = nlohmann::ordered_json;

struct KeyHash {
  std::size_t operator()(const MemberKey& k) const {
    std::size_t h;
    std::memcpy(&h, k.bytes.data(), sizeof h);  // an MD5 digest: any 8 bytes are a good hash
    return h;
  }
};

// One contact of the group as the history and email reads describe it.
struct Candidate {
  std::int64_t contact_id = 0;
  CrmState state;
  std::string first_name, last_name;
  std::vector<std::int64_t> duplicates;

  bool in_group() const { return !state.trashed && state.status == CrmStatus::kAdded; }
};

// DESIGN §2: the contact not trashed and already in the group, else the lowest id.
bool preferred(const Candidate& a, const Candidate& b) {
  if (a.in_group() != b.in_group()) return a.in_group();
  if (a.state.trashed != b.state.trashed) return !a.state.trashed;
  return a.contact_id < b.contact_id;
}

Candidate merge(Candidate a, Candidate b) {
  Candidate& win = preferred(a, b) ? a : b;
  Candidate& lose = preferred(a, b) ? b : a;
  win.duplicates.push_back(lose.contact_id);
  win.duplicates.insert(win.duplicates.end(), lose.duplicates.begin(), lose.duplicates.end());
  std::sort(win.duplicates.begin(), win.duplicates.end());
  win.duplicates.erase(std::unique(win.duplicates.begin(), win.duplicates.end()),
                       win.duplicates.end());
  win.state.duplicate = true;
  return std::move(win);
}

std::string encode_body(const Candidate& c) {
  json j = {{"contact_id", c.contact_id}, {"first_name", c.first_name}, {"last_name", c.last_name}};
  if (!c.duplicates.empty()) j["duplicates"] = c.duplicates;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool truthy(const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string()) return v != "" && v != "0";
  return false;
}

std::int64_t as_id(const json& v) {
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_string()) {
    try {
      return std::stoll(v.get<std::string>());
    } catch (const std::exception&) {
    }
  }
  return 0;
}

std::string str(const json& row, const char* key) {
  auto it = row.find(key);
  return it != row.end() && it->is_string() ? it->get<std::string>() : std::string();
}

using KeySet = std::unordered_set<MemberKey, KeyHash>;

// One read of the group into the snapshot: where it writes, and which stored members it replaces
// rather than merges with.
struct GroupRead {
  GroupRead(Store& s, const PairHandle& p, SnapshotWriter& w, FetchStats& st)
      : store(s), pair(p), writer(w), stats(st) {}

  Store& store;
  const PairHandle& pair;
  SnapshotWriter& writer;
  FetchStats& stats;
  // The keys whose contacts this read sees all of: every key (a full read), the keys asked for (a
  // targeted read), or none (an incremental read, which sees changed contacts only). A covered
  // key's stored member is replaced; another key's is merged with what the read found.
  bool all_keys = false;
  KeySet asked;
  KeySet written;  // covered keys written so far (their contacts may straddle pages)
  Micros max_seen = kNoTime;
  // An incremental read: a key that is not covered and that several contacts share (in this read
  // or per its stored member) is not merged but left, with its email here, for a targeted read,
  // which decides its duplicates afresh (a merge could keep a stale stored winner).
  bool defer_shared = false;
  std::vector<std::string> deferred;

  bool covers(const MemberKey& k) const { return all_keys || asked.count(k) != 0; }
};

}  // namespace

Result<CrmRecord> parse_crm_record(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return Status::corruption("a stored CRM record is not a JSON object");
  CrmRecord r;
  r.contact_id = as_id(j.value("contact_id", json()));
  r.first_name = str(j, "first_name");
  r.last_name = str(j, "last_name");
  if (auto d = j.find("duplicates"); d != j.end() && d->is_array()) {
    for (const json& id : *d)
      r.duplicates.push_back(as_id(id));
  }
  return r;
}

std::string civicrm_watermark_key(std::int64_t group_id) {
  return "civicrm.watermark/" + std::to_string(group_id);
}

struct CiviCrmClient::Impl {
  CiviCrmOptions options;
  std::unique_ptr<http::Client> http;
  std::shared_ptr<const TimeZone> zone;
  std::string base_path;

  // One APIv4 call. Errors never quote the keys (they are only in headers).
  // `server_time`, when given, receives the answer's Date header (kNoTime without one).
  // `idempotent` false: a call that creates something, which the transport must not repeat.
  Result<json> call(std::string_view entity, std::string_view action, const json& params,
                    Micros* server_time = nullptr, bool idempotent = true) {
    http::Request req;
    req.method = "POST";
    req.idempotent = idempotent;
    req.target =
        base_path + "/civicrm/ajax/api4/" + std::string(entity) + "/" + std::string(action);
    req.headers.push_back({"X-Civi-Auth", "Bearer " + options.api_key});
    if (!options.site_key.empty()) req.headers.push_back({"X-Civi-Key", options.site_key});
    req.headers.push_back({"X-Requested-With", "XMLHttpRequest"});
    req.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    req.headers.push_back({"Accept", "application/json"});
    req.body =
        "params=" + http::url_encode(params.dump(-1, ' ', false, json::error_handler_t::replace));
    const std::string what = "CiviCRM " + std::string(entity) + "." + std::string(action);
    Result<http::Response> r = http->send(req);
    if (!r) return r.status().with_context(what);
    if (server_time != nullptr) {
      Result<Micros> t = parse_http_date(r->header("Date"));
      *server_time = t ? *t : kNoTime;
    }
    json j = json::parse(r->body, nullptr, false);
    if (r->status == 200 && j.is_object() && j.contains("values")) return j;
    std::string detail;
    if (j.is_object() && j.contains("error_message")) {
      detail = j["error_message"].is_string() ? j["error_message"].get<std::string>()
                                              : j["error_message"].dump();
    } else {
      detail = r->body.substr(0, 200);
    }
    std::string msg = what + ": HTTP " + std::to_string(r->status) + ": " + detail;
    if (r->status == 401) {
      return Status::invalid(what + ": CiviCRM refused the API key or site key (" +
                             r->body.substr(0, 100) + ")");
    }
    if (r->status == 200) return Status::unavailable(what + ": the answer is not an APIv4 result");
    if (r->status >= 500 || r->status == 429) return Status::unavailable(std::move(msg));
    return Status::invalid(std::move(msg));
  }

  // The untrashed contacts that have these writes' addresses: email → the lowest contact id.
  Result<std::map<std::string, std::int64_t>> contacts_by_email(
      const std::vector<CrmWrite>& writes, const std::vector<std::size_t>& which) {
    json emails = json::array();
    for (std::size_t i : which)
      emails.push_back(writes[i].email);
    Result<json> found =
        call("Email", "get",
             {{"select", {"contact_id", "email"}},
              {"where", json::array({json::array({"email", "IN", emails}),
                                     json::array({"contact_id.is_deleted", "=", false})})},
              {"orderBy", {{"contact_id", "ASC"}}},
              {"limit", 0}});
    if (!found) return found.status();
    std::map<std::string, std::int64_t> out;
    for (const json& row : (*found)["values"]) {
      out.emplace(normalise_email(str(row, "email")), as_id(row.value("contact_id", json())));
    }
    return out;
  }

  // Creates these writes' contacts, each with its address as primary email, in one call (never
  // repeated by the transport: see apply()). Their ids, in order.
  Result<std::vector<std::int64_t>> create_contacts(const std::vector<CrmWrite>& writes,
                                                    const std::vector<std::size_t>& which) {
    json records = json::array();
    for (std::size_t i : which) {
      json rec = {{"contact_type", "Individual"},
                  {"source", options.contact_source},
                  {"email_primary.email", writes[i].email}};
      if (!writes[i].first_name.empty()) rec["first_name"] = writes[i].first_name;
      if (!writes[i].last_name.empty()) rec["last_name"] = writes[i].last_name;
      records.push_back(std::move(rec));
    }
    Result<json> made = call("Contact", "save", {{"records", records}}, nullptr, false);
    if (!made) return made.status();
    const json& rows = (*made)["values"];
    std::vector<std::int64_t> ids;
    if (rows.is_array()) {
      for (const json& row : rows)
        ids.push_back(as_id(row.value("id", json())));
    }
    if (ids.size() != which.size() || std::count(ids.begin(), ids.end(), 0) != 0) {
      return Status::unavailable("CiviCRM Contact.save: the answer does not list the " +
                                 std::to_string(which.size()) + " contacts created");
    }
    return ids;
  }

  Status put_watermark(Store& store, const PairHandle& pair, std::int64_t group, Micros w) {
    return store.put(pair, Family::kMeta, civicrm_watermark_key(group), std::to_string(w));
  }

  // Emails of some contacts: contact id → its rows.
  Result<std::map<std::int64_t, std::vector<json>>> emails_of(
      const std::vector<std::int64_t>& ids) {
    std::map<std::int64_t, std::vector<json>> out;
    if (ids.empty()) return out;
    json params = {
        {"select", {"id", "contact_id", "email", "is_primary", "is_bulkmail", "on_hold"}},
        {"where", json::array({json::array({"contact_id", "IN", ids})})},
        {"orderBy", {{"contact_id", "ASC"}, {"id", "ASC"}}},
        {"limit", 0}};
    Result<json> r = call("Email", "get", params);
    if (!r) return r.status();
    for (const json& row : (*r)["values"])
      out[as_id(row.value("contact_id", json()))].push_back(row);
    return out;
  }

  // Streams the group's history rows that also meet `filters` (more where clauses), ordered by
  // contact, then id, and writes one member per contact through `read`.
  Status read_history(std::int64_t group_id, const json& filters, GroupRead& read,
                      Micros* server_start = nullptr);
  // The member keys among these emails that the pair's Mailchimp snapshot has.
  static Result<std::set<MemberKey>> mailchimp_keys(
      const std::map<std::int64_t, std::vector<json>>& emails, Store& store,
      const PairHandle& pair);
  Status write_contacts(std::vector<Candidate>& contacts, GroupRead& read);
};

Status CiviCrmClient::Impl::read_history(std::int64_t group_id, const json& filters,
                                         GroupRead& read, Micros* server_start) {
  json where = json::array({json::array({"group_id", "=", group_id})});
  for (const json& clause : filters)
    where.push_back(clause);
  FetchStats& stats = read.stats;
  std::vector<Candidate> done;
  Candidate current;  // the contact whose rows are being read (may continue on the next page)
  bool have_current = false;
  for (std::int64_t offset = 0;; offset += options.page_size) {
    json params = {
        {"select",
         {"id", "contact_id", "status", "date", "contact_id.is_deleted", "contact_id.do_not_email",
          "contact_id.is_opt_out", "contact_id.first_name", "contact_id.last_name"}},
        {"where", where},
        {"orderBy", {{"contact_id", "ASC"}, {"id", "ASC"}}},
        {"limit", options.page_size},
        {"offset", offset}};
    Result<json> page =
        call("SubscriptionHistory", "get", params, offset == 0 ? server_start : nullptr);
    if (!page) return page.status();
    const json& rows = (*page)["values"];
    if (!rows.is_array()) return Status::unavailable("SubscriptionHistory.get: no values array");
    ++stats.pages;
    for (const json& row : rows) {
      std::int64_t cid = as_id(row.value("contact_id", json()));
      if (have_current && cid != current.contact_id) {
        done.push_back(std::move(current));
        have_current = false;
      }
      Candidate c;
      c.contact_id = cid;
      std::optional<CrmStatus> st = parse_crm_status(str(row, "status"));
      c.state.status = st.value_or(CrmStatus::kNone);
      Result<Micros> local = parse_civil(str(row, "date"));
      c.state.changed_at = local ? zone->local_to_utc(*local) : kNoTime;
      if (c.state.changed_at != kNoTime && c.state.changed_at > read.max_seen) {
        read.max_seen = c.state.changed_at;
      }
      c.state.contact_known = true;
      c.state.trashed = truthy(row.value("contact_id.is_deleted", json()));
      c.state.do_not_email = truthy(row.value("contact_id.do_not_email", json()));
      c.state.is_opt_out = truthy(row.value("contact_id.is_opt_out", json()));
      c.first_name = str(row, "contact_id.first_name");
      c.last_name = str(row, "contact_id.last_name");
      current = std::move(c);  // rows come in id order: the last one is the latest
      have_current = true;
    }
    const bool last_page = rows.size() < static_cast<std::size_t>(options.page_size);
    if (last_page && have_current) {
      done.push_back(std::move(current));
      have_current = false;
    }
    if (Status s = write_contacts(done, read); !s) return s;
    done.clear();
    if (last_page) return Status::ok();
  }
}

Result<std::set<MemberKey>> CiviCrmClient::Impl::mailchimp_keys(
    const std::map<std::int64_t, std::vector<json>>& emails, Store& store, const PairHandle& pair) {
  std::vector<MemberKey> keys;
  for (const auto& [id, rows] : emails) {
    for (const json& e : rows) {
      std::string email = normalise_email(str(e, "email"));
      if (!email.empty()) keys.push_back(member_key(email));
    }
  }
  std::vector<std::string_view> views;
  views.reserve(keys.size());
  for (const MemberKey& k : keys)
    views.push_back(k.view());
  std::vector<std::optional<std::string>> found;
  if (Status s = store.multi_get(pair, Family::kMailchimp, views, &found); !s) return s;
  std::set<MemberKey> known;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (found[i]) known.insert(keys[i]);
  }
  return known;
}

Status CiviCrmClient::Impl::write_contacts(std::vector<Candidate>& contacts, GroupRead& read) {
  if (contacts.empty()) return Status::ok();
  Store& store = read.store;
  const PairHandle& pair = read.pair;
  SnapshotWriter& writer = read.writer;
  FetchStats& stats = read.stats;
  std::vector<std::int64_t> ids;
  for (const Candidate& c : contacts)
    ids.push_back(c.contact_id);
  Result<std::map<std::int64_t, std::vector<json>>> emails = emails_of(ids);
  if (!emails) return emails.status();

  // An address the pair's Mailchimp snapshot already has is the one that represents its contact:
  // a contact with several addresses is matched to the Mailchimp member it already is, rather
  // than appearing under another of its addresses (which would read as the member leaving the
  // group on one key and joining on another).
  Result<std::set<MemberKey>> in_mailchimp = mailchimp_keys(*emails, store, pair);
  if (!in_mailchimp) return in_mailchimp.status();

  // Key each contact by its representative email; merge contacts that share one.
  std::map<MemberKey, std::pair<Candidate, std::string>> members;  // key → contact, email
  for (Candidate& c : contacts) {
    ++stats.members;
    std::vector<json>& rows = (*emails)[c.contact_id];
    std::vector<const json*> usable, known;
    for (const json& e : rows) {
      if (str(e, "email").empty()) continue;
      usable.push_back(&e);
      if (in_mailchimp->count(member_key(normalise_email(str(e, "email"))))) known.push_back(&e);
    }
    if (!known.empty()) {
      usable = known;
    } else if (usable.size() > 1) {  // an address on hold only when there is no other
      std::vector<const json*> live;
      for (const json* e : usable) {
        if (!truthy(e->value("on_hold", json()))) live.push_back(e);
      }
      if (!live.empty()) usable = live;
    }
    const json* chosen = nullptr;
    for (const json* e : usable) {
      if (truthy(e->value("is_bulkmail", json()))) {
        chosen = e;
        break;
      }
    }
    if (!chosen) {
      for (const json* e : usable) {
        if (truthy(e->value("is_primary", json()))) {
          chosen = e;
          break;
        }
      }
    }
    if (!chosen && !usable.empty()) chosen = usable.front();
    const std::string source = "contact " + std::to_string(c.contact_id);
    if (!chosen) {
      writer.reject({source, "", "email", "the contact has no email address"});
      ++stats.rejected;
      continue;
    }
    const std::string raw = str(*chosen, "email");
    std::string email = normalise_email(raw);
    if (EmailProblem p = check_email(email); p != EmailProblem::kOk) {
      writer.reject({source, raw, "email", std::string(describe(p))});
      ++stats.rejected;
      continue;
    }
    c.state.email_on_hold = truthy(chosen->value("on_hold", json()));
    MemberKey key = member_key(email);
    auto it = members.find(key);
    if (it != members.end()) {
      it->second.first = merge(std::move(it->second.first), std::move(c));
    } else {
      members.emplace(key, std::make_pair(std::move(c), std::move(email)));
    }
  }

  // A contact sharing its email with one written earlier in this read (or, for a key the read
  // does not cover, with the stored member of another contact) is merged with it.
  std::vector<std::string_view> keys;
  for (auto& [key, m] : members)
    keys.push_back(key.view());
  std::vector<std::optional<std::string>> stored;
  if (Status s = store.multi_get(pair, Family::kCrm, keys, &stored); !s) return s;
  std::vector<SnapshotEntry> entries;
  std::size_t i = 0;
  for (auto& [key, m] : members) {
    Candidate& c = m.first;
    const std::optional<std::string>& old = stored[i++];
    if (old && (!read.covers(key) || read.written.count(key))) {
      SnapshotView v;
      CrmState prev_state;
      if (decode_snapshot(*old, &v) && crm_state_of(v.header, &prev_state)) {
        Result<CrmRecord> rec = parse_crm_record(v.body);
        if (rec && read.defer_shared &&
            (!c.duplicates.empty() || !rec->duplicates.empty() ||
             (rec->contact_id != 0 && rec->contact_id != c.contact_id))) {
          read.deferred.push_back(m.second);
          continue;
        }
        if (rec && rec->contact_id != 0 && rec->contact_id != c.contact_id) {
          Candidate prev;
          prev.contact_id = rec->contact_id;
          prev.state = prev_state;
          prev.first_name = rec->first_name;
          prev.last_name = rec->last_name;
          prev.duplicates = rec->duplicates;
          c = merge(std::move(prev), std::move(c));
        }
      }
    }
    if (read.covers(key)) read.written.insert(key);
    std::string body = encode_body(c);
    SnapshotEntry e{key, {}};
    std::string content = c.first_name;
    content += '\x1f';
    content += c.last_name;
    encode_snapshot(crm_header(c.state, content_hash(content, content_hash(m.second))), m.second,
                    body, &e.value);
    entries.push_back(std::move(e));
  }
  stats.written += entries.size();
  return writer.write_page(entries);
}

CiviCrmClient::CiviCrmClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CiviCrmClient::~CiviCrmClient() = default;

Result<std::unique_ptr<CiviCrmClient>> CiviCrmClient::create(
    CiviCrmOptions options, std::unique_ptr<http::Client> transport) {
  if (options.api_key.empty()) return Status::invalid("the CiviCRM API key is empty");
  if (options.method.empty() || options.method.size() > 8) {
    // SubscriptionHistory.method is 8 characters; CiviCRM drops a longer one's history row.
    return Status::invalid("the CiviCRM history method must be 1 to 8 characters");
  }
  Result<http::Url> url = http::Url::parse(options.url);
  if (!url) return url.status().with_context("CiviCRM url");
  auto zone = TimeZone::load(options.timezone);
  if (!zone) return zone.status().with_context("CiviCRM timezone");
  auto impl = std::make_unique<Impl>();
  impl->base_path = url->path;
  impl->zone = *zone;
  if (!transport) {
    auto c = http::Client::create(*url, options.http);
    if (!c) return c.status().with_context("CiviCRM connection");
    transport = std::move(*c);
  }
  impl->http = std::move(transport);
  impl->options = std::move(options);
  return std::unique_ptr<CiviCrmClient>(new CiviCrmClient(std::move(impl)));
}

std::uint64_t CiviCrmClient::requests() const {
  return impl_->http->attempts();
}

Result<CrmGroup> CiviCrmClient::resolve_group(std::string_view id_or_name) {
  json where;
  bool numeric = !id_or_name.empty() && std::all_of(id_or_name.begin(), id_or_name.end(),
                                                    [](char c) { return c >= '0' && c <= '9'; });
  if (numeric) {
    where = json::array({json::array({"id", "=", std::stoll(std::string(id_or_name))})});
  } else {
    where =
        json::array({json::array({"OR", json::array({json::array({"name", "=", id_or_name}),
                                                     json::array({"title", "=", id_or_name})})})});
  }
  Result<json> r = impl_->call(
      "Group", "get", {{"select", {"id", "name", "title"}}, {"where", where}, {"limit", 25}});
  if (!r) return r.status();
  const json& v = (*r)["values"];
  if (v.empty()) {
    return Status::not_found("no CiviCRM group has the id, name or title \"" +
                             std::string(id_or_name) + "\"");
  }
  if (v.size() > 1) {
    std::string ids;
    for (const json& g : v)
      ids += (ids.empty() ? "" : ", ") + std::to_string(as_id(g["id"]));
    return Status::invalid("several CiviCRM groups are named \"" + std::string(id_or_name) +
                           "\" (ids " + ids + "); give the id instead");
  }
  return CrmGroup{as_id(v[0]["id"]), str(v[0], "name"), str(v[0], "title")};
}

Result<FetchStats> CiviCrmClient::fetch_full(std::int64_t group_id, Store& store,
                                             const PairHandle& pair) {
  Impl& im = *impl_;
  FetchStats stats;
  SnapshotWriter writer(store, pair, Side::kCrm, SnapshotWriter::Mode::kFull);
  GroupRead read(store, pair, writer, stats);
  read.all_keys = true;
  Micros server_start = kNoTime;
  if (Status s = im.read_history(group_id, json::array(), read, &server_start); !s) return s;
  if (Status f = writer.finish(); !f) return f;
  stats.removed = writer.stats().removed;
  // The watermark is the server's time when the read began (its Date header): rows dated before
  // it were read. Without a Date header, the latest row seen.
  stats.watermark = server_start != kNoTime ? server_start : read.max_seen;
  if (stats.watermark != kNoTime) {
    if (Status w = im.put_watermark(store, pair, group_id, stats.watermark); !w) return w;
  }
  return stats;
}

Result<FetchStats> CiviCrmClient::fetch_incremental(std::int64_t group_id, Store& store,
                                                    const PairHandle& pair) {
  Impl& im = *impl_;
  auto v = store.get(pair, Family::kMeta, civicrm_watermark_key(group_id));
  if (!v) return v.status();
  if (!v->has_value()) return fetch_full(group_id, store, pair);
  Micros watermark;
  try {
    watermark = std::stoll(**v);
  } catch (const std::exception&) {
    return Status::corruption("the stored CiviCRM watermark is not a number");
  }
  FetchStats stats;
  SnapshotWriter writer(store, pair, Side::kCrm, SnapshotWriter::Mode::kIncremental);
  GroupRead read(store, pair, writer, stats);
  read.max_seen = watermark;
  read.defer_shared = true;
  Micros server_start = kNoTime;
  std::string since =
      format_civil(im.zone->utc_to_local(watermark - im.options.incremental_overlap));
  if (Status s = im.read_history(group_id, json::array({json::array({"date", ">=", since})}), read,
                                 &server_start);
      !s) {
    return s;
  }
  if (Status f = writer.finish(); !f) return f;
  if (!read.deferred.empty()) {  // shared addresses: all their contacts read again, as by a webhook
    Result<FetchStats> shared = fetch_members(group_id, read.deferred, store, pair);
    if (!shared) return shared.status();
    stats.pages += shared->pages;
    stats.written += shared->written;
    stats.rejected += shared->rejected;
    stats.removed += shared->removed;
  }
  stats.watermark = server_start != kNoTime ? std::max(watermark, server_start) : read.max_seen;
  if (Status w = im.put_watermark(store, pair, group_id, stats.watermark); !w) return w;
  return stats;
}

Result<FetchStats> CiviCrmClient::fetch_members(std::int64_t group_id,
                                                const std::vector<std::string>& emails,
                                                Store& store, const PairHandle& pair) {
  Impl& im = *impl_;
  FetchStats stats;
  SnapshotWriter writer(store, pair, Side::kCrm, SnapshotWriter::Mode::kIncremental);
  GroupRead read(store, pair, writer, stats);
  std::vector<MemberKey> keys;  // each address once, in the order given
  json addresses = json::array();
  for (const std::string& e : emails) {
    std::string n = normalise_email(e);
    if (n.empty()) continue;
    MemberKey k = member_key(n);
    if (!read.asked.insert(k).second) continue;
    keys.push_back(k);
    addresses.push_back(std::move(n));
  }
  if (keys.empty()) return stats;

  // The contacts to read: those that have one of the addresses (trashed ones too: the group read
  // sees them) …
  Result<json> found = im.call("Email", "get",
                               {{"select", {"contact_id"}},
                                {"where", json::array({json::array({"email", "IN", addresses})})},
                                {"limit", 0}});
  if (!found) return found.status();
  std::set<std::int64_t> ids;
  for (const json& row : (*found)["values"])
    ids.insert(as_id(row.value("contact_id", json())));
  // … and those the stored members of the addresses name, which may no longer have them.
  std::vector<std::string_view> views;
  for (const MemberKey& k : keys)
    views.push_back(k.view());
  std::vector<std::optional<std::string>> stored;
  if (Status s = store.multi_get(pair, Family::kCrm, views, &stored); !s) return s;
  for (const std::optional<std::string>& v : stored) {
    SnapshotView view;
    if (!v || !decode_snapshot(*v, &view)) continue;
    Result<CrmRecord> rec = parse_crm_record(view.body);
    if (!rec) continue;
    ids.insert(rec->contact_id);
    ids.insert(rec->duplicates.begin(), rec->duplicates.end());
  }
  ids.erase(0);

  if (!ids.empty()) {
    if (Status s = im.read_history(
            group_id, json::array({json::array({"contact_id", "IN", json(ids)})}), read);
        !s) {
      return s;
    }
  }
  if (Status f = writer.finish(); !f) return f;
  // An address that no contact with history in the group is represented by is no member.
  Batch batch;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (read.written.count(keys[i]) || !stored[i]) continue;
    batch.del(pair, Family::kCrm, views[i]);
    ++stats.removed;
  }
  if (batch.count() > 0) {
    if (Status s = store.write(batch); !s) {
      return s.with_context("removing addresses no longer in the group");
    }
  }
  return stats;
}

Status CiviCrmClient::change_email(std::int64_t contact_id, std::string_view old_email,
                                   std::string_view new_email) {
  Impl& im = *impl_;
  const std::string what = "changing an email of contact " + std::to_string(contact_id);
  const std::string old_n = normalise_email(old_email), new_n = normalise_email(new_email);
  if (EmailProblem p = check_email(new_n); p != EmailProblem::kOk) {
    return Status::invalid(what + ": the new address is not usable (" + std::string(describe(p)) +
                           ")");
  }
  // The contact's addresses, compared as concord compares them (case and surrounding spaces).
  Result<json> have =
      im.call("Email", "get",
              {{"select", {"id", "email"}},
               {"where", json::array({json::array({"contact_id", "=", contact_id})})},
               {"limit", 0}});
  if (!have) return have.status().with_context(what);
  std::string old_stored;
  bool has_old = false;
  for (const json& row : (*have)["values"]) {
    const std::string e = str(row, "email");
    if (normalise_email(e) == new_n) return Status::ok();  // already there: nothing to do
    if (!has_old && normalise_email(e) == old_n) {
      has_old = true;
      old_stored = e;
    }
  }
  if (!has_old) return Status::not_found(what + ": the contact has no address " + old_n);
  // The new address is written without surrounding spaces, otherwise as given.
  constexpr std::string_view kSpace = " \t\n\v\f\r";  // as normalise_email() trims
  const std::size_t first = new_email.find_first_not_of(kSpace);
  const std::size_t last = new_email.find_last_not_of(kSpace);
  Result<json> r =
      im.call("Email", "update",
              {{"values", {{"email", std::string(new_email.substr(first, last - first + 1))}}},
               {"where", json::array({json::array({"contact_id", "=", contact_id}),
                                      json::array({"email", "=", old_stored})})}});
  if (!r) return r.status().with_context(what);
  const json& rows = (*r)["values"];
  if (!rows.is_array() || rows.empty()) {
    return Status::not_found(what + ": the contact no longer has the address " + old_n);
  }
  return Status::ok();
}

std::vector<CrmWriteOutcome> CiviCrmClient::apply(std::int64_t group_id,
                                                  const std::vector<CrmWrite>& writes) {
  Impl& im = *impl_;
  std::vector<CrmWriteOutcome> out(writes.size());
  using Kind = CrmWrite::Kind;

  // Contacts to create. Contact.save with `email_primary.email` makes each contact and its email
  // in one call. It is not idempotent, so it is never sent twice blindly: before each attempt the
  // addresses are looked up (an untrashed contact that has one is used instead), and an attempt
  // whose answer was lost is followed by another look-up rather than by the same call.
  std::vector<std::size_t> creates;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (writes[i].kind == Kind::kCreateContact) creates.push_back(i);
  }
  std::vector<std::pair<std::size_t, std::int64_t>> group_ops;  // write index, contact id
  auto created = [&](std::size_t i, std::int64_t id) {
    out[i].contact_id = id;
    group_ops.emplace_back(i, id);
  };
  const std::size_t batch = static_cast<std::size_t>(std::max(1, im.options.write_batch));
  for (std::size_t start = 0; start < creates.size(); start += batch) {
    std::vector<std::size_t> pending(
        creates.begin() + static_cast<std::ptrdiff_t>(start),
        creates.begin() + static_cast<std::ptrdiff_t>(std::min(creates.size(), start + batch)));
    bool one_by_one = false;  // after a refusal, each contact alone so that one bad one fails alone
    Status last;
    for (int round = 0; round < 3 && !pending.empty(); ++round) {
      Result<std::map<std::string, std::int64_t>> found = im.contacts_by_email(writes, pending);
      if (!found) {
        last = found.status();
        break;
      }
      std::erase_if(pending, [&](std::size_t i) {
        auto it = found->find(writes[i].email);
        if (it == found->end()) return false;
        created(i, it->second);
        return true;
      });
      if (pending.empty()) break;
      if (!one_by_one) {
        Result<std::vector<std::int64_t>> ids = im.create_contacts(writes, pending);
        if (ids) {
          for (std::size_t k = 0; k < pending.size(); ++k)
            created(pending[k], (*ids)[k]);
          pending.clear();
        } else {
          last = ids.status();
          one_by_one = !last.retryable();
        }
        continue;
      }
      std::erase_if(pending, [&](std::size_t i) {
        Result<std::vector<std::int64_t>> id = im.create_contacts(writes, {i});
        if (id) {
          created(i, id->front());
          return true;
        }
        last = id.status();
        if (last.retryable()) return false;
        out[i] = {CrmWriteOutcome::Code::kInvalid, last.message()};
        return true;
      });
    }
    for (std::size_t i : pending)
      out[i] = {CrmWriteOutcome::Code::kFailed, last.message()};
  }
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (writes[i].kind == Kind::kAdd || writes[i].kind == Kind::kRemove) {
      group_ops.emplace_back(i, writes[i].contact_id);
    }
  }

  // Adds and removes: GroupContact.save in batches; a failed batch is retried record by record,
  // so that one bad contact does not fail the others.
  // `*at` receives the server's time of the answer (its Date header): the history rows the save
  // wrote are dated no later than that.
  auto save = [&](const std::vector<std::pair<std::size_t, std::int64_t>>& ops,
                  Micros* at) -> Status {
    json records = json::array();
    for (const auto& [i, cid] : ops) {
      records.push_back({{"group_id", group_id},
                         {"contact_id", cid},
                         {"status", writes[i].kind == Kind::kRemove ? "Removed" : "Added"}});
    }
    Result<json> r = im.call("GroupContact", "save",
                             {{"records", records},
                              {"match", {"group_id", "contact_id"}},
                              {"method", im.options.method}},
                             at);
    return r.status();
  };
  for (std::size_t start = 0; start < group_ops.size(); start += batch) {
    std::vector<std::pair<std::size_t, std::int64_t>> chunk(
        group_ops.begin() + static_cast<std::ptrdiff_t>(start),
        group_ops.begin() + static_cast<std::ptrdiff_t>(std::min(group_ops.size(), start + batch)));
    Micros at = kNoTime;
    Status s = save(chunk, &at);
    if (s) {
      for (const auto& [i, cid] : chunk)
        out[i] = {CrmWriteOutcome::Code::kDone, "", cid, at};
      continue;
    }
    for (const auto& op : chunk) {
      Status one = chunk.size() == 1 ? s : save({op}, &at);
      out[op.first] = {one               ? CrmWriteOutcome::Code::kDone
                       : one.retryable() ? CrmWriteOutcome::Code::kFailed
                                         : CrmWriteOutcome::Code::kInvalid,
                       one ? "" : one.message(), op.second, one ? at : kNoTime};
    }
  }

  // Holds: one update per address (cleaned members are few).
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (writes[i].kind != Kind::kHoldEmail) continue;
    Result<json> r =
        im.call("Email", "update",
                {{"values", {{"on_hold", 1}}},
                 {"where", json::array({json::array({"contact_id", "=", writes[i].contact_id}),
                                        json::array({"email", "=", writes[i].email})})}});
    out[i] = r ? CrmWriteOutcome{CrmWriteOutcome::Code::kDone, "", writes[i].contact_id}
               : CrmWriteOutcome{r.status().retryable() ? CrmWriteOutcome::Code::kFailed
                                                        : CrmWriteOutcome::Code::kInvalid,
                                 r.status().message(), writes[i].contact_id};
  }
  return out;
}

}  // namespace concord

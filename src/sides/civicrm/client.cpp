#include "concord/civicrm_client.h"

#include "sides/civicrm/answer_rows.h"
#include "sides/json_answer.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "concord/email.h"
#include "concord/member.h"
#include "concord/parallel.h"
#include "concord/parse.h"

namespace concord {
namespace {

// ordered_json: APIv4 reads orderBy in the order keys are sent (PHP keeps it); a sorted object
// would reorder multi-key orderBy.
using json = nlohmann::ordered_json;

using sides::kMaxAnswerDepth;
using sides::parse_answer;

bool truthy(const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string()) return v != "" && v != "0";
  return false;
}

std::int64_t as_id(const json& v) {
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_string()) {
    Result<std::int64_t> n = parse_int64(v.get_ref<const std::string&>());
    if (n) return *n;
  }
  return 0;
}

// A row's member, or null when the row is not an object or lacks it (an answer of any shape is
// read without throwing).
const json& member(const json& row, const char* key) {
  static const json kNull;
  if (!row.is_object()) return kNull;
  auto it = row.find(key);
  return it == row.end() ? kNull : *it;
}

std::string str(const json& row, const char* key) {
  auto it = row.find(key);
  return it != row.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The contact's own columns, joined on the rows of another entity (SubscriptionHistory, Email):
// what every read of a contact hands over besides its membership and addresses.
constexpr const char* kContactColumns[] = {"contact_id.is_deleted",    "contact_id.do_not_email",
                                           "contact_id.is_opt_out",    "contact_id.is_deceased",
                                           "contact_id.modified_date", "contact_id.first_name",
                                           "contact_id.last_name"};

// `fields`: the mapped contact fields a sync asked for (CiviCrmClient::with_fields), joined too.
json with_contact_columns(std::initializer_list<const char*> own,
                          const std::vector<std::string>& fields) {
  json select = json::array();
  for (const char* c : own)
    select.push_back(c);
  for (const char* c : kContactColumns)
    select.push_back(c);
  for (const std::string& f : fields)
    select.push_back("contact_id." + f);
  return select;
}

// Reads those columns (and the mapped fields) from a row of an answer read with AnswerRows.
void read_contact_columns(const civicrm::Row& row, const TimeZone& zone,
                          const std::vector<std::string>& fields, CrmContact* c) {
  std::string key;
  for (const std::string& f : fields) {
    key.assign("contact_id.").append(f);
    c->fields.emplace_back(f, row.text(key));
  }
  c->trashed = row.truthy("contact_id.is_deleted");
  c->do_not_email = row.truthy("contact_id.do_not_email");
  c->is_opt_out = row.truthy("contact_id.is_opt_out");
  c->deceased = row.truthy("contact_id.is_deceased");
  Result<Micros> modified = parse_civil(row.str("contact_id.modified_date"));
  c->modified_at = modified ? zone.local_to_utc(*modified) : kNoTime;
  c->first_name = row.str("contact_id.first_name");
  c->last_name = row.str("contact_id.last_name");
}

}  // namespace

namespace {

// A write's outcome from the call's status: done (at the server's time `at`), failed (worth
// retrying) or invalid (not).
CrmWriteOutcome outcome_of(const Status& s, std::int64_t contact_id, Micros at = kNoTime) {
  if (s) return {CrmWriteOutcome::Code::kDone, "", contact_id, at};
  return {s.retryable() ? CrmWriteOutcome::Code::kFailed : CrmWriteOutcome::Code::kInvalid,
          s.message(), contact_id, kNoTime};
}

}  // namespace

// Addresses or contacts per call of a targeted read.
constexpr std::size_t kTargetedChunk = 500;

namespace {

// Calls `f` with the addresses that are not blank, kTargetedChunk at a time as a JSON array, until
// one call fails: an incremental read of a large group can defer thousands of addresses, and one
// IN list of them all would outgrow a request.
template <typename F>
Status in_chunks(const std::vector<std::string>& emails, F f) {
  json chunk = json::array();
  for (const std::string& e : emails) {
    if (e.empty()) continue;
    chunk.push_back(e);
    if (chunk.size() == kTargetedChunk) {
      if (Status s = f(chunk); !s) return s;
      chunk = json::array();
    }
  }
  return chunk.empty() ? Status::ok() : f(chunk);
}

}  // namespace

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
    Result<std::string> body = call_raw(entity, action, params, server_time, idempotent);
    if (!body) return body.status();
    const std::string what = "CiviCRM " + std::string(entity) + "." + std::string(action);
    bool too_deep = false;
    json j = parse_answer(*body, &too_deep);
    if (too_deep) {
      return Status::unavailable(what + ": the answer (HTTP 200) is nested more than " +
                                 std::to_string(kMaxAnswerDepth) + " levels deep");
    }
    if (j.is_object() && j.contains("values")) return j;
    return Status::unavailable(what + ": the answer is not an APIv4 result");
  }

  // The same call, its successful answer's body left unread: the group read parses it with
  // AnswerRows (answer_rows.h). What is not HTTP 200 is the error call() makes of it.
  Result<std::string> call_raw(std::string_view entity, std::string_view action, const json& params,
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
    if (r->status == 200) return std::move(r->body);
    bool too_deep = false;
    json j = parse_answer(r->body, &too_deep);
    if (too_deep) {
      return Status::unavailable(what + ": the answer (HTTP " + std::to_string(r->status) +
                                 ") is nested more than " + std::to_string(kMaxAnswerDepth) +
                                 " levels deep");
    }
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
    if (r->status >= 500 || r->status == 429) return Status::unavailable(std::move(msg));
    return Status::invalid(std::move(msg));
  }

  // A call whose answer's rows are read with AnswerRows: the group read's gets, and the apply's
  // writes (which answer with every row they saved, of which only ids, or nothing, are read).
  Status call_rows(std::string_view entity, std::string_view action, const json& params,
                   civicrm::AnswerRows* rows, Micros* server_time = nullptr,
                   bool idempotent = true) {
    Result<std::string> body = call_raw(entity, action, params, server_time, idempotent);
    if (!body) return body.status();
    return rows->parse(*body, "CiviCRM " + std::string(entity) + "." + std::string(action),
                       kMaxAnswerDepth);
  }
  Status get_rows(std::string_view entity, const json& params, civicrm::AnswerRows* rows,
                  Micros* server_time = nullptr) {
    return call_rows(entity, "get", params, rows, server_time);
  }

  // GroupContact.save's parameters for these records of the group's memberships: matched on
  // group and contact, so that saving one again changes nothing, with concord's `method`.
  json group_save(json records) const {
    return {{"records", std::move(records)},
            {"match", {"group_id", "contact_id"}},
            {"method", options.method}};
  }

  // The untrashed contacts that have these writes' addresses: email → the lowest contact id.
  Result<std::map<std::string, std::int64_t>> contacts_by_email(
      const std::vector<CrmWrite>& writes, const std::vector<std::size_t>& which) {
    std::vector<std::string> emails;
    emails.reserve(which.size());
    for (std::size_t i : which)
      emails.push_back(writes[i].email);
    std::map<std::string, std::int64_t> out;
    civicrm::AnswerRows rows;
    Status found = in_chunks(emails, [&](const json& chunk) {
      Status got =
          get_rows("Email",
                   {{"select", {"contact_id", "email"}},
                    {"where", json::array({json::array({"email", "IN", chunk}),
                                           json::array({"contact_id.is_deleted", "=", false})})},
                    {"orderBy", {{"contact_id", "ASC"}}},
                    {"limit", 0}},
                   &rows);
      if (!got) return got;
      rows.for_each([&](const civicrm::Row& row) {
        out.emplace(normalise_email(row.str("email")), row.id("contact_id"));
      });
      return Status::ok();
    });
    if (!found) return found;
    return out;
  }

  // A contact create_contacts() made: its id, and whether the answer shows it added to the group.
  struct Created {
    std::int64_t id = 0;
    bool added = false;
  };

  // Creates these writes' contacts, each with its address as primary email, and adds each to the
  // group, in one call (never repeated by the transport: see apply()). The group's GroupContact
  // save is chained to the contact's (an APIv4 chain runs once for each row the save answers,
  // `$id` its new contact's id): a migration's new contacts take one call a batch, not two.
  // When a chained save fails, CiviCRM fails the call with the contacts already made; apply()
  // finds them by address and adds them as it adds existing contacts.
  Result<std::vector<Created>> create_contacts(const std::vector<CrmWrite>& writes,
                                               const std::vector<std::size_t>& which,
                                               std::int64_t group_id, Micros* at) {
    json records = json::array();
    for (std::size_t i : which) {
      json rec = {{"contact_type", "Individual"},
                  {"source", options.contact_source},
                  {"email_primary.email", writes[i].email}};
      for (const auto& [name, value] : writes[i].fields) {
        if (!value.empty()) rec[name] = value;
      }
      records.push_back(std::move(rec));
    }
    const json add = {"GroupContact", "save",
                      group_save(json::array(
                          {{{"group_id", group_id}, {"contact_id", "$id"}, {"status", "Added"}}}))};
    civicrm::AnswerRows rows;
    if (Status s = call_rows("Contact", "save", {{"records", records}, {"chain", {{"group", add}}}},
                             &rows, at, false);
        !s) {
      return s;
    }
    std::vector<Created> made;
    rows.for_each([&](const civicrm::Row& row) {
      made.push_back({row.id("id"), row.rows("group") == 1});
    });
    if (made.size() != which.size() ||
        std::any_of(made.begin(), made.end(), [](const Created& c) { return c.id == 0; })) {
      return Status::unavailable("CiviCRM Contact.save: the answer does not list the " +
                                 std::to_string(which.size()) + " contacts created");
    }
    return made;
  }

  // The addresses of some contacts (contact id → its addresses, in id order), read with `rows`
  // (a parser whose buffers a group read reuses).
  Result<std::map<std::int64_t, std::vector<CrmAddress>>> emails_of(
      const std::vector<std::int64_t>& ids, civicrm::AnswerRows& rows) {
    std::map<std::int64_t, std::vector<CrmAddress>> out;
    if (ids.empty()) return out;
    json params = {
        {"select", {"id", "contact_id", "email", "is_primary", "is_bulkmail", "on_hold"}},
        {"where", json::array({json::array({"contact_id", "IN", ids})})},
        {"orderBy", {{"contact_id", "ASC"}, {"id", "ASC"}}},
        {"limit", 0}};
    if (Status s = get_rows("Email", params, &rows); !s) return s;
    rows.for_each([&](const civicrm::Row& row) {
      out[row.id("contact_id")].push_back({std::string(row.str("email")), row.truthy("is_primary"),
                                           row.truthy("is_bulkmail"), row.hold("on_hold")});
    });
    return out;
  }

  // Streams the group's history rows that also meet `filters` (more where clauses), ordered by
  // contact, then id, and hands `sink` one contact per contact id, page by page. *max_seen grows
  // to the latest row date read.
  // `fields`: the mapped contact fields to read too.
  Status read_history(std::int64_t group_id, const json& filters,
                      const std::vector<std::string>& fields, CrmSink& sink, SideRead& read,
                      Micros* max_seen, Micros* server_start = nullptr);
  // Hands a page of contacts over with their addresses.
  Status hand_over(std::vector<CrmContact>& contacts, CrmSink& sink);
  // Memberships of the group that have no history row — an import that wrote none, a site built
  // from a contact export — are members all the same: the GroupContact rows (with `filters`) of
  // the contacts not in `seen` (ascending) are handed over with the membership's status and an
  // unknown change time (kNoTime).
  Status read_memberships(std::int64_t group_id, const json& filters,
                          const std::vector<std::int64_t>& seen,
                          const std::vector<std::string>& fields, CrmSink& sink, SideRead& read);
  // How many memberships (any status) the group has: GroupContact's countMatched.
  Result<std::int64_t> membership_count(std::int64_t group_id);
};

namespace {

// Passes contacts on, keeping their ids (for read_memberships()).
class SeenSink final : public CrmSink {
 public:
  explicit SeenSink(CrmSink& next) : next_(next) {}
  Status records(std::vector<CrmContact>& page) override {
    for (const CrmContact& c : page)
      ids_.push_back(c.contact_id);
    return next_.records(page);
  }
  // The ids handed on, ascending.
  std::vector<std::int64_t> sorted() {
    std::sort(ids_.begin(), ids_.end());
    return std::move(ids_);
  }

 private:
  CrmSink& next_;
  std::vector<std::int64_t> ids_;
};

}  // namespace

namespace {

// One page of history rows with the addresses of its contacts.
struct HistoryPage {
  std::unique_ptr<civicrm::AnswerRows> rows;  // from the read's ParserPool
  std::map<std::int64_t, std::vector<CrmAddress>> emails;
};

// The parsers of one read, reused from page to page: a parser sized for a page keeps its buffers
// (several times the page's size), where a new one per answer allocated and faulted them in again
// (a tenth of a group read's CPU went to page faults).
class ParserPool {
 public:
  std::unique_ptr<civicrm::AnswerRows> take() {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.empty()) return std::make_unique<civicrm::AnswerRows>();
    std::unique_ptr<civicrm::AnswerRows> p = std::move(free_.back());
    free_.pop_back();
    return p;
  }
  void give(std::unique_ptr<civicrm::AnswerRows> p) {
    if (p == nullptr) return;
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(std::move(p));
  }

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<civicrm::AnswerRows>> free_;
};

}  // namespace

Status CiviCrmClient::Impl::read_history(std::int64_t group_id, const json& filters,
                                         const std::vector<std::string>& fields, CrmSink& sink,
                                         SideRead& read, Micros* max_seen, Micros* server_start) {
  json where = json::array({json::array({"group_id", "=", group_id})});
  for (const json& clause : filters)
    where.push_back(clause);
  // Fetches the page at `offset` and its contacts' addresses into *page. The first page also asks
  // how many rows match (APIv4 answers countMatched), so that a page cut short before them (a
  // proxy, a server limit, an ACL) is not taken for the end of the group: contacts missing from a
  // full read would become removals.
  ParserPool parsers;
  auto fetch = [&](std::int64_t offset, HistoryPage* page) -> Status {
    page->rows = parsers.take();
    json select = with_contact_columns({"id", "contact_id", "status", "date"}, fields);
    if (offset == 0) select.push_back("row_count");
    json params = {{"select", std::move(select)},
                   {"where", where},
                   {"orderBy", {{"contact_id", "ASC"}, {"id", "ASC"}}},
                   {"limit", options.page_size},
                   {"offset", offset}};
    if (Status s = get_rows("SubscriptionHistory", params, page->rows.get(),
                            offset == 0 ? server_start : nullptr);
        !s) {
      return s;
    }
    std::vector<std::int64_t> ids;
    page->rows->for_each([&](const civicrm::Row& row) {
      const std::int64_t cid = row.id("contact_id");
      if (ids.empty() || ids.back() != cid) ids.push_back(cid);
    });
    std::unique_ptr<civicrm::AnswerRows> email_rows = parsers.take();
    Result<std::map<std::int64_t, std::vector<CrmAddress>>> emails = emails_of(ids, *email_rows);
    parsers.give(std::move(email_rows));
    if (!emails) return emails.status();
    page->emails = std::move(*emails);
    return Status::ok();
  };

  // The pages are read in order: a contact's rows may go on from one page to the next.
  std::vector<CrmContact> done;
  CrmContact current;  // the contact whose rows are being read (may continue on the next page)
  bool have_current = false;
  // The rows the first page announced (its countMatched); -1 when it did not say.
  std::int64_t announced = -1;
  // The addresses of the page before: a contact whose rows ended with it is handed over once the
  // next page shows it ended.
  std::map<std::int64_t, std::vector<CrmAddress>> before;
  // Hands over the contacts done; true when `page` (at `offset`) was the last.
  auto consume = [&](std::int64_t offset, HistoryPage& page) -> Result<bool> {
    const civicrm::AnswerRows& rows = *page.rows;
    ++read.pages;
    if (offset == 0) announced = rows.count_matched();
    const bool last_page = rows.size() < static_cast<std::size_t>(options.page_size);
    const auto got = static_cast<std::int64_t>(rows.size());
    if (last_page && announced >= 0 && offset + got < announced) {
      return Status::unavailable(
          "CiviCRM group " + std::to_string(group_id) + ": the page of history rows at offset " +
          std::to_string(offset) + " had " + std::to_string(got) + (got == 1 ? " row" : " rows") +
          " (of " + std::to_string(options.page_size) + " asked), " +
          std::to_string(announced - offset - got) + " announced beyond it (countMatched " +
          std::to_string(announced) + "); a truncated read is not the end of the group");
    }
    rows.for_each([&](const civicrm::Row& row) {
      const std::int64_t cid = row.id("contact_id");
      if (!have_current || cid != current.contact_id) {
        if (have_current) done.push_back(std::move(current));
        // The contact's own columns are the same on each of its rows: read once.
        current = CrmContact{};
        current.contact_id = cid;
        read_contact_columns(row, *zone, fields, &current);
        have_current = true;
      }
      // Rows come in id order: the last one is the latest.
      current.status = parse_crm_status(row.str("status")).value_or(CrmStatus::kNone);
      Result<Micros> local = parse_civil(row.str("date"));
      current.changed_at = local ? zone->local_to_utc(*local) : kNoTime;
      if (current.changed_at != kNoTime && current.changed_at > *max_seen) {
        *max_seen = current.changed_at;
      }
    });
    if (last_page && have_current) {
      done.push_back(std::move(current));
      have_current = false;
    }
    for (CrmContact& c : done) {
      for (const auto* emails : {&page.emails, &before}) {
        if (auto it = emails->find(c.contact_id); it != emails->end()) {
          c.addresses = it->second;
          break;
        }
      }
    }
    parsers.give(std::move(page.rows));  // what the contacts need of it is copied
    before = std::move(page.emails);
    if (Status s = done.empty() ? Status::ok() : sink.records(done); !s) return s;
    done.clear();
    return last_page;
  };

  HistoryPage first;
  if (Status s = fetch(0, &first); !s) return s;
  Result<bool> last = consume(0, first);
  if (!last) return last.status();
  std::int64_t offset = options.page_size;
  if (*last) return Status::ok();

  // The pages the first announced are fetched a few at once (up to the site's connections, a few
  // waiting at most), each with its contacts' addresses, and handed over in order.
  const std::int64_t announced_end = std::max<std::int64_t>(announced, 0);
  const auto workers = static_cast<std::size_t>(std::max(1, options.http.max_connections));
  if (workers > 1 && offset < announced_end) {
    const auto pages = static_cast<std::size_t>((announced_end - offset + options.page_size - 1) /
                                                options.page_size);
    const std::int64_t from = offset;
    Status failure;
    produce_in_order<std::pair<Status, HistoryPage>>(
        pages, workers, 2 * workers,
        [&](std::size_t i) {
          std::pair<Status, HistoryPage> page;
          page.first = fetch(from + static_cast<std::int64_t>(i) * options.page_size, &page.second);
          return page;
        },
        [&](std::size_t, std::pair<Status, HistoryPage>& page) {
          Result<bool> end = page.first ? consume(offset, page.second) : page.first;
          if (!end) {
            failure = end.status();
            return false;
          }
          if (*end) {
            *last = true;
            return false;
          }
          offset += options.page_size;
          return true;
        });
    if (!failure) return failure;
    if (*last) return Status::ok();
  }
  // Beyond what the first page announced (the group grew while it was read), or without a count:
  // page by page until a short one.
  for (;; offset += options.page_size) {
    HistoryPage page;
    if (Status s = fetch(offset, &page); !s) return s;
    Result<bool> end = consume(offset, page);
    if (!end) return end.status();
    if (*end) return Status::ok();
  }
}

Status CiviCrmClient::Impl::read_memberships(std::int64_t group_id, const json& filters,
                                             const std::vector<std::int64_t>& seen,
                                             const std::vector<std::string>& fields, CrmSink& sink,
                                             SideRead& read) {
  json where = json::array({json::array({"group_id", "=", group_id})});
  for (const json& clause : filters)
    where.push_back(clause);
  civicrm::AnswerRows rows;
  for (std::int64_t offset = 0;; offset += options.page_size) {
    Status got = get_rows("GroupContact",
                          {{"select", with_contact_columns({"contact_id", "status"}, fields)},
                           {"where", where},
                           {"orderBy", {{"contact_id", "ASC"}}},
                           {"limit", options.page_size},
                           {"offset", offset}},
                          &rows);
    if (!got) return got;
    ++read.pages;
    std::vector<CrmContact> found;
    rows.for_each([&](const civicrm::Row& row) {
      const std::int64_t cid = row.id("contact_id");
      if (cid == 0 || std::binary_search(seen.begin(), seen.end(), cid)) return;
      CrmContact& c = found.emplace_back();
      c.contact_id = cid;
      c.status = parse_crm_status(row.str("status")).value_or(CrmStatus::kNone);
      read_contact_columns(row, *zone, fields, &c);
    });
    if (Status s = hand_over(found, sink); !s) return s;
    if (rows.size() < static_cast<std::size_t>(options.page_size)) return Status::ok();
  }
}

Result<std::int64_t> CiviCrmClient::Impl::membership_count(std::int64_t group_id) {
  civicrm::AnswerRows rows;
  Status got = get_rows("GroupContact",
                        {{"select", {"row_count"}},
                         {"where", json::array({json::array({"group_id", "=", group_id})})},
                         {"limit", 1}},
                        &rows);
  if (!got) return got;
  return rows.count_matched();
}

Status CiviCrmClient::Impl::hand_over(std::vector<CrmContact>& contacts, CrmSink& sink) {
  if (contacts.empty()) return Status::ok();
  std::vector<std::int64_t> ids;
  for (const CrmContact& c : contacts)
    ids.push_back(c.contact_id);
  civicrm::AnswerRows rows;
  Result<std::map<std::int64_t, std::vector<CrmAddress>>> emails = emails_of(ids, rows);
  if (!emails) return emails.status();
  for (CrmContact& c : contacts) {
    auto it = emails->find(c.contact_id);
    if (it != emails->end()) c.addresses = std::move(it->second);
  }
  return sink.records(contacts);
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

int CiviCrmClient::max_connections() const {
  return impl_->options.http.max_connections;
}

int CiviCrmClient::write_batch() const {
  return std::max(1, impl_->options.write_batch);
}

Result<CrmGroup> CiviCrmClient::resolve_group(std::string_view id_or_name) {
  json where;
  bool numeric = !id_or_name.empty() && std::all_of(id_or_name.begin(), id_or_name.end(),
                                                    [](char c) { return c >= '0' && c <= '9'; });
  if (numeric) {
    // A number no group id can be (20 digits) is an error naming it, not an exception.
    Result<std::int64_t> id = parse_int64(id_or_name);
    if (!id) {
      return Status::invalid("CiviCRM group id \"" + std::string(id_or_name) +
                             "\" is not a group id (too large)");
    }
    where = json::array({json::array({"id", "=", *id})});
  } else {
    where =
        json::array({json::array({"OR", json::array({json::array({"name", "=", id_or_name}),
                                                     json::array({"title", "=", id_or_name})})})});
  }
  Result<json> r = impl_->call(
      "Group", "get", {{"select", {"id", "name", "title"}}, {"where", where}, {"limit", 25}});
  if (!r) return r.status();
  const json& v = (*r)["values"];
  if (!v.is_array()) return Status::unavailable("CiviCRM Group.get: the answer has no values list");
  if (v.empty()) {
    return Status::not_found("no CiviCRM group has the id, name or title \"" +
                             std::string(id_or_name) + "\"");
  }
  if (v.size() > 1) {
    std::string ids;
    for (const json& g : v)
      ids += (ids.empty() ? "" : ", ") + std::to_string(as_id(member(g, "id")));
    return Status::invalid("several CiviCRM groups are named \"" + std::string(id_or_name) +
                           "\" (ids " + ids + "); give the id instead");
  }
  return CrmGroup{as_id(member(v[0], "id")), str(v[0], "name"), str(v[0], "title")};
}

// The reads, with the mapped contact fields a sync asked for.
class CiviCrmClient::FieldReader final : public CrmReader {
 public:
  FieldReader(CiviCrmClient& client, std::vector<std::string> fields)
      : client_(client), fields_(std::move(fields)) {}

  Result<SideRead> read_all(std::int64_t group_id, CrmSink& sink) override;
  Result<SideRead> read_since(std::int64_t group_id, Micros watermark, CrmSink& sink) override;
  Result<SideRead> read_contacts(std::int64_t group_id, const std::vector<std::string>& emails,
                                 const std::vector<std::int64_t>& contact_ids,
                                 CrmSink& sink) override;
  Result<SideRead> read_by_address(const std::vector<std::string>& emails, CrmSink& sink) override;

 private:
  CiviCrmClient& client_;
  std::vector<std::string> fields_;
};

std::unique_ptr<CrmReader> CiviCrmClient::with_fields(std::vector<std::string> fields) {
  return std::make_unique<FieldReader>(*this, std::move(fields));
}

Result<SideRead> CiviCrmClient::read_all(std::int64_t group_id, CrmSink& sink) {
  return FieldReader(*this, {}).read_all(group_id, sink);
}

Result<SideRead> CiviCrmClient::read_since(std::int64_t group_id, Micros watermark, CrmSink& sink) {
  return FieldReader(*this, {}).read_since(group_id, watermark, sink);
}

Result<SideRead> CiviCrmClient::read_contacts(std::int64_t group_id,
                                              const std::vector<std::string>& emails,
                                              const std::vector<std::int64_t>& contact_ids,
                                              CrmSink& sink) {
  return FieldReader(*this, {}).read_contacts(group_id, emails, contact_ids, sink);
}

Result<SideRead> CiviCrmClient::read_by_address(const std::vector<std::string>& emails,
                                                CrmSink& sink) {
  return FieldReader(*this, {}).read_by_address(emails, sink);
}

Result<SideRead> CiviCrmClient::FieldReader::read_all(std::int64_t group_id, CrmSink& sink) {
  Impl& im = *client_.impl_;
  SideRead read;
  Micros max_seen = kNoTime, server_start = kNoTime;
  SeenSink seen(sink);
  if (Status s =
          im.read_history(group_id, json::array(), fields_, seen, read, &max_seen, &server_start);
      !s) {
    return s;
  }
  // More memberships than contacts with history: some have none, and are read from GroupContact.
  // (One cheap call when there are not, as on a site where every change wrote its row.)
  const std::vector<std::int64_t> with_history = seen.sorted();
  Result<std::int64_t> memberships = im.membership_count(group_id);
  if (!memberships) return memberships.status();
  if (*memberships < 0 || *memberships > static_cast<std::int64_t>(with_history.size())) {
    if (Status s = im.read_memberships(group_id, json::array(), with_history, fields_, sink, read);
        !s) {
      return s;
    }
  }
  // The watermark is the server's time when the read began (its Date header): rows dated before
  // it were read. Without a Date header, the latest row seen.
  read.watermark = server_start != kNoTime ? server_start : max_seen;
  return read;
}

Result<SideRead> CiviCrmClient::FieldReader::read_since(std::int64_t group_id, Micros watermark,
                                                        CrmSink& sink) {
  Impl& im = *client_.impl_;
  SideRead read;
  Micros max_seen = watermark, server_start = kNoTime;
  const std::string since =
      format_civil(im.zone->utc_to_local(watermark - im.options.incremental_overlap));
  if (Status s = im.read_history(group_id, json::array({json::array({"date", ">=", since})}),
                                 fields_, sink, read, &max_seen, &server_start);
      !s) {
    return s;
  }
  // Contacts whose own row or addresses changed (consent flags, trash, holds, names): CiviCRM
  // moves modified_date for those, never for group changes (civicrm-apiv4.md §9.9). A contact
  // with a new history row as well is read twice; the snapshot takes the same record twice.
  Micros ignored = kNoTime;
  if (Status s = im.read_history(
          group_id, json::array({json::array({"contact_id.modified_date", ">=", since})}), fields_,
          sink, read, &ignored);
      !s) {
    return s;
  }
  read.watermark = server_start != kNoTime ? std::max(watermark, server_start) : max_seen;
  return read;
}

Result<SideRead> CiviCrmClient::FieldReader::read_contacts(
    std::int64_t group_id, const std::vector<std::string>& emails,
    const std::vector<std::int64_t>& contact_ids, CrmSink& sink) {
  Impl& im = *client_.impl_;
  SideRead read;
  std::set<std::int64_t> ids(contact_ids.begin(), contact_ids.end());
  // The contacts that have one of the addresses (trashed ones too: the group read sees them).
  Status looked = in_chunks(emails, [&](const json& addresses) {
    Result<json> found = im.call("Email", "get",
                                 {{"select", {"contact_id"}},
                                  {"where", json::array({json::array({"email", "IN", addresses})})},
                                  {"limit", 0}});
    if (!found) return found.status();
    for (const json& row : (*found)["values"])
      ids.insert(as_id(member(row, "contact_id")));
    return Status::ok();
  });
  if (!looked) return looked;
  ids.erase(0);
  // Their history rows, likewise a chunk of contacts at a time (a contact's rows all come in its
  // chunk, so each chunk is assembled as a whole read is).
  const std::vector<std::int64_t> all(ids.begin(), ids.end());
  for (std::size_t at = 0; at < all.size(); at += kTargetedChunk) {
    const std::vector<std::int64_t> chunk(all.begin() + at,
                                          all.begin() + std::min(all.size(), at + kTargetedChunk));
    Micros max_seen = kNoTime;
    SeenSink seen(sink);
    const json in_chunk = json::array({json::array({"contact_id", "IN", json(chunk)})});
    if (Status s = im.read_history(group_id, in_chunk, fields_, seen, read, &max_seen); !s) {
      return s;
    }
    // Those without history rows may still be members (read_memberships()).
    const std::vector<std::int64_t> with_history = seen.sorted();
    if (with_history.size() < chunk.size()) {
      if (Status s = im.read_memberships(group_id, in_chunk, with_history, fields_, sink, read);
          !s) {
        return s;
      }
    }
  }
  return read;
}

Result<SideRead> CiviCrmClient::FieldReader::read_by_address(const std::vector<std::string>& emails,
                                                             CrmSink& sink) {
  Impl& im = *client_.impl_;
  SideRead read;
  std::vector<json> chunks;
  (void)in_chunks(emails, [&](const json& addresses) {
    chunks.push_back(addresses);
    return Status::ok();
  });
  // The chunks' calls go out a few at once (up to the site's connections, each lane taking the
  // next chunk as soon as its call is answered); their contacts are handed over in order, on this
  // thread.
  const auto workers = static_cast<std::size_t>(std::max(1, im.options.http.max_connections));
  ParserPool parsers;
  Status failure;
  produce_in_order<Result<std::vector<CrmContact>>>(
      chunks.size(), workers, 2 * workers,
      [&](std::size_t i) -> Result<std::vector<CrmContact>> {
        std::unique_ptr<civicrm::AnswerRows> rows = parsers.take();
        Status got = im.get_rows(
            "Email",
            {{"select",
              with_contact_columns({"contact_id", "email", "is_primary", "is_bulkmail", "on_hold"},
                                   fields_)},
             {"where", json::array({json::array({"email", "IN", chunks[i]})})},
             {"orderBy", {{"contact_id", "ASC"}, {"id", "ASC"}}},
             {"limit", 0}},
            rows.get());
        if (!got) return got;
        std::vector<CrmContact> page;
        rows->for_each([&](const civicrm::Row& row) {
          const std::int64_t cid = row.id("contact_id");
          if (cid == 0) return;
          CrmContact& c = page.emplace_back();
          c.contact_id = cid;
          read_contact_columns(row, *im.zone, fields_, &c);
          c.addresses.push_back({std::string(row.str("email")), row.truthy("is_primary"),
                                 row.truthy("is_bulkmail"), row.hold("on_hold")});
        });
        parsers.give(std::move(rows));
        return page;
      },
      [&](std::size_t, Result<std::vector<CrmContact>>& page) {
        if (page) {
          ++read.pages;
          failure = sink.records(*page);
        } else {
          failure = page.status();
        }
        return failure.is_ok();
      });
  if (!failure) return failure;
  return read;
}

Result<std::vector<CiviCrmClient::ContactField>> CiviCrmClient::contact_fields() {
  Result<json> r = impl_->call("Contact", "getFields",
                               {{"select", {"name", "data_type", "readonly"}}, {"action", "save"}});
  if (!r) return r.status();
  const json& rows = (*r)["values"];
  if (!rows.is_array()) return Status::unavailable("CiviCRM Contact.getFields: no values array");
  std::vector<ContactField> out;
  for (const json& row : rows) {
    if (!row.is_object()) continue;
    out.push_back({str(row, "name"), str(row, "data_type"), truthy(member(row, "readonly"))});
  }
  return out;
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

  // Contacts to create. Contact.save with `email_primary.email` makes each contact and its email,
  // and adds it to the group, in one call. It is not idempotent, so it is never sent twice
  // blindly: before each attempt the addresses are looked up (an untrashed contact that has one is
  // used instead, and added to the group with the adds below), and an attempt whose answer was
  // lost is followed by another look-up rather than by the same call.
  std::vector<std::size_t> creates;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (writes[i].kind == Kind::kCreateContact) creates.push_back(i);
  }
  std::vector<std::pair<std::size_t, std::int64_t>> group_ops;  // write index, contact id
  auto created = [&](std::size_t i, std::int64_t id) {
    out[i].contact_id = id;
    group_ops.emplace_back(i, id);
  };
  // Made and added to the group by one call, answered at the server's time `at`.
  auto made = [&](std::size_t i, const Impl::Created& c, Micros at) {
    if (c.added) {
      out[i] = {CrmWriteOutcome::Code::kDone, "", c.id, at};
    } else {
      created(i, c.id);  // the answer does not show the membership: saved again below
    }
  };
  const std::size_t batch = static_cast<std::size_t>(write_batch());
  // The first look-up covers every contact to create (kTargetedChunk addresses a call); a batch's
  // later attempts look their own addresses up again. (When it fails, each batch tries its own.)
  Result<std::map<std::string, std::int64_t>> first = creates.empty()
                                                          ? std::map<std::string, std::int64_t>()
                                                          : im.contacts_by_email(writes, creates);
  for (std::size_t start = 0; start < creates.size(); start += batch) {
    std::vector<std::size_t> pending(
        creates.begin() + static_cast<std::ptrdiff_t>(start),
        creates.begin() + static_cast<std::ptrdiff_t>(std::min(creates.size(), start + batch)));
    bool one_by_one = false;  // after a refusal, each contact alone so that one bad one fails alone
    Status last;
    for (int round = 0; round < 3 && !pending.empty(); ++round) {
      Result<std::map<std::string, std::int64_t>> found =
          round == 0 && first ? *first : im.contacts_by_email(writes, pending);
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
        Micros at = kNoTime;
        Result<std::vector<Impl::Created>> ids = im.create_contacts(writes, pending, group_id, &at);
        if (ids) {
          for (std::size_t k = 0; k < pending.size(); ++k)
            made(pending[k], (*ids)[k], at);
          pending.clear();
        } else {
          last = ids.status();
          one_by_one = !last.retryable();
        }
        continue;
      }
      std::erase_if(pending, [&](std::size_t i) {
        Micros at = kNoTime;
        Result<std::vector<Impl::Created>> id = im.create_contacts(writes, {i}, group_id, &at);
        if (id) {
          made(i, id->front(), at);
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
    civicrm::AnswerRows rows;
    return im.call_rows("GroupContact", "save", im.group_save(std::move(records)), &rows, at);
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
      out[op.first] = outcome_of(one, op.second, at);
    }
  }

  // Field updates: Contact.save of the contacts' ids with the fields to set, in batches; a failed
  // batch is retried record by record, so that one value CiviCRM refuses fails alone.
  std::vector<std::size_t> updates;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (writes[i].kind == Kind::kUpdateFields) updates.push_back(i);
  }
  auto update = [&](const std::vector<std::size_t>& which, Micros* at) -> Status {
    json records = json::array();
    for (std::size_t i : which) {
      json rec = {{"id", writes[i].contact_id}};
      for (const auto& [name, value] : writes[i].fields)
        rec[name] = value;
      records.push_back(std::move(rec));
    }
    civicrm::AnswerRows rows;
    return im.call_rows("Contact", "save", {{"records", records}}, &rows, at);
  };
  for (std::size_t start = 0; start < updates.size(); start += batch) {
    const std::vector<std::size_t> chunk(
        updates.begin() + static_cast<std::ptrdiff_t>(start),
        updates.begin() + static_cast<std::ptrdiff_t>(std::min(updates.size(), start + batch)));
    Micros at = kNoTime;
    Status s = update(chunk, &at);
    for (std::size_t i : chunk) {
      Status one = s || chunk.size() == 1 ? s : update({i}, &at);
      out[i] = outcome_of(one, writes[i].contact_id, at);
    }
  }

  // Address changes: one change_email each (they are few).
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (writes[i].kind != Kind::kChangeEmail) continue;
    out[i] = outcome_of(change_email(writes[i].contact_id, writes[i].from_email, writes[i].email),
                        writes[i].contact_id);
  }

  // Holds put on and taken off: one update per address (cleaned members, and undos of their
  // holds, are few).
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (writes[i].kind != Kind::kHoldEmail && writes[i].kind != Kind::kReleaseHold) continue;
    Result<json> r =
        im.call("Email", "update",
                {{"values", {{"on_hold", writes[i].kind == Kind::kHoldEmail ? 1 : 0}}},
                 {"where", json::array({json::array({"contact_id", "=", writes[i].contact_id}),
                                        json::array({"email", "=", writes[i].email})})}});
    out[i] = outcome_of(r.status(), writes[i].contact_id);
  }
  return out;
}

}  // namespace concord

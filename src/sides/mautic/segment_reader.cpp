// MauticSegmentReader: one segment resolved from the segment list, its contacts read by key set
// on the contact id (all, since a watermark, or given ids), and the ids of everyone in it.
#include <algorithm>
#include <cassert>
#include <functional>
#include <set>
#include <variant>

#include "concord/mautic_client.h"
#include "concord/parse.h"
#include "sides/answer_text.h"
#include "sides/mautic/contacts_page.h"
#include "sides/mautic/numbers.h"
#include "sides/mautic/session.h"

namespace concord {
namespace {

using json = nlohmann::json;
using mautic::PageContact;

// Ids asked for in one read_contacts() request (the URL stays a few KiB).
constexpr std::size_t kIdsPerRequest = 200;

// "&where[n][col]=…&where[n][expr]=…&where[n][val]=…", brackets percent-encoded.
std::string where(int n, std::string_view col, std::string_view expr, const std::string& val) {
  const std::string at = "&where%5B" + std::to_string(n) + "%5D%5B";
  return at + "col%5D=" + std::string(col) + at + "expr%5D=" + std::string(expr) + at +
         "val%5D=" + http::url_encode(val);
}

// A contact whose id or shape cannot be read, as the row to reject.
RejectedRow unreadable(const PageContact& c) {
  return RejectedRow{c.id > 0 ? std::to_string(c.id) : c.label, "", "id",
                     c.label + ": " + c.problem};
}

}  // namespace

struct MauticSegmentReader::State {
  State(mautic::Session& s, std::string w, std::vector<std::string> f)
      : session(s), wanted(std::move(w)), fields(std::move(f)) {}

  mautic::Session& session;
  std::string wanted;
  std::vector<std::string> fields;
  bool resolved = false;
  std::int64_t id = 0;
  std::string alias;
  std::string name;

  std::string contacts_target(int limit) const {
    return "contacts?search=" + http::url_encode("segment:" + alias) +
           "&start=0&limit=" + std::to_string(limit) + "&orderBy=id&orderByDir=ASC";
  }
  std::string what(std::string_view detail) const {
    return "Mautic GET /api/contacts (segment \"" + name + "\", " + std::string(detail) + ")";
  }

  // Hands a page's contacts to the sink: rejects first, then the people.
  Status hand_over(const mautic::ContactsPage& page, SourceSink& sink) const {
    std::vector<SourcePerson> people;
    people.reserve(page.contacts.size());
    for (const PageContact& c : page.contacts) {
      if (!c.problem.empty()) {
        sink.reject(unreadable(c));
        continue;
      }
      auto v = mautic::read_contact(c, fields);
      if (auto* p = std::get_if<SourcePerson>(&v)) {
        people.push_back(std::move(*p));
      } else {
        sink.reject(std::move(std::get<RejectedRow>(v)));
      }
    }
    if (people.empty()) return Status::ok();
    return sink.records(people);
  }

  // Pages through the segment's contacts by key set: where id > the last id read (and `extra`
  // conditions, numbered from 1), `limit` at a time. `on_page` gets each page. The server's time
  // of the first answer goes to *server_start.
  Status keyset(int limit, const std::string& extra, Micros* server_start, SideRead& read,
                const std::function<Status(const mautic::ContactsPage&)>& on_page) const {
    std::int64_t cursor = 0;
    for (std::uint64_t page_no = 0;; ++page_no) {
      const std::string page_at =
          "page " + std::to_string(page_no) + ", after contact " + std::to_string(cursor);
      const std::string at = what(page_at);
      Result<mautic::Answer> a = session.call(
          "GET", contacts_target(limit) + where(0, "id", "gt", std::to_string(cursor)) + extra);
      if (!a) return a.status().with_context("segment \"" + name + "\", " + page_at);
      if (page_no == 0 && server_start != nullptr) *server_start = a->server_time;
      Result<mautic::ContactsPage> page = mautic::parse_contacts_page(a->body, at);
      if (!page) return page.status();
      ++read.pages;
      std::int64_t last = cursor;
      for (const PageContact& c : page->contacts) {
        if (c.id == 0) continue;
        if (c.id <= cursor) {
          // The server did not apply where id > cursor: paging on would read the same again.
          return Status::unavailable(at + ": the answer holds contact " + std::to_string(c.id) +
                                     ", not after " + std::to_string(cursor));
        }
        last = std::max(last, c.id);
      }
      if (Status s = on_page(*page); !s) return s;
      const std::size_t got = page->contacts.size();
      if (got == 0) return Status::ok();
      // A full page, or fewer than the total says match: there may be more. (The total may be
      // cached for a few seconds; an empty next page ends the read either way.)
      const bool more =
          got >= static_cast<std::size_t>(limit) || (page->total && *page->total > got);
      if (!more) return Status::ok();
      if (last == cursor) {
        return Status::unavailable(at + ": no contact of the page has a readable id, so the " +
                                   "read cannot page past them");
      }
      cursor = last;
    }
  }

  Result<SideRead> read(const Micros* since, SourceSink& sink) {
    // No watermark to read since (or one too old to subtract from): everything.
    if (since != nullptr && *since < kNoTime + session.options().incremental_overlap) {
      since = nullptr;
    }
    SideRead read;
    const Micros local_start = session.clock().now();
    Micros server_start = kNoTime;
    std::string extra;
    if (since != nullptr) {
      // Mautic keeps its dates in UTC.
      extra = where(1, "date_modified", "gte",
                    format_civil(*since - session.options().incremental_overlap));
    }
    Status s = keyset(session.options().page_size, extra, &server_start, read,
                      [&](const mautic::ContactsPage& page) { return hand_over(page, sink); });
    if (!s) return s;
    read.watermark = server_start != kNoTime ? server_start : local_start;
    if (since != nullptr) read.watermark = std::max(read.watermark, *since);
    return read;
  }
};

MauticSegmentReader::MauticSegmentReader(std::unique_ptr<State> state) : state_(std::move(state)) {}
MauticSegmentReader::~MauticSegmentReader() = default;

Status MauticSegmentReader::resolve() {
  State& st = *state_;
  if (st.resolved) return Status::ok();
  if (st.wanted.empty()) {
    return Status::invalid("the Mautic segment is empty").with_origin(Origin::kMautic);
  }
  Result<std::vector<json>> listed = st.session.list_all("segments", "lists");
  if (!listed) return listed.status().with_origin(Origin::kMautic);
  struct Segment {
    std::int64_t id;
    std::string alias;
  };
  std::vector<sides::Named> named;
  std::vector<Segment> segments;
  for (std::size_t i = 0; i < listed->size(); ++i) {
    const json& l = (*listed)[i];
    const std::string at = "Mautic GET /api/segments: segment [" + std::to_string(i) + "]";
    const std::optional<std::int64_t> id = mautic::integer_of(sides::find(l, "id"));
    const json* name = sides::find(l, "name");
    const json* alias = sides::find(l, "alias");
    if (!id || *id < 1) return Status::unavailable(at + " has no id").with_origin(Origin::kMautic);
    if (name == nullptr || !name->is_string() || alias == nullptr || !alias->is_string()) {
      return Status::unavailable(at + " (id " + std::to_string(*id) +
                                 ") has no name or alias string")
          .with_origin(Origin::kMautic);
    }
    segments.push_back({*id, alias->get<std::string>()});
    named.push_back({std::to_string(*id), name->get<std::string>()});
  }
  // By id (leading zeros or not), then by alias (unique in Mautic), then by name.
  std::string wanted = st.wanted;
  if (Result<std::int64_t> n = parse_int64(wanted); n && *n > 0) wanted = std::to_string(*n);
  std::optional<std::size_t> chosen;
  for (std::size_t i = 0; i < segments.size() && !chosen; ++i) {
    if (named[i].id == wanted) chosen = i;
  }
  for (std::size_t i = 0; i < segments.size() && !chosen; ++i) {
    if (segments[i].alias == st.wanted) chosen = i;
  }
  if (!chosen) {
    Result<std::size_t> by_name =
        sides::choose_by_id_or_name(named, st.wanted, "Mautic segment", "Mautic segments");
    if (!by_name) {
      return Status(by_name.status())
          .with_context("the segment is named by id, alias or name")
          .with_origin(Origin::kMautic);
    }
    chosen = *by_name;
  }
  st.id = segments[*chosen].id;
  st.alias = segments[*chosen].alias;
  st.name = named[*chosen].name;
  st.resolved = true;
  return Status::ok();
}

std::string MauticSegmentReader::set_name() const {
  assert(state_->resolved && "REQUIRES: resolve() succeeded");
  return state_->name;
}

std::int64_t MauticSegmentReader::segment_id() const {
  assert(state_->resolved && "REQUIRES: resolve() succeeded");
  return state_->id;
}

const std::string& MauticSegmentReader::segment_alias() const {
  assert(state_->resolved && "REQUIRES: resolve() succeeded");
  return state_->alias;
}

std::uint64_t MauticSegmentReader::requests() const {
  return state_->session.requests();
}

Result<SideRead> MauticSegmentReader::read_all(SourceSink& sink) {
  if (Status s = resolve(); !s) return s;
  Result<SideRead> r = state_->read(nullptr, sink);
  if (!r) return r.status().with_origin(Origin::kMautic);
  return r;
}

Result<SideRead> MauticSegmentReader::read_since(Micros watermark, SourceSink& sink) {
  if (Status s = resolve(); !s) return s;
  Result<SideRead> r = state_->read(&watermark, sink);
  if (!r) return r.status().with_origin(Origin::kMautic);
  return r;
}

Result<std::vector<std::int64_t>> MauticSegmentReader::member_ids() {
  if (Status s = resolve(); !s) return s;
  State& st = *state_;
  std::vector<std::int64_t> ids;
  SideRead read;
  Status s = st.keyset(
      st.session.options().id_page_size, "&select%5B%5D=id", nullptr, read,
      [&](const mautic::ContactsPage& page) {
        for (const PageContact& c : page.contacts) {
          if (c.id == 0) {
            return Status::unavailable(st.what("ids, page " + std::to_string(read.pages - 1)) +
                                       ": " + c.label + ": " + c.problem);
          }
          ids.push_back(c.id);
        }
        return Status::ok();
      });
  if (!s) return s.with_origin(Origin::kMautic);
  // Ascending already (each page is, and pages follow one another); a repeat is dropped.
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

Result<MauticContactsRead> MauticSegmentReader::read_contacts(
    const std::vector<std::int64_t>& contact_ids, SourceSink& sink) {
  if (Status s = resolve(); !s) return s;
  State& st = *state_;
  std::vector<std::int64_t> wanted;
  for (std::int64_t id : contact_ids) {
    if (id > 0) wanted.push_back(id);
  }
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  MauticContactsRead out;
  for (std::size_t from = 0; from < wanted.size(); from += kIdsPerRequest) {
    const std::size_t to = std::min(wanted.size(), from + kIdsPerRequest);
    std::string list;
    for (std::size_t i = from; i < to; ++i)
      list += (i == from ? "" : ",") + std::to_string(wanted[i]);
    const std::string at = st.what("contacts " + std::to_string(wanted[from]) + " to " +
                                   std::to_string(wanted[to - 1]));
    Result<mautic::Answer> a = st.session.call(
        "GET", st.contacts_target(static_cast<int>(to - from)) + where(0, "id", "in", list));
    if (!a) {
      return a.status().with_context("segment \"" + st.name + "\"").with_origin(Origin::kMautic);
    }
    Result<mautic::ContactsPage> page = mautic::parse_contacts_page(a->body, at);
    if (!page) return page.status().with_origin(Origin::kMautic);
    ++out.read.pages;
    std::set<std::int64_t> seen;
    for (const PageContact& c : page->contacts) {
      if (c.id == 0) continue;
      if (!std::binary_search(wanted.begin() + static_cast<std::ptrdiff_t>(from),
                              wanted.begin() + static_cast<std::ptrdiff_t>(to), c.id)) {
        return Status::unavailable(at + ": the answer holds contact " + std::to_string(c.id) +
                                   ", which was not asked for")
            .with_origin(Origin::kMautic);
      }
      seen.insert(c.id);
    }
    // A contact missing from a cut answer would look as if it had left the segment.
    if (page->total && *page->total > page->contacts.size()) {
      return Status::unavailable(at + ": the answer holds " +
                                 std::to_string(page->contacts.size()) + " contacts of the " +
                                 std::to_string(*page->total) + " it counts")
          .with_origin(Origin::kMautic);
    }
    if (Status s = st.hand_over(*page, sink); !s) return s.with_origin(Origin::kMautic);
    for (std::size_t i = from; i < to; ++i) {
      if (!seen.count(wanted[i])) out.not_in_segment.push_back(wanted[i]);
    }
  }
  return out;
}

std::unique_ptr<MauticSegmentReader> MauticClient::reader(std::string segment,
                                                          std::vector<std::string> fields) {
  auto state = std::make_unique<MauticSegmentReader::State>(*session_, std::move(segment),
                                                            std::move(fields));
  return std::unique_ptr<MauticSegmentReader>(new MauticSegmentReader(std::move(state)));
}

Result<std::vector<std::string>> MauticSegmentReader::list_ids() {
  Result<std::vector<std::int64_t>> ids = member_ids();
  if (!ids) return ids.status();
  std::vector<std::string> out;
  out.reserve(ids->size());
  for (std::int64_t id : *ids)
    out.push_back(std::to_string(id));
  return out;
}

Result<SideRead> MauticSegmentReader::read_ids(const std::vector<std::string>& ids,
                                               SourceSink& sink, std::vector<std::string>* absent) {
  std::vector<std::int64_t> numbers;
  for (const std::string& id : ids) {
    Result<std::int64_t> n = parse_int64(id);
    if (n && *n > 0 && std::to_string(*n) == id) {
      numbers.push_back(*n);
    } else {
      absent->push_back(id);
    }
  }
  Result<MauticContactsRead> r = read_contacts(numbers, sink);
  if (!r) return r.status();
  for (std::int64_t id : r->not_in_segment)
    absent->push_back(std::to_string(id));
  return r->read;
}

}  // namespace concord

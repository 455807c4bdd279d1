#include "sandbox/mautic/search.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "sandbox/mautic/columns.h"
#include "sandbox/text.h"

namespace concord::sandbox::mautic {
namespace {

// The fields free text is looked for in (LeadRepository::addCatchAllWhereClause).
constexpr std::string_view kCatchAll[] = {
    "firstname", "lastname", "email",      "company",   "city",     "state", "zipcode",
    "country",   "facebook", "foursquare", "instagram", "linkedin", "skype", "twitter"};

// Mautic's contact search commands the sandbox does not emulate.
constexpr std::string_view kNotEmulated[] = {
    "owner",        "company",       "company_id",  "ip",
    "stage",        "common",        "email_sent",  "email_read",
    "email_queued", "email_pending", "page_source", "page_source_id",
    "import_id",    "import_action", "page_id",     "sms_sent",
    "web_sent",     "mobile_sent",   "form",        "campaign"};

// Splits at spaces outside double quotes.
std::vector<std::string> split_terms(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char ch : s) {
    if (ch == '"') quoted = !quoted;
    if (!quoted && (ch == ' ' || ch == '\t')) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
      continue;
    }
    cur += ch;
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

SearchTerm read_term(std::string_view text) {
  SearchTerm t;
  if (!text.empty() && text.front() == '!') {
    t.negate = true;
    text.remove_prefix(1);
  }
  const std::size_t colon = text.find(':');
  const std::size_t quote = text.find('"');
  if (colon != std::string_view::npos && colon > 0 && colon < quote) {
    t.command = ascii_lower(text.substr(0, colon));
    text.remove_prefix(colon + 1);
  }
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    t.strict = true;
    text = text.substr(1, text.size() - 2);
  }
  t.value = std::string(text);
  return t;
}

bool text_like(const ojson& v, const std::string& pattern) {
  return v.is_string() && sql_like(v.get_ref<const std::string&>(), pattern);
}

Result<Match> command_match(const Site& site, const SearchTerm& t) {
  const std::string prefix = t.strict ? t.value : t.value + "%";
  if (t.command.empty()) {
    const std::string contains = "%" + t.value + "%";
    return Match([contains](const Contact& c) {
      return std::any_of(std::begin(kCatchAll), std::end(kCatchAll), [&](std::string_view alias) {
        return text_like(field_value(c, alias), contains);
      });
    });
  }
  if (t.command == "segment") {
    const Segment* s = nullptr;
    for (const auto& [id, seg] : site.segments) {
      if (ascii_lower(seg.alias) == ascii_lower(t.value)) s = &seg;
    }
    return Match([s](const Contact& c) { return s && s->members.count(c.id) > 0; });
  }
  if (t.command == "ids") {
    return Match([ids = id_list(t.value)](const Contact& c) { return ids.count(c.id) > 0; });
  }
  if (t.command == "name") {
    return Match([prefix](const Contact& c) {
      return text_like(field_value(c, "firstname"), prefix) ||
             text_like(field_value(c, "lastname"), prefix);
    });
  }
  if (t.command == "tag") {
    return Match([prefix](const Contact& c) {
      return std::any_of(c.tags.begin(), c.tags.end(),
                         [&](const std::string& tag) { return sql_like(tag, prefix); });
    });
  }
  if (t.command == "dnc") {
    const std::string channel = t.value;
    return Match([channel](const Contact& c) {
      return std::any_of(c.dnc.begin(), c.dnc.end(), [&](const DoNotContact& d) {
        return channel == "any" || d.channel == channel;
      });
    });
  }
  if (t.command == "is") {
    const std::string what = ascii_lower(t.value);
    if (what == "anonymous") {
      return Match([](const Contact& c) { return c.date_identified == kNoTime; });
    }
    if (what == "unowned") return Match([](const Contact& c) { return c.owner.is_null(); });
    if (what == "mine") {
      return Match([](const Contact& c) {
        return c.owner.is_object() && c.owner.value("id", ojson()) == ojson(kActingUserId);
      });
    }
    if (what == "published" || what == "unpublished") {
      const bool want = what == "published";
      return Match([want](const Contact& c) { return c.is_published == want; });
    }
    return Status::invalid("The sandbox does not emulate the search command \"is:" + t.value +
                           "\".");
  }
  if (site.field(t.command) && t.command != "points") {
    const std::string alias = t.command;
    return Match(
        [alias, prefix](const Contact& c) { return text_like(field_value(c, alias), prefix); });
  }
  const bool known = std::find(std::begin(kNotEmulated), std::end(kNotEmulated), t.command) !=
                     std::end(kNotEmulated);
  return Status::invalid(std::string(known ? "The sandbox does not emulate the search command \""
                                           : "Unknown search command \"") +
                         t.command + ":\".");
}

}  // namespace

std::set<std::int64_t> id_list(std::string_view text) {
  std::set<std::int64_t> ids;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    if (auto n = parse_int64(trim_view(text.substr(pos, comma - pos)))) ids.insert(*n);
    pos = comma + 1;
  }
  return ids;
}

std::vector<SearchTerm> search_terms(std::string_view search) {
  std::vector<SearchTerm> terms;
  for (const std::string& text : split_terms(search))
    terms.push_back(read_term(text));
  return terms;
}

Result<Match> parse_search(const Site& site, std::string_view search) {
  std::vector<Match> all;
  for (const SearchTerm& t : search_terms(search)) {
    auto m = command_match(site, t);
    if (!m.is_ok()) return m.status();
    if (t.negate) {
      all.push_back([inner = std::move(m).value()](const Contact& c) { return !inner(c); });
    } else {
      all.push_back(std::move(m).value());
    }
  }
  return Match([all = std::move(all)](const Contact& c) {
    return std::all_of(all.begin(), all.end(), [&](const Match& m) { return m(c); });
  });
}

}  // namespace concord::sandbox::mautic

#include "sandbox/mixpanel/engage.h"

#include <algorithm>
#include <cstdio>

#include "concord/time.h"
#include "sandbox/text.h"

namespace concord::sandbox::mixpanel {
namespace {

// A JSON array of strings, as output_properties and distinct_ids are given.
Result<std::optional<std::vector<std::string>>> string_list(const Params& params,
                                                            const char* name) {
  auto v = params.json_value(name);
  if (!v.is_ok()) return v.status();
  if (!*v) return std::optional<std::vector<std::string>>();
  const ojson& j = **v;
  if (!j.is_array()) return Status::invalid(std::string(name) + " must be a JSON array of strings");
  std::vector<std::string> out;
  for (const ojson& e : j) {
    if (!e.is_string()) {
      return Status::invalid(std::string(name) + " must be a JSON array of strings");
    }
    out.push_back(e.get<std::string>());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

const ojson& empty_object() {
  static const ojson kEmpty = ojson::object();
  return kEmpty;
}

}  // namespace

std::string EngageFilter::key() const {
  std::string k = "cohort=" + (cohort_id ? std::to_string(*cohort_id) : std::string("-"));
  k += cohort_id && !include_all_users ? ";profiles-only" : "";
  k += ";where=" + std::to_string(where_text.size()) + ":" + where_text;
  if (distinct_ids) {
    k += ";ids=";
    for (const std::string& id : *distinct_ids)
      k += std::to_string(id.size()) + ":" + id;
  }
  return k;
}

Result<EngageRequest> read_engage(const Params& params) {
  EngageRequest r;
  // Event selectors and group profiles need events and groups the sandbox does not keep: refused
  // rather than answered with a made-up result.
  for (const char* unsupported : {"behaviors", "as_of_timestamp", "data_group_id"}) {
    if (params.find(unsupported)) {
      return Status::invalid(std::string(unsupported) + " is not supported by the sandbox");
    }
  }

  auto cohort = params.json_value("filter_by_cohort");
  if (!cohort.is_ok()) return cohort.status();
  if (*cohort) {
    const ojson& c = **cohort;
    const ojson* id = c.is_object() && c.size() == 1 && c.contains("id") ? &c["id"] : nullptr;
    std::optional<std::int64_t> n;
    if (id && id->is_number_integer()) {
      n = id->get<std::int64_t>();
    } else if (id && id->is_string()) {
      n = parse_int64(id->get_ref<const std::string&>());
    }
    if (!n) {
      return Status::invalid(
          "filter_by_cohort must be a JSON object with a single key \"id\", e.g. {\"id\":12345}");
    }
    r.filter.cohort_id = n;
  }
  auto all = params.boolean("include_all_users");
  if (!all.is_ok()) return all.status();
  r.filter.include_all_users = all->value_or(true);

  auto where = params.text("where");
  if (!where.is_ok()) return where.status();
  if (*where && !trim_view(**where).empty()) {
    auto parsed = Where::parse(**where);
    if (!parsed.is_ok()) return parsed.status();
    r.filter.where_text = std::string(trim_view(**where));
    r.filter.where = std::move(parsed).value();
  }

  auto ids = string_list(params, "distinct_ids");
  if (!ids.is_ok()) return ids.status();
  auto one = params.text("distinct_id");
  if (!one.is_ok()) return one.status();
  if (*ids || *one) {
    std::vector<std::string> all_ids = ids->value_or(std::vector<std::string>());
    if (*one) all_ids.push_back(**one);
    std::sort(all_ids.begin(), all_ids.end());
    all_ids.erase(std::unique(all_ids.begin(), all_ids.end()), all_ids.end());
    r.filter.distinct_ids = std::move(all_ids);
  }

  auto props = string_list(params, "output_properties");
  if (!props.is_ok()) return props.status();
  r.output_properties = std::move(props).value();

  auto session = params.text("session_id");
  if (!session.is_ok()) return session.status();
  r.session_id = session->value_or("");
  auto page = params.integer("page");
  if (!page.is_ok() || (*page && **page < 0)) {
    return Status::invalid("page must be a non-negative integer");
  }
  r.page = page->value_or(0);
  if (r.page > 0 && r.session_id.empty()) {
    return Status::invalid("session_id is required when page is greater than 0");
  }
  return r;
}

Result<std::vector<std::string>> select_profiles(const Project& project, const EngageFilter& f) {
  std::vector<std::string> out;
  auto wanted = [&](const std::string& id) {
    return !f.distinct_ids ||
           std::binary_search(f.distinct_ids->begin(), f.distinct_ids->end(), id);
  };
  auto selected = [&](const ojson& props) { return !f.where || f.where->matches(props); };
  if (f.cohort_id) {
    auto c = project.cohorts.find(*f.cohort_id);
    if (c == project.cohorts.end()) {
      return Status::not_found("cohort " + std::to_string(*f.cohort_id) + " not found");
    }
    for (const std::string& id : c->second.members) {
      auto p = project.profiles.find(id);
      if (p == project.profiles.end() && !f.include_all_users) continue;
      if (!wanted(id)) continue;
      if (!selected(p == project.profiles.end() ? empty_object() : p->second)) continue;
      out.push_back(id);
    }
  } else if (f.distinct_ids) {
    for (const std::string& id : *f.distinct_ids) {
      auto p = project.profiles.find(id);
      if (p != project.profiles.end() && selected(p->second)) out.push_back(id);
    }
  } else {
    for (const auto& [id, props] : project.profiles) {
      if (selected(props)) out.push_back(id);
    }
  }
  return out;
}

std::string computed_at_text(Micros t) {
  std::string s = format_civil(t);
  if (s.size() > 10) s[10] = 'T';
  char frac[8];
  std::snprintf(
      frac, sizeof frac, ".%06lld",
      static_cast<long long>((t % kMicrosPerSecond + kMicrosPerSecond) % kMicrosPerSecond));
  return s + frac + "+00:00";
}

std::string engage_page(const Project& project, const EngageRequest& request,
                        const std::string& session_id, const EngageSession& session) {
  const std::vector<std::string>& ids = *session.ids;
  const std::int64_t page_size = project.limits.page_size;
  JsonOut o;
  o.begin_object();
  o.key("page");
  o.integer(request.page);
  o.key("page_size");
  o.integer(page_size);
  o.key("session_id");
  o.str(session_id);
  o.key("status");
  o.str("ok");
  if (request.page == 0) {
    o.key("total");
    o.integer(static_cast<std::int64_t>(ids.size()));
  }
  o.key("computed_at");
  o.str(computed_at_text(session.computed_at));
  o.key("results");
  o.begin_array();
  const std::int64_t n = static_cast<std::int64_t>(ids.size());
  // Past the end (or a page number too large to multiply) there is nothing.
  const std::int64_t begin = request.page >= (n + page_size - 1) / page_size + 1
                                 ? n
                                 : std::min(n, request.page * page_size);
  const std::int64_t end = std::min(n, begin + page_size);
  for (std::int64_t i = begin; i < end; ++i) {
    const std::string& id = ids[static_cast<std::size_t>(i)];
    o.begin_object();
    o.key("$distinct_id");
    o.str(id);
    o.key("$properties");
    auto p = project.profiles.find(id);
    // A member without a profile (include_all_users) has no properties.
    const ojson& props = p == project.profiles.end() ? empty_object() : p->second;
    if (!request.output_properties) {
      o.value(props);
    } else {
      o.begin_object();
      for (auto it = props.begin(); it != props.end(); ++it) {
        const auto& wanted = *request.output_properties;
        if (std::find(wanted.begin(), wanted.end(), it.key()) == wanted.end()) continue;
        o.key(it.key());
        o.value(it.value());
      }
      o.end_object();
    }
    o.end_object();
  }
  o.end_array();
  o.end_object();
  return std::move(o.buf);
}

}  // namespace concord::sandbox::mixpanel

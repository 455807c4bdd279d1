#include "sandbox/civicrm/actions.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <map>

#include "net/ascii.h"
#include "sandbox/civicrm/api_error.h"
#include "sandbox/civicrm/paths.h"
#include "sandbox/civicrm/select.h"
#include "sandbox/civicrm/times.h"
#include "sandbox/text.h"

namespace concord::sandbox {
namespace {

constexpr auto lower = http::ascii::to_lower;

// The prefix of a contact's primary-email values in writes (ContactSaveTrait::saveLocations).
constexpr std::string_view kEmailPrimaryPrefix = "email_primary.";

}  // namespace

std::string action_class(Ent e, const std::string& action) {
  if (e == kGroupContact && (action == "create" || action == "save" || action == "update")) {
    std::string a = action;
    a[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(a[0])));
    return "Civi\\Api4\\Action\\GroupContact\\" + a;
  }
  if (e == kContact && action == "delete") return "Civi\\Api4\\Action\\Contact\\Delete";
  static const std::map<std::string, std::string> kClasses = {
      {"get", "DAOGetAction"},       {"getfields", "DAOGetFieldsAction"},
      {"create", "DAOCreateAction"}, {"update", "DAOUpdateAction"},
      {"save", "DAOSaveAction"},     {"delete", "DAODeleteAction"}};
  return "Civi\\Api4\\Generic\\" + kClasses.at(action);
}

bool writes(const std::string& action, const pjson& params) {
  if (lower(action).rfind("get", 0) != 0) return true;
  if (!params.is_object()) return false;
  auto it = params.find("chain");
  if (it == params.end() || !it->is_object()) return false;
  for (const pjson& c : *it) {
    if (!c.is_array() || c.size() < 2 || !c[1].is_string()) return true;
    pjson sub = c.size() > 2 ? c[2] : pjson::object();
    if (writes(c[1].get<std::string>(), sub)) return true;
  }
  return false;
}

Engine::Engine(CiviSite& site, Micros now_utc, QueryCache* cache,
               std::atomic<std::uint64_t>* version)
    : site_(site),
      env_{&site, now_utc},
      cache_(cache),
      version_(version),
      now_local_(site.tz->utc_to_local(now_utc)),
      writer_(site, now_local_) {}

CallOutput Engine::call(const std::string& entity, const std::string& action, const pjson& params,
                        const pjson& index) {
  Ent ent = entity_by_name(entity);
  std::string act = lower(action);
  static const std::array<std::string_view, 6> kActions = {"get",    "getfields", "create",
                                                           "update", "save",      "delete"};
  bool known_action = std::find(kActions.begin(), kActions.end(), act) != kActions.end();
  if (ent == kNoEnt || !known_action) {
    fail("API (" + entity + ", " + action +
         ") does not exist (join the API team and implement it!)");
  }
  if (!params.is_object() && !(params.is_array() && params.empty())) {
    // A JSON list: its keys are 0, 1, …
    fail("Unknown method: " + action_class(ent, act) + "::set0()");
  }
  pjson p = params.is_object() ? params : pjson::object();
  std::string with_index_field;
  check_params(ent, act, p);
  if (denied(entity, act)) fail("Authorization failed", 403);
  validate_params(act, p);
  // A string index names a field to key the results by; it is selected if need be.
  bool remove_index_field = false;
  if (index.is_string() && !parse_int64(index.get<std::string>()) && act == "get") {
    with_index_field = index.get<std::string>();
    if (p.contains("select") && p["select"].is_array() && !p["select"].empty()) {
      bool has = false;
      for (const pjson& s : p["select"]) {
        if (s == with_index_field) has = true;
      }
      if (!has) {
        p["select"].push_back(with_index_field);
        remove_index_field = true;
      }
    }
  } else if (index.is_string() && !parse_int64(index.get<std::string>())) {
    with_index_field = index.get<std::string>();
  }
  CallOutput out;
  out.ent = ent;
  out.action = act == "getfields" ? "getFields" : act;
  out.debug = flag(p, "debug");
  if (act == "get") {
    do_get(ent, p, &out);
  } else if (act == "getfields") {
    do_get_fields(ent, p, &out);
  } else {
    std::vector<OutRow> rows;
    if (act == "create") {
      do_create(ent, p, &rows);
    } else if (act == "update") {
      do_update(ent, p, &rows);
    } else if (act == "save") {
      do_save(ent, p, &rows, &out.matched);
    } else {
      do_delete(ent, p, &rows);
    }
    for (const OutRow& r : rows)
      out.rows.push_back(render_out(r));
    out.fetched = static_cast<std::int64_t>(out.rows.size());
    out.count = out.fetched;
  }
  if (auto it = p.find("chain"); it != p.end() && it->is_object() && !it->empty()) {
    run_chains(*it, &out);
  }
  if (!with_index_field.empty()) index_by(with_index_field, remove_index_field, &out);
  return out;
}

std::string Engine::values_json(const CallOutput& out, const pjson& index,
                                const std::string* keyed) {
  if (keyed != nullptr) return *keyed;
  std::optional<std::int64_t> at;
  if (index.is_number_integer()) at = index.get<std::int64_t>();
  if (index.is_string()) at = parse_int64(index.get<std::string>());
  if (at) {
    auto n = static_cast<std::int64_t>(out.rows.size());
    std::int64_t i = *at < 0 ? n + *at : *at;
    if ((*at < 0 ? -*at : *at + 1) > n || i < 0 || i >= n) return "null";
    return out.rows[static_cast<std::size_t>(i)];
  }
  std::string s = "[";
  for (std::size_t i = 0; i < out.rows.size(); ++i) {
    if (i) s.push_back(',');
    s += out.rows[i];
  }
  s.push_back(']');
  return s;
}
bool Engine::has_param(Ent e, const std::string& act, const std::string& name) {
  static const std::vector<std::string> kCommon = {"version", "checkPermissions", "debug", "chain"};
  if (std::find(kCommon.begin(), kCommon.end(), name) != kCommon.end()) return true;
  std::vector<std::string> names;
  if (act == "get") {
    names = {"select", "where", "orderBy", "limit", "offset", "join", "groupBy", "having"};
  } else if (act == "getfields") {
    names = {"select", "where",  "orderBy",     "limit",        "offset",
             "action", "values", "loadOptions", "includeCustom"};
  } else if (act == "create") {
    names = {"values"};
  } else if (act == "update") {
    names = {"values", "where", "reload", "orderBy", "limit", "offset"};
  } else if (act == "save") {
    names = {"records", "defaults", "reload", "match"};
  } else {
    names = {"where", "orderBy", "limit", "offset"};
    if (e == kContact) names.push_back("useTrash");
  }
  if (e == kGroupContact && act != "get" && act != "delete") {
    names.push_back("method");
    names.push_back("tracking");
  }
  return std::find(names.begin(), names.end(), name) != names.end();
}

void Engine::check_params(Ent e, const std::string& act, const pjson& p) {
  for (auto it = p.begin(); it != p.end(); ++it) {
    const std::string& k = it.key();
    if (!has_param(e, act, k)) {
      std::string setter = k;
      if (!setter.empty()) {
        setter[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(setter[0])));
      }
      fail("Unknown method: " + action_class(e, act) + "::set" + setter + "()");
    }
    if (k == "version" && !(it.value() == 4 || it.value() == "4")) {
      fail("Cannot modify api version");
    }
  }
}

bool Engine::denied(const std::string& entity, const std::string& act) const {
  for (const std::string& d : site_.deny) {
    auto dot = d.find('.');
    if (dot == std::string::npos) continue;
    std::string de = d.substr(0, dot), da = lower(d.substr(dot + 1));
    if ((de == "*" || de == entity) && (da == "*" || da == act)) return true;
  }
  return false;
}

void Engine::validate_params(const std::string& act, const pjson& p) {
  auto required = [&](const char* name) {
    auto it = p.find(name);
    bool empty = it == p.end() || it->is_null() ||
                 (it->is_string() && it->get<std::string>().empty()) ||
                 ((it->is_array() || it->is_object()) && it->empty()) ||
                 (it->is_boolean() && !it->get<bool>());
    if (empty) fail(std::string("Parameter \"") + name + "\" is required.");
  };
  if (act == "update") required("values");
  if (act == "delete") required("where");
  if (act == "save") required("records");
  static const std::map<std::string, std::string> kTypes = {
      {"select", "array"},       {"where", "array"},   {"orderBy", "array"},
      {"join", "array"},         {"groupBy", "array"}, {"having", "array"},
      {"values", "array"},       {"records", "array"}, {"defaults", "array"},
      {"match", "array"},        {"chain", "array"},   {"limit", "int"},
      {"offset", "int"},         {"reload", "bool"},   {"debug", "bool"},
      {"useTrash", "bool"},      {"method", "string"}, {"tracking", "string"},
      {"includeCustom", "bool"}, {"action", "string"}, {"checkPermissions", "bool"}};
  for (auto it = p.begin(); it != p.end(); ++it) {
    auto t = kTypes.find(it.key());
    if (t == kTypes.end() || it->is_null()) continue;
    const pjson& v = it.value();
    bool ok = true;
    if (t->second == "array") ok = v.is_array() || v.is_object();
    if (t->second == "bool") ok = v.is_boolean();
    if (t->second == "string") ok = v.is_string();
    if (t->second == "int") {
      ok = v.is_number_integer() || v.is_number_unsigned() ||
           (v.is_string() && parse_int64(v.get<std::string>()).has_value());
    }
    if (!ok) {
      fail("Parameter \"" + it.key() + "\" is not of the correct type. Expecting " + t->second +
           ".");
    }
  }
  if (auto it = p.find("loadOptions");
      it != p.end() && !it->is_null() && !it->is_boolean() && !it->is_array()) {
    fail("Parameter \"loadOptions\" is not of the correct type. Expecting bool or array.");
  }
}

bool Engine::flag(const pjson& p, const char* name) {
  auto it = p.find(name);
  return it != p.end() && it->is_boolean() && it->get<bool>();
}

std::int64_t Engine::int_param(const pjson& p, const char* name) {
  auto it = p.find(name);
  if (it == p.end() || it->is_null()) return 0;
  if (it->is_string()) return parse_int64(it->get<std::string>()).value_or(0);
  return it->get<std::int64_t>();
}

void Engine::not_emulated_params(const pjson& p) {
  for (const char* k : {"join", "groupBy", "having"}) {
    auto it = p.find(k);
    if (it != p.end() && !it->is_null() && !it->empty()) {
      fail(std::string("concord-sandbox does not emulate the \"") + k + "\" parameter");
    }
  }
}

Query Engine::build_query(Ent ent, const pjson& p) {
  Query q;
  q.ent = ent;
  pjson where = p.contains("where") && !p["where"].is_null() ? p["where"] : pjson::array();
  if (where.is_object()) {
    pjson list = pjson::array();
    for (auto& [k, v] : where.items())
      list.push_back(v);
    where = list;
  }
  // Contact::get leaves out deleted contacts unless the where clause asks about them.
  if (ent == kContact && !fetches_by_id(where) && !where_contains(where, "is_deleted")) {
    where.push_back(pjson::array({"is_deleted", "=", false}));
  }
  q.where.kind = Node::kAnd;
  for (const pjson& c : where)
    q.where.kids.push_back(compile_clause(env_, ent, c));
  pjson order = p.contains("orderBy") && !p["orderBy"].is_null() ? p["orderBy"] : pjson::object();
  auto add_order = [&](const std::string& item, const pjson& dir) {
    std::string d = dir.is_string()  ? dir.get<std::string>()
                    : dir.is_array() ? "Array"
                                     : dir.dump();
    if (d != "ASC" && d != "DESC") {
      fail("Invalid sort direction. Cannot order by " + item + " " + d);
    }
    auto path = resolve_path(site_, ent, item);
    if (!path) fail("Invalid field '" + item + "'");
    q.order.push_back(OrderKey{std::move(*path), d == "DESC"});
  };
  if (order.is_object()) {
    for (auto it = order.begin(); it != order.end(); ++it)
      add_order(it.key(), it.value());
  } else {
    for (std::size_t i = 0; i < order.size(); ++i)
      add_order(std::to_string(i), order[i]);
  }
  q.limit = int_param(p, "limit");
  q.offset = int_param(p, "offset");
  q.cache_key = std::string(kEntities[ent].name) + "\n" + where.dump() + "\n" + order.dump();
  return q;
}

void Engine::do_get(Ent ent, const pjson& p, CallOutput* out) {
  not_emulated_params(p);
  bool get_count = false, only_count = false;
  pjson select = p.contains("select") && !p["select"].is_null() ? p["select"] : pjson::array();
  std::vector<SelectItem> sel = parse_select(site_, ent, select, &get_count, &only_count);
  Query q = build_query(ent, p);
  Matches m = run_query(site_, q, get_count || only_count, cache_, version_->load());
  std::optional<std::int64_t> row_count;
  if (!only_count) {
    std::string scratch;
    out->rows.reserve(m.page.size());
    for (std::uint32_t s : m.page) {
      std::string row;
      render_row(site_, sel, s, &row, &scratch);
      out->rows.push_back(std::move(row));
    }
    auto n = static_cast<std::int64_t>(m.page.size());
    if (q.limit == 0 || n < q.limit) {
      row_count = n + q.offset;
      if (get_count) {
        out->matched = *row_count;
        get_count = false;
      }
    }
  }
  if (get_count || only_count) {
    out->matched = m.total;
    row_count = m.total;
  }
  out->fetched = static_cast<std::int64_t>(out->rows.size());
  out->count = row_count.value_or(out->fetched);
}

namespace {

// PHP's strnatcasecmp: runs of digits compare as numbers, the rest ignoring case.
int natcasecmp(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      std::size_t i0 = i, j0 = j;
      while (i0 < a.size() && a[i0] == '0')
        ++i0;
      while (j0 < b.size() && b[j0] == '0')
        ++j0;
      std::size_t i1 = i0, j1 = j0;
      while (i1 < a.size() && digit(a[i1]))
        ++i1;
      while (j1 < b.size() && digit(b[j1]))
        ++j1;
      if (i1 - i0 != j1 - j0) return i1 - i0 < j1 - j0 ? -1 : 1;
      int c = a.substr(i0, i1 - i0).compare(b.substr(j0, j1 - j0));
      if (c != 0) return c < 0 ? -1 : 1;
      i = i1;
      j = j1;
      continue;
    }
    char x = http::ascii::lower(a[i]), y = http::ascii::lower(b[j]);
    if (x != y) return static_cast<unsigned char>(x) < static_cast<unsigned char>(y) ? -1 : 1;
    ++i;
    ++j;
  }
  if (i < a.size()) return 1;
  if (j < b.size()) return -1;
  return 0;
}

std::string sort_text(const pjson& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "1" : "";
  return v.dump();
}

}  // namespace

void Engine::do_get_fields(Ent ent, const pjson& p, CallOutput* out) {
  FieldSpecOptions o;
  if (auto it = p.find("loadOptions"); it != p.end() && !it->is_null()) {
    if (it->is_boolean()) o.load_options = it->get<bool>();
    if (it->is_array()) {
      for (const pjson& x : *it) {
        if (x.is_string()) o.option_props.push_back(x.get<std::string>());
      }
      o.load_options = !it->empty();  // PHP: an empty array is false
    }
  }
  if (auto it = p.find("action"); it != p.end() && it->is_string())
    o.action = it->get<std::string>();
  if (auto it = p.find("includeCustom"); it != p.end() && it->is_boolean()) {
    o.include_custom = it->get<bool>();
  }
  std::vector<pjson> rows = field_specs(site_, ent, o);
  pjson where = p.contains("where") && !p["where"].is_null() ? p["where"] : pjson::array();
  if (where.is_object()) {
    pjson list = pjson::array();
    for (auto& [k, v] : where.items())
      list.push_back(v);
    where = list;
  }
  std::erase_if(rows, [&](const pjson& r) { return !array_matches(r, where); });
  // ArrayQueryActionTrait::sortArray: a missing or NULL value first when ascending; any
  // direction but "ASC" descends.
  if (auto it = p.find("orderBy"); it != p.end() && it->is_object() && !it->empty()) {
    const pjson& order = *it;
    std::stable_sort(rows.begin(), rows.end(), [&](const pjson& a, const pjson& b) {
      for (auto k = order.begin(); k != order.end(); ++k) {
        int dir = k.value() == "ASC" ? 1 : -1;
        auto x = a.find(k.key()), y = b.find(k.key());
        bool has_x = x != a.end() && !x->is_null(), has_y = y != b.end() && !y->is_null();
        if (has_x && has_y) {
          int c = natcasecmp(sort_text(*x), sort_text(*y));
          if (c != 0) return c * dir < 0;
        } else if (has_x || has_y) {
          return (has_x ? 1 : -1) * dir < 0;
        }
      }
      return false;
    });
  }
  const auto total = static_cast<std::int64_t>(rows.size());
  std::int64_t offset = std::clamp<std::int64_t>(int_param(p, "offset"), 0, total);
  std::int64_t limit = int_param(p, "limit");
  std::int64_t end = limit > 0 ? std::min(total, offset + limit) : total;
  // ArrayQueryActionTrait::selectArray: ["row_count"] alone is the count; else only the keys
  // named (wildcards matched against the keys), in the field's own order.
  std::vector<std::string> select;
  if (auto it = p.find("select"); it != p.end() && it->is_array()) {
    for (const pjson& x : *it) {
      if (!x.is_string()) fail("Invalid field in select");
      select.push_back(x.get<std::string>());
    }
  }
  if (select.size() == 1 && select[0] == "row_count") {
    out->rows.push_back("{\"row_count\":" + std::to_string(total) + "}");
  } else {
    for (std::int64_t i = offset; i < end; ++i) {
      pjson row = pjson::object();
      const pjson& spec = rows[static_cast<std::size_t>(i)];
      for (auto it = spec.begin(); it != spec.end(); ++it) {
        bool wanted = select.empty();
        for (const std::string& s : select)
          wanted = wanted || select_matches(s, it.key());
        if (wanted) row[it.key()] = it.value();
      }
      std::string txt;
      append_php_json(&txt, row);
      out->rows.push_back(std::move(txt));
    }
  }
  out->fetched = static_cast<std::int64_t>(out->rows.size());
  out->count = total;
  out->matched = total;
}

std::vector<std::uint32_t> Engine::batch_slots(Ent ent, const pjson& p) {
  Query q = build_query(ent, p);
  Matches m = run_query(site_, q, false, cache_, version_->load());
  return m.page;
}

void Engine::bump() {
  changed_ = true;
  version_->fetch_add(1);
}

XVal Engine::to_xval(const FieldDef& d, const pjson& v, const std::string& key) {
  if (v.is_null()) return XVal{};
  auto bad = [&]() -> XVal { fail("Invalid value for " + key + ": " + v.dump()); };
  switch (d.ty) {
    case Ty::kInt: {
      if (v.is_boolean()) return XVal::of_int(v.get<bool>() ? 1 : 0);
      if (v.is_number_integer()) return XVal::of_int(v.get<std::int64_t>());
      if (v.is_number_unsigned())
        return XVal::of_int(static_cast<std::int64_t>(v.get<std::uint64_t>()));
      if (v.is_number_float()) {
        double x = v.get<double>();
        if (x == std::floor(x)) return XVal::of_int(static_cast<std::int64_t>(x));
        return bad();
      }
      if (v.is_string()) {
        std::string_view t = trim_view(v.get_ref<const std::string&>());
        if (t.empty()) return XVal{};
        if (auto n = parse_int64(t)) return XVal::of_int(*n);
      }
      return bad();
    }
    case Ty::kBool: {
      if (v.is_boolean()) return XVal::of_bool(v.get<bool>());
      if (v.is_number()) return XVal::of_bool(v.get<double>() != 0);
      if (v.is_string()) {
        std::string t = lower(trim_view(v.get_ref<const std::string&>()));
        if (t == "1" || t == "true") return XVal::of_bool(true);
        if (t == "0" || t == "false" || t.empty()) return XVal::of_bool(false);
      }
      return bad();
    }
    case Ty::kFloat: {
      if (v.is_boolean()) return XVal::of_float(v.get<bool>() ? 1 : 0);
      if (v.is_number() && std::isfinite(v.get<double>())) return XVal::of_float(v.get<double>());
      if (v.is_string()) {
        std::string_view t = trim_view(v.get_ref<const std::string&>());
        if (t.empty()) return XVal{};
        if (auto x = parse_decimal(t)) return XVal::of_float(*x);
      }
      return bad();
    }
    case Ty::kStr: {
      if (v.is_string()) return XVal::of_str(v.get<std::string>());
      if (v.is_boolean()) return XVal::of_str(v.get<bool>() ? "1" : "");
      if (v.is_number()) return XVal::of_str(v.dump());
      return bad();
    }
    case Ty::kTime:
    case Ty::kDate: {
      if (!v.is_string() && !v.is_number()) return bad();
      std::string text = v.is_string() ? v.get<std::string>() : v.dump();
      if (trim_view(text).empty()) return XVal{};
      auto t = parse_time_text(text, env_.now_utc, *site_.tz);
      Micros m = t ? *t : unreadable_time(*site_.tz);
      if (d.ty == Ty::kDate) {
        m -= ((m % kMicrosPerDay) + kMicrosPerDay) % kMicrosPerDay;
        return XVal::of_time(m, XVal::kDate);
      }
      return XVal::of_time(m);
    }
  }
  return XVal{};
}

Values Engine::parse_values(Ent ent, const pjson& obj, std::int64_t* id) {
  Values vals;
  *id = 0;
  if (!obj.is_object()) return vals;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& key = it.key();
    std::string base = key.substr(0, key.find(':'));
    int f = -1;
    if (key.find('.') != std::string::npos) {
      // A custom field, "Group.field"; other dotted keys are FK lookups, which are not emulated
      // (a contact's email_primary.* is written apart).
      f = site_.custom.find(ent, base);
      if (f < 0) continue;
    }
    Suffix suffix = Suffix::kNone;
    if (base.size() != key.size()) {
      std::string suf = key.substr(base.size() + 1);
      if (suf == "name") {
        suffix = Suffix::kName;
      } else if (suf == "label") {
        suffix = Suffix::kLabel;
      } else {
        fail("Illegal expression");
      }
    }
    if (f < 0) f = find_field(ent, base);
    if (f < 0) continue;
    const FieldDef& d = field_def(site_, ent, f);
    if (f == 0) {
      XVal x = to_xval(d, it.value(), key);
      *id = x.k == XVal::kInt ? x.i : 0;
      continue;
    }
    if (d.computed) continue;
    XVal x;
    if (suffix != Suffix::kNone) {
      if (d.opt == Opt::kNone) fail("No option list found for '" + base + "'");
      if (it->is_string()) {
        x = unsuffix(site_, d, suffix, it->get<std::string>()).value_or(XVal{});
      }
    } else {
      x = to_xval(d, it.value(), key);
    }
    std::erase_if(vals, [&](const FieldVal& fv) { return fv.field == f; });
    vals.push_back(FieldVal{f, std::move(x)});
  }
  return vals;
}

std::uint64_t Engine::mask_of(Ent ent, const Values& vals) {
  std::uint64_t m = 1;  // id
  for (const FieldVal& fv : vals) {
    if (!is_custom(ent, fv.field)) m |= std::uint64_t{1} << fv.field;
  }
  return m;
}

std::vector<int> Engine::custom_of(Ent ent, const Values& vals) {
  std::vector<int> out;
  for (const FieldVal& fv : vals) {
    if (is_custom(ent, fv.field)) out.push_back(fv.field);
  }
  return out;
}

void Engine::check_required(Ent ent, const std::string& act, const std::vector<Values>& records) {
  std::vector<std::string> missing;
  const EntityDef& fl = kEntities[ent];
  for (const Values& vals : records) {
    for (int f = 0; f < fl.field_count; ++f) {
      if (!fl.fields[f].required) continue;
      const XVal* v = value_of(vals, f);
      if (v == nullptr || v->k == XVal::kNull || (v->k == XVal::kStr && v->s.empty())) {
        std::string n(fl.fields[f].name);
        if (std::find(missing.begin(), missing.end(), n) == missing.end()) missing.push_back(n);
      }
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (const std::string& m : missing)
      list += (list.empty() ? "" : ", ") + m;
    fail("Mandatory values missing from Api4 " + std::string(kEntities[ent].name) + "::" + act +
         ": " + list);
  }
}

void Engine::fill_defaults(Ent ent, Values* vals) {
  if (ent == kContact && !given(*vals, C_CONTACT_TYPE)) {
    vals->push_back(FieldVal{C_CONTACT_TYPE, XVal::of_str("Individual")});
  }
  if (ent == kEmail && !given(*vals, E_LOCATION_TYPE_ID)) {
    vals->push_back(FieldVal{E_LOCATION_TYPE_ID, XVal::of_int(1)});
  }
}

std::uint32_t Engine::insert(Ent ent, const Values& vals, std::uint64_t* shown) {
  bump();
  return (writer_.*kEntities[ent].insert)(vals, shown);
}

void Engine::update(Ent ent, std::uint32_t slot, const Values& vals, std::uint64_t* shown) {
  bump();
  (writer_.*kEntities[ent].update)(slot, vals, shown);
}

void Engine::remove(Ent ent, std::uint32_t slot, bool use_trash) {
  bump();
  (writer_.*kEntities[ent].remove)(slot, use_trash);
}

void Engine::read_method_params(Ent ent, const pjson& p) {
  std::string method = "API", tracking;
  if (ent == kGroupContact) {
    if (auto it = p.find("method"); it != p.end() && it->is_string()) {
      method = it->get<std::string>();
    }
    if (auto it = p.find("tracking"); it != p.end() && it->is_string()) {
      tracking = it->get<std::string>();
    }
  }
  writer_.set_history_source(std::move(method), std::move(tracking));
}

pjson Engine::primary_email_item(Ent ent, const pjson& rec) {
  pjson item = pjson::object();
  if (ent != kContact || !rec.is_object()) return item;
  for (auto it = rec.begin(); it != rec.end(); ++it) {
    const std::string& key = it.key();
    if (key.compare(0, kEmailPrimaryPrefix.size(), kEmailPrimaryPrefix) == 0) {
      item[key.substr(kEmailPrimaryPrefix.size())] = it.value();
    }
  }
  return item;
}

void Engine::save_primary_email(const pjson& given, OutRow* out) {
  if (given.empty()) return;
  for (auto it = given.begin(); it != given.end(); ++it) {
    const std::string& key = it.key();
    int f = find_field(kEmail, std::string_view(key).substr(0, key.find(':')));
    if (f >= 0) out->email_fields |= std::uint32_t{1} << f;
  }
  pjson item = given;
  for (const char* k : {"id", "is_primary", "is_billing"})
    item.erase(k);
  if (item.empty()) return;
  std::int64_t contact = site_.contacts.rows[out->slot].id;
  out->fields |= std::uint64_t{1} << C_EMAIL_PRIMARY;
  std::vector<std::uint32_t> primaries;
  site_.for_contact_emails(contact, [&](std::uint32_t s) {
    if (site_.emails.rows[s].is_primary) primaries.push_back(s);
  });
  if (auto e = item.find("email"); e != item.end() && e->is_null()) {
    // Email.delete where contact_id = the contact and is_primary.
    for (std::uint32_t s : primaries)
      remove(kEmail, s, false);
    return;
  }
  item["contact_id"] = contact;
  item["is_primary"] = true;
  std::int64_t id = 0;
  Values vals = parse_values(kEmail, item, &id);
  std::uint64_t shown = 0;
  if (primaries.size() == 1) {
    out->email_slot = primaries[0];
    update(kEmail, primaries[0], vals, &shown);
  } else {
    fill_defaults(kEmail, &vals);
    check_required(kEmail, "save", {vals});
    out->email_slot = insert(kEmail, vals, &shown);
  }
}

void Engine::do_create(Ent ent, const pjson& p, std::vector<OutRow>* rows) {
  read_method_params(ent, p);
  std::int64_t id = 0;
  pjson values = p.contains("values") && !p["values"].is_null() ? p["values"] : pjson::object();
  Values vals = parse_values(ent, values, &id);
  if (id != 0) fail("Cannot pass id to Create action. Use Update action instead.");
  fill_defaults(ent, &vals);
  check_required(ent, "create", {vals});
  OutRow r;
  r.ent = ent;
  r.fields = mask_of(ent, vals);
  r.custom = custom_of(ent, vals);
  r.slot = insert(ent, vals, &r.fields);
  save_primary_email(primary_email_item(ent, values), &r);
  rows->push_back(r);
}

void Engine::do_update(Ent ent, const pjson& p, std::vector<OutRow>* rows) {
  read_method_params(ent, p);
  std::int64_t id = 0;
  Values vals = parse_values(ent, p.at("values"), &id);
  pjson q = p;
  if (!q.contains("where") || q["where"].is_null()) q["where"] = pjson::array();
  if (id != 0) {
    bool has_id = false;
    for (const pjson& c : q["where"]) {
      if (c.is_array() && !c.empty() && c[0] == "id") {
        has_id = true;
        bool same =
            c.size() > 2 && c[1] == "=" &&
            (c[2] == id || (c[2].is_string() && parse_int64(c[2].get<std::string>()) == id));
        if (!same)
          fail("Cannot update the id of an existing " + std::string(kEntities[ent].name) + ".");
      }
    }
    if (!has_id) q["where"].push_back(pjson::array({"id", "=", id}));
  }
  if (q["where"].empty()) {
    fail("Parameter \"where\" is required unless an id is supplied in values.");
  }
  const std::size_t first = rows->size();
  for (std::uint32_t slot : batch_slots(ent, q)) {
    OutRow r;
    r.ent = ent;
    r.slot = slot;
    r.fields = mask_of(ent, vals);
    r.custom = custom_of(ent, vals);
    r.all = flag(p, "reload");
    update(ent, slot, vals, &r.fields);
    rows->push_back(r);
  }
  // The contacts are all written first, then their emails.
  pjson email = primary_email_item(ent, p.at("values"));
  for (std::size_t i = first; i < rows->size(); ++i)
    save_primary_email(email, &(*rows)[i]);
}

void Engine::do_save(Ent ent, const pjson& p, std::vector<OutRow>* rows,
                     std::optional<std::int64_t>* matched) {
  read_method_params(ent, p);
  pjson defaults =
      p.contains("defaults") && p["defaults"].is_object() ? p["defaults"] : pjson::object();
  std::vector<std::string> match;
  if (auto it = p.find("match"); it != p.end() && it->is_array()) {
    for (const pjson& m : *it) {
      if (m.is_string()) match.push_back(m.get<std::string>());
    }
  }
  struct Rec {
    Values vals;
    std::int64_t id = 0;
    pjson email;  // email_primary.* values
  };
  std::vector<Rec> recs;
  std::int64_t n_matched = 0;
  const pjson& records = p.at("records");
  for (const pjson& rec_in : records) {
    pjson rec = rec_in.is_object() ? rec_in : pjson::object();
    for (auto it = defaults.begin(); it != defaults.end(); ++it) {
      if (!rec.contains(it.key())) rec[it.key()] = it.value();
    }
    Rec r;
    r.vals = parse_values(ent, rec, &r.id);
    r.email = primary_email_item(ent, rec);
    // MatchParamTrait::matchExisting.
    if (r.id == 0 && !match.empty()) {
      pjson where = pjson::array();
      for (auto it = rec.begin(); it != rec.end(); ++it) {
        if (std::find(match.begin(), match.end(), it.key()) == match.end()) continue;
        const pjson& v = it.value();
        if (v.is_null() || (v.is_string() && v.get<std::string>().empty())) {
          where.push_back(pjson::array({it.key(), "IS EMPTY"}));
        } else {
          where.push_back(pjson::array({it.key(), "=", v}));
        }
      }
      if (where.size() == match.size()) {
        pjson q = {{"where", where}, {"limit", 2}};
        auto found = batch_slots(ent, q);
        if (found.size() == 1) r.id = site_.id_at(ent, found[0]);
      }
    }
    if (r.id != 0) {
      ++n_matched;
    } else {
      fill_defaults(ent, &r.vals);
    }
    recs.push_back(std::move(r));
  }
  std::vector<Values> creates;
  for (const Rec& r : recs) {
    if (r.id == 0) creates.push_back(r.vals);
  }
  check_required(ent, "save", creates);
  const std::size_t first = rows->size();
  for (const Rec& r : recs) {
    OutRow o;
    o.ent = ent;
    o.fields = mask_of(ent, r.vals);
    o.custom = custom_of(ent, r.vals);
    o.all = flag(p, "reload");
    if (r.id == 0) {
      o.slot = insert(ent, r.vals, &o.fields);
    } else {
      std::uint32_t slot = site_.find(ent, r.id);
      if (slot == kNoSlot) {
        fail(std::string(kEntities[ent].name) + " id " + std::to_string(r.id) + " not found");
      }
      o.slot = slot;
      update(ent, slot, r.vals, &o.fields);
    }
    rows->push_back(o);
  }
  *matched = n_matched;
  // The records are all written first, then their emails.
  for (std::size_t i = 0; i < recs.size(); ++i)
    save_primary_email(recs[i].email, &(*rows)[first + i]);
}

void Engine::do_delete(Ent ent, const pjson& p, std::vector<OutRow>* rows) {
  read_method_params(ent, p);
  bool use_trash = !p.contains("useTrash") || p["useTrash"].is_null() || flag(p, "useTrash");
  for (std::uint32_t slot : batch_slots(ent, p)) {
    OutRow r;
    r.ent = ent;
    r.deleted_id = site_.id_at(ent, slot);
    remove(ent, slot, use_trash);
    rows->push_back(r);
  }
}

std::string Engine::render_out(const OutRow& r) {
  std::string out = "{";
  if (r.deleted_id != 0) {
    out += "\"id\":" + std::to_string(r.deleted_id) + "}";
    return out;
  }
  const EntityDef& fl = kEntities[r.ent];
  std::string scratch;
  bool first = true;
  std::string type;
  if (r.ent == kContact) type = contact_type_name(site_.contacts.rows[r.slot].type);
  for (int f = 0; f < fl.field_count; ++f) {
    if (!r.all && !(r.fields & (std::uint64_t{1} << f))) continue;
    if (r.all && r.ent == kContact && inapplicable(type, f)) continue;
    if (!first) out.push_back(',');
    first = false;
    append_json_string(&out, fl.fields[f].name, JsonEscape::kPhp);
    out.push_back(':');
    append_value(&out, get_field(site_, r.ent, r.slot, f, &scratch));
  }
  for (int f : r.custom) {
    if (!first) out.push_back(',');
    first = false;
    append_json_string(&out, field_def(site_, r.ent, f).name, JsonEscape::kPhp);
    out.push_back(':');
    append_value(&out, get_field(site_, r.ent, r.slot, f, &scratch));
  }
  if (r.email_slot != kNoSlot) {
    for (int f = 0; f < E_COUNT; ++f) {
      if (!(r.email_fields & (std::uint32_t{1} << f))) continue;
      if (!first) out.push_back(',');
      first = false;
      append_json_string(&out, std::string(kEmailPrimaryPrefix) + std::string(kEmailFields[f].name),
                         JsonEscape::kPhp);
      out.push_back(':');
      append_value(&out, get_field(site_, kEmail, r.email_slot, f, &scratch));
    }
  }
  out.push_back('}');
  return out;
}

void Engine::resolve_links(pjson* v, const pjson& row) {
  if (v->is_array() || v->is_object()) {
    for (auto& x : *v)
      resolve_links(&x, row);
    return;
  }
  if (!v->is_string()) return;
  const std::string& s = v->get_ref<const std::string&>();
  if (s.size() < 2 || s[0] != '$') return;
  std::string key = s.substr(1);
  if (row.contains(key) && !row[key].is_null()) {
    *v = row[key];
    return;
  }
  const pjson* cur = &row;
  std::size_t pos = 0;
  while (cur != nullptr) {
    auto dot = key.find('.', pos);
    std::string part = key.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    if (!cur->is_object() || !cur->contains(part)) {
      cur = nullptr;
      break;
    }
    cur = &(*cur)[part];
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  if (cur != nullptr && !cur->is_null()) *v = *cur;
}

void Engine::run_chains(const pjson& chain, CallOutput* out) {
  for (auto& row_text : out->rows) {
    pjson row = pjson::parse(row_text);
    std::string extra;
    for (auto it = chain.begin(); it != chain.end(); ++it) {
      pjson req = it.value();
      if (!req.is_array()) fail("Invalid chain");
      while (req.size() < 4)
        req.push_back(req.size() == 2 ? pjson::object() : pjson());
      resolve_links(&req, row);
      std::string entity = req[0].is_string() ? req[0].get<std::string>() : "";
      std::string action = req[1].is_string() ? req[1].get<std::string>() : "";
      pjson params = req[2].is_null() ? pjson::object() : req[2];
      CallOutput sub = call(entity, action, params, req[3]);
      std::optional<std::string> keyed = std::move(keyed_values);
      keyed_values.reset();
      extra.push_back(',');
      append_json_string(&extra, it.key(), JsonEscape::kPhp);
      extra.push_back(':');
      extra += values_json(sub, req[3], keyed ? &*keyed : nullptr);
    }
    if (row_text == "{}" || row_text.size() < 2) {
      row_text = "{" + extra.substr(1) + "}";
    } else {
      row_text.insert(row_text.size() - 1, extra);
    }
  }
}

void Engine::index_by(const std::string& field, bool remove_field, CallOutput* out) {
  if (out->rows.empty()) return;
  std::string s = "{";
  bool any = false;
  std::vector<std::pair<std::string, std::string>> keyed;
  for (const std::string& row_text : out->rows) {
    pjson row = pjson::parse(row_text);
    if (!row.contains(field) || row[field].is_null()) continue;
    std::string key = row[field].is_string() ? row[field].get<std::string>() : row[field].dump();
    if (remove_field) row.erase(field);
    std::string txt;
    append_php_json(&txt, row);
    if (row.empty()) txt = "[]";
    std::erase_if(keyed, [&](const auto& kv) { return kv.first == key; });
    keyed.emplace_back(key, txt);
    any = true;
  }
  if (!any) fail("Key " + field + " not found in api results");
  for (std::size_t i = 0; i < keyed.size(); ++i) {
    if (i) s.push_back(',');
    append_json_string(&s, keyed[i].first, JsonEscape::kPhp);
    s.push_back(':');
    s += keyed[i].second;
  }
  s.push_back('}');
  keyed_values = s;
}
}  // namespace concord::sandbox

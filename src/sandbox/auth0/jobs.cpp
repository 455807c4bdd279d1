#include "sandbox/auth0/jobs.h"

#include <algorithm>

#include "sandbox/auth0/base64.h"
#include "sandbox/auth0/dates.h"
#include "sandbox/auth0/errors.h"
#include "sandbox/auth0/export_file.h"
#include "sandbox/auth0/ids.h"
#include "sandbox/auth0/user_paths.h"
#include "sandbox/http_helpers.h"

namespace concord::sandbox::auth0 {
namespace {

constexpr std::string_view kKeyPairId = "APKASANDBOXAUTH0EXPORT";
constexpr std::size_t kMaxCsvFields = 30;

constexpr std::string_view kConnectionIdDescription =
    "connection_id of the connection from which users will be exported.";
constexpr std::string_view kFormatDescription = "Format of the file. Must be `json` or `csv`.";
constexpr std::string_view kLimitDescription = "Limit the number of records.";
constexpr std::string_view kFieldsDescription =
    "List of fields to be included in the CSV. Defaults to a predefined set of fields.";

std::string_view json_type(const ojson& v) {
  if (v.is_string()) return "string";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_boolean()) return "boolean";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return "null";
}

bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool connection_id_ok(std::string_view id) {
  return id.size() == 20 && id.substr(0, 4) == "con_" &&
         std::all_of(id.begin() + 4, id.end(), alnum);
}

// The users a job exports: every user with an identity in its connection (all of them without
// one), in creation order, at most `limit`.
std::vector<const ojson*> exported_users(const Tenant& t, const ExportJob& j) {
  std::vector<const ojson*> users;
  for (const ojson& u : t.users) {
    if (j.limit && static_cast<std::int64_t>(users.size()) >= *j.limit) break;
    bool in = j.connection.empty();
    for (const ojson& id : u["identities"]) {
      in = in || id.value("connection", std::string()) == j.connection;
    }
    if (in) users.push_back(&u);
  }
  return users;
}

// Moves the job on by one poll at `now` (see Settings); builds its file when it completes.
void advance(Tenant& t, ExportJob& j, Micros now) {
  ++j.polls;
  if (j.status == "completed" || j.status == "failed") return;
  const Settings& s = t.settings;
  const Micros elapsed = now - j.created_at;
  if (j.polls <= s.export_pending_polls) {
    j.status = "pending";
  } else if (j.polls <= s.export_pending_polls + s.export_processing_polls ||
             elapsed < s.export_processing_seconds * kMicrosPerSecond) {
    j.status = "processing";
  } else if (j.fail) {
    j.status = "failed";
  } else {
    j.status = "completed";
    j.completed_at = now;
    j.url_expires_at = now + s.download_ttl_seconds * kMicrosPerSecond;
    j.signature = base64url(random_bytes(96));
    j.file = gzip(export_text(exported_users(t, j), j.fields, j.format));
  }
}

http::Reply access_denied() {
  return plain_reply(403,
                     "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>"
                     "<Message>Access denied</Message></Error>",
                     "text/xml");
}

std::string file_name(const Tenant& t, const ExportJob& j) {
  return t.tenant_name() + (j.format == "csv" ? ".csv.gz" : ".json.gz");
}

}  // namespace

std::string job_location(const Tenant& t, const ExportJob& j, std::string_view origin) {
  return std::string(origin) + std::string(kExportPathPrefix) + j.id + "/" + file_name(t, j) +
         "?Expires=" + std::to_string(j.url_expires_at / kMicrosPerSecond) +
         "&Key-Pair-Id=" + std::string(kKeyPairId) + "&Signature=" + j.signature;
}

void write_job(JsonOut& o, const ExportJob& j, std::string_view location, const Settings& s,
               Micros now) {
  o.begin_object();
  o.key("type");
  o.str("users_export");
  o.key("status");
  o.str(j.status);
  if (!j.connection_id.empty()) {
    o.key("connection_id");
    o.str(j.connection_id);
  }
  o.key("format");
  o.str(j.format);
  if (j.limit) {
    o.key("limit");
    o.integer(*j.limit);
  }
  o.key("fields");
  o.begin_array();
  for (const ExportField& f : j.fields) {
    o.begin_object();
    o.key("name");
    o.str(f.name);
    if (f.export_as) {
      o.key("export_as");
      o.str(*f.export_as);
    }
    o.end_object();
  }
  o.end_array();
  if (j.status == "completed" && !location.empty()) {
    o.key("location");
    o.str(location);
  }
  if (!j.connection.empty()) {
    o.key("connection");
    o.str(j.connection);
  }
  o.key("created_at");
  o.str(ms_text(j.created_at));
  o.key("id");
  o.str(j.id);
  if (j.status == "processing") {
    const std::int64_t done = j.polls - s.export_pending_polls;
    const std::int64_t steps = s.export_processing_polls + 1;
    o.key("percentage_done");
    o.integer(std::clamp<std::int64_t>(done * 100 / std::max<std::int64_t>(1, steps), 0, 99));
    o.key("time_left_seconds");
    o.integer(std::max<std::int64_t>(
        0, s.export_processing_seconds - (now - j.created_at) / kMicrosPerSecond));
  }
  o.end_object();
}

http::Reply create_export(Tenant& t, const http::Request& req, Micros now, bool fail,
                          bool* changed) {
  ojson body = ojson::parse(req.body, nullptr, false);
  if (body.is_discarded()) {
    return api_error(400, "Invalid request payload JSON format", "invalid_body");
  }
  if (!body.is_object()) {
    return payload_error("Expected type object but found type " + std::string(json_type(body)),
                         "body", "users-exports job");
  }
  for (auto it = body.begin(); it != body.end(); ++it) {
    static constexpr std::string_view kKeys[] = {"connection_id", "format", "limit", "fields"};
    if (std::find(std::begin(kKeys), std::end(kKeys), it.key()) == std::end(kKeys)) {
      return api_error(
          400, "Payload validation error: 'Additional properties not allowed: " + it.key() + "'.",
          "invalid_body");
    }
  }
  ExportJob j;
  if (auto c = body.find("connection_id"); c != body.end()) {
    if (!c->is_string()) {
      return payload_error("Expected type string but found type " + std::string(json_type(*c)),
                           "connection_id", kConnectionIdDescription);
    }
    j.connection_id = c->get<std::string>();
    if (!connection_id_ok(j.connection_id)) {
      return payload_error(
          "String does not match pattern ^con_[A-Za-z0-9]{16}$: " + j.connection_id,
          "connection_id", kConnectionIdDescription);
    }
  }
  j.format = "json";
  if (auto f = body.find("format"); f != body.end()) {
    if (!f->is_string()) {
      return payload_error("Expected type string but found type " + std::string(json_type(*f)),
                           "format", kFormatDescription);
    }
    j.format = f->get<std::string>();
    if (j.format != "json" && j.format != "csv") {
      return payload_error("No enum match for: " + f->dump(), "format", kFormatDescription);
    }
  }
  if (auto l = body.find("limit"); l != body.end()) {
    if (!l->is_number_integer()) {
      return payload_error("Expected type integer but found type " + std::string(json_type(*l)),
                           "limit", kLimitDescription);
    }
    if (l->get<std::int64_t>() < 1) {
      return payload_error("Value " + l->dump() + " is less than minimum 1", "limit",
                           kLimitDescription);
    }
    j.limit = l->get<std::int64_t>();
  }
  if (auto fs = body.find("fields"); fs != body.end()) {
    if (!fs->is_array()) {
      return payload_error("Expected type array but found type " + std::string(json_type(*fs)),
                           "fields", kFieldsDescription);
    }
    for (std::size_t i = 0; i < fs->size(); ++i) {
      const ojson& f = (*fs)[i];
      const std::string prop = "fields[" + std::to_string(i) + "]";
      if (!f.is_object()) {
        return payload_error("Expected type object but found type " + std::string(json_type(f)),
                             prop, kFieldsDescription);
      }
      for (auto it = f.begin(); it != f.end(); ++it) {
        if (it.key() != "name" && it.key() != "export_as") {
          return payload_error("Additional properties not allowed: " + it.key(), prop,
                               kFieldsDescription);
        }
      }
      auto name = f.find("name");
      if (name == f.end()) {
        return payload_error("Missing required property: name", prop, kFieldsDescription);
      }
      if (!name->is_string() || name->get_ref<const std::string&>().empty()) {
        return payload_error("Expected type string but found type " + std::string(json_type(*name)),
                             prop + ".name", kFieldsDescription);
      }
      ExportField field{name->get<std::string>(), std::nullopt};
      if (auto as = f.find("export_as"); as != f.end()) {
        if (!as->is_string()) {
          return payload_error("Expected type string but found type " + std::string(json_type(*as)),
                               prop + ".export_as", kFieldsDescription);
        }
        field.export_as = as->get<std::string>();
      }
      j.fields.push_back(std::move(field));
    }
  }
  if (j.fields.empty()) j.fields = default_export_fields();
  if (j.format == "csv") {
    if (j.fields.size() > kMaxCsvFields) {
      return payload_error("Array is too long (" + std::to_string(j.fields.size()) + "), maximum " +
                               std::to_string(kMaxCsvFields),
                           "fields", kFieldsDescription);
    }
    for (const ExportField& f : j.fields) {
      if (f.name == "user_metadata" || f.name == "app_metadata") {
        return api_error(400,
                         "The whole " + f.name +
                             " cannot be exported in CSV format: list its fields, e.g. " + f.name +
                             ".consent.given",
                         "invalid_body");
      }
    }
  }
  if (!j.connection_id.empty()) {
    const ojson* c = t.connection_by_id(j.connection_id);
    if (!c) return api_error(404, "The connection does not exist", "inexistent_connection");
    j.connection = (*c)["name"].get<std::string>();
  }
  j.id = "job_" + random_alnum(16);
  j.created_at = now;
  j.fail = fail;
  JsonOut o;
  write_job(o, j, "", t.settings, now);
  t.jobs.push_back(std::move(j));
  *changed = true;
  return json_reply(200, std::move(o.buf));
}

http::Reply poll_job(Tenant& t, std::string_view id, std::string_view origin, Micros now,
                     bool* changed) {
  if (id.size() < 5 || id.substr(0, 4) != "job_" || !std::all_of(id.begin() + 4, id.end(), alnum)) {
    return path_error("String does not match pattern ^job_[A-Za-z0-9]+$: " + std::string(id), "id",
                      "The id of the job.");
  }
  ExportJob* j = t.job(id);
  if (!j) return api_error(404, "The job does not exist.", "inexistent_job");
  advance(t, *j, now);
  *changed = true;
  JsonOut o;
  write_job(o, *j, j->status == "completed" ? job_location(t, *j, origin) : "", t.settings, now);
  return json_reply(200, std::move(o.buf));
}

http::Reply download_export(const Tenant& t, std::string_view job_id, std::string_view file,
                            std::string_view query, Micros now) {
  const ExportJob* j = nullptr;
  for (const ExportJob& candidate : t.jobs) {
    if (candidate.id == job_id) j = &candidate;
  }
  if (!j || j->status != "completed" || j->file.empty() || now >= j->url_expires_at ||
      file != file_name(t, *j)) {
    return access_denied();
  }
  const Pairs q = http::parse_query(query);
  // The signature is base64url, so a query parser that reads '+' as a space does not alter it.
  if (pair_value(q, "Signature") != j->signature || pair_value(q, "Key-Pair-Id") != kKeyPairId ||
      pair_value(q, "Expires") != std::to_string(j->url_expires_at / kMicrosPerSecond)) {
    return access_denied();
  }
  http::Reply r = plain_reply(200, j->file, "application/gzip");
  r.response.headers.push_back(
      {"Content-Disposition", "attachment; filename=\"" + file_name(t, *j) + "\""});
  return r;
}

bool prune_jobs(Tenant& t, Micros now) {
  const std::size_t before = t.jobs.size();
  const Micros keep = t.settings.job_retention_seconds * kMicrosPerSecond;
  t.jobs.erase(std::remove_if(t.jobs.begin(), t.jobs.end(),
                              [&](const ExportJob& j) { return now >= j.created_at + keep; }),
               t.jobs.end());
  bool changed = t.jobs.size() != before;
  for (ExportJob& j : t.jobs) {
    if (!j.file.empty() && now >= j.url_expires_at) {
      j.file.clear();
      j.file.shrink_to_fit();
      changed = true;
    }
  }
  return changed;
}

}  // namespace concord::sandbox::auth0

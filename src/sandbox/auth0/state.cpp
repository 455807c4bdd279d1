#include "sandbox/auth0/state.h"

#include "sandbox/auth0/base64.h"
#include "sandbox/auth0/dates.h"

namespace concord::sandbox::auth0 {
namespace {

void write_strings(JsonOut& o, const std::vector<std::string>& v) {
  o.begin_array();
  for (const std::string& s : v)
    o.str(s);
  o.end_array();
}

void write_client(JsonOut& o, const Client& c) {
  o.begin_object();
  o.key("client_id");
  o.str(c.client_id);
  o.key("client_secret");
  o.str(c.client_secret);
  o.key("scopes");
  write_strings(o, c.scopes);
  o.key("client_grant");
  o.boolean(c.client_grant);
  o.key("grant_types");
  write_strings(o, c.grant_types);
  o.end_object();
}

void write_token(JsonOut& o, const Token& t) {
  o.begin_object();
  o.key("access_token");
  o.str(t.access_token);
  o.key("client_id");
  o.str(t.client_id);
  o.key("scope");
  std::string scope;
  for (const std::string& s : t.scopes)
    scope += (scope.empty() ? "" : " ") + s;
  o.str(scope);
  o.key("issued_at");
  o.str(ms_text(t.issued_at));
  o.key("expires_at");
  o.str(ms_text(t.expires_at));
  o.end_object();
}

void write_job(JsonOut& o, const ExportJob& j) {
  o.begin_object();
  o.key("id");
  o.str(j.id);
  o.key("status");
  o.str(j.status);
  if (!j.connection_id.empty()) {
    o.key("connection_id");
    o.str(j.connection_id);
    o.key("connection");
    o.str(j.connection);
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
  o.key("created_at");
  o.str(ms_text(j.created_at));
  o.key("polls");
  o.integer(j.polls);
  o.key("fail");
  o.boolean(j.fail);
  if (j.completed_at != kNoTime) {
    o.key("completed_at");
    o.str(ms_text(j.completed_at));
  }
  if (j.url_expires_at != kNoTime) {
    o.key("url_expires_at");
    o.str(ms_text(j.url_expires_at));
  }
  if (!j.signature.empty()) {
    o.key("signature");
    o.str(j.signature);
  }
  if (!j.file.empty()) {
    o.key("file");
    o.str(base64(j.file));
  }
  o.end_object();
}

}  // namespace

void write_settings(JsonOut& o, const Settings& s) {
  o.begin_object();
  o.key("token_lifetime_seconds");
  o.integer(s.token_lifetime_seconds);
  o.key("search_delay_seconds");
  o.integer(s.search_delay_seconds);
  o.key("export_jobs");
  o.begin_object();
  o.key("pending_polls");
  o.integer(s.export_pending_polls);
  o.key("processing_polls");
  o.integer(s.export_processing_polls);
  o.key("processing_seconds");
  o.integer(s.export_processing_seconds);
  o.key("download_ttl_seconds");
  o.integer(s.download_ttl_seconds);
  o.key("retention_seconds");
  o.integer(s.job_retention_seconds);
  o.end_object();
  o.key("rate_limits");
  o.begin_array();
  for (const RateBucket& b : s.rate_limits) {
    o.begin_object();
    if (!b.method.empty()) {
      o.key("method");
      o.str(b.method);
    }
    if (!b.path.empty()) {
      o.key("path");
      o.str(b.path);
    }
    if (!b.path_prefix.empty()) {
      o.key("path_prefix");
      o.str(b.path_prefix);
    }
    o.key("limit");
    o.integer(b.limit);
    o.key("window_seconds");
    o.integer(b.window_seconds);
    o.end_object();
  }
  o.end_array();
  o.end_object();
}

std::string state_object(const Tenant& t) {
  JsonOut o;
  o.begin_object();
  o.key("domain");
  o.str(t.domain);
  o.key("clients");
  o.begin_array();
  for (const Client& c : t.clients)
    write_client(o, c);
  o.end_array();
  o.key("connections");
  o.begin_array();
  for (const ojson& c : t.connections)
    o.value(c);
  o.end_array();
  o.key("users");
  o.begin_array();
  for (const ojson& u : t.users)
    o.value(u);
  o.end_array();
  o.key("settings");
  write_settings(o, t.settings);
  o.key("tokens");
  o.begin_array();
  for (const Token& tok : t.tokens)
    write_token(o, tok);
  o.end_array();
  o.key("jobs");
  o.begin_array();
  for (const ExportJob& j : t.jobs)
    write_job(o, j);
  o.end_array();
  o.key("search_lag");
  o.begin_array();
  for (const LagEntry& e : t.lag) {
    o.begin_object();
    o.key("user_id");
    o.str(e.user_id);
    o.key("changed_at");
    o.str(ms_text(e.changed_at));
    o.key("previous");
    if (e.previous) {
      o.value(*e.previous);
    } else {
      o.null();
    }
    o.end_object();
  }
  o.end_array();
  o.end_object();
  return std::move(o.buf);
}

}  // namespace concord::sandbox::auth0

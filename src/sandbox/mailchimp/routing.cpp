#include "sandbox/mailchimp/routing.h"

#include <cctype>
#include <string_view>

#include "net/ascii.h"
#include "sandbox/text.h"

namespace concord::sandbox {
namespace {

using http::ascii::iequals;
constexpr auto lower = http::ascii::to_lower;

bool base64_decode(std::string_view in, std::string* out) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  out->clear();
  int buf = 0, bits = 0;
  for (char c : in) {
    if (c == '=' || c == ' ') break;
    int v = val(c);
    if (v < 0) return false;
    buf = (buf << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  return true;
}

// The API key of an Authorization header, as the concurrency limit counts requests: any scheme,
// a Basic credential's password (or the whole credential without a colon).
std::string limit_key(std::string_view auth) {
  auto sp = auth.find(' ');
  if (sp == std::string_view::npos) return "";
  std::string scheme = lower(auth.substr(0, sp));
  std::string cred = trim(auth.substr(sp + 1));
  if (scheme != "basic") return cred;
  std::string decoded;
  if (!base64_decode(cred, &decoded)) return "";
  auto colon = decoded.find(':');
  return colon == std::string::npos ? decoded : decoded.substr(colon + 1);
}

// The API key of an Authorization header, as authentication reads it: Basic (the password),
// Bearer, OAuth or apikey; "" for anything else.
std::string auth_key(std::string_view a) {
  while (!a.empty() && a.front() == ' ')
    a.remove_prefix(1);
  auto sp = a.find(' ');
  std::string scheme = lower(a.substr(0, sp));
  std::string cred = sp == std::string_view::npos ? std::string() : trim(a.substr(sp + 1));
  if (scheme == "basic") {
    std::string decoded;
    if (!base64_decode(cred, &decoded)) return "";
    auto colon = decoded.find(':');
    return colon == std::string::npos ? std::string() : decoded.substr(colon + 1);
  }
  if (scheme == "bearer" || scheme == "oauth" || scheme == "apikey") return cred;
  return "";
}

MailchimpOptions with_transport(MailchimpOptions o) {
  if (!o.transport) o.transport = default_url_transport(o.webhook_ca_file);
  return o;
}

}  // namespace

std::string MailchimpFaults::read(const json& body) {
  std::string err = FaultConfig::read(body);
  if (!err.empty()) return err;
  if (auto it = body.find("max_concurrent"); it != body.end()) {
    if (!it->is_number()) return "max_concurrent: expected a number";
    max_concurrent = it->get<int>();
  }
  if (auto it = body.find("archived_in_listing"); it != body.end() && it->is_boolean()) {
    archived_in_listing = it->get<bool>();
  }
  if (auto it = body.find("segment_non_member_errors"); it != body.end()) {
    if (!it->is_boolean()) return "segment_non_member_errors: expected true or false";
    segment_non_member_errors = it->get<bool>();
  }
  return "";
}

void MailchimpFaults::write(ojson& j) const {
  FaultConfig::write(j);
  j["max_concurrent"] = max_concurrent;
  j["archived_in_listing"] = archived_in_listing;
  j["segment_non_member_errors"] = segment_non_member_errors;
}

MailchimpSandbox::Impl::Impl(std::unique_ptr<Account> a, SandboxClock* c, MailchimpOptions o)
    : account(std::move(a)),
      clock(c),
      options(with_transport(std::move(o))),
      deliveries(options.transport, options.delivery_attempts, options.delivery_retry_delay) {}

http::Reply MailchimpSandbox::Impl::handle(const http::Request& req, const http::Peer& peer,
                                           std::string* fault_out) {
  Ctx c;
  c.req = &req;
  c.request_id = new_request_id();
  c.method = req.method;
  Target target = split_target(req.target);
  c.path = std::string(target.path);
  c.query = http::parse_query(target.query);
  c.segs = path_segments(target.path);
  {
    std::shared_lock<std::shared_mutex> lock(mu);
    c.dc = account->dc();
  }
  if (!c.segs.empty() && c.segs[0] == "_sandbox") return admin(c, peer);

  // The API: the concurrency limit, then faults, then the request itself.
  std::string key = limit_key(req.header("Authorization"));
  InjectedFault fault = faults.pick(c.path);
  int max_concurrent = faults.read([](const MailchimpFaults& f) { return f.max_concurrent; });
  if (fault_out) *fault_out = fault.action;
  struct Slot {
    Impl* self;
    std::string key;
    bool held = false;
    ~Slot() {
      if (!held) return;
      std::lock_guard<std::mutex> lock(self->inflight_mu);
      if (--self->inflight[key] == 0) self->inflight.erase(key);
    }
  } slot{this, key};
  {
    std::lock_guard<std::mutex> lock(inflight_mu);
    int& n = inflight[key];
    if (max_concurrent > 0 && n >= max_concurrent) {
      if (n == 0) inflight.erase(key);
      if (fault_out) fault_out->clear();  // the limit answered, not the fault
      return problem_reply(c, too_many_requests(max_concurrent));
    }
    ++n;
    slot.held = true;
  }
  fault.wait();
  if (fault.reset_before()) return InjectedFault::reset_reply();
  if (int s = fault.status(); s != 0) {
    if (s == 429) {
      return problem_reply(c, too_many_requests(10));
    }
    if (s == 403) return reply(c, 403, "", "text/html");  // a bare 403 from the edge
    if (s == 500) {
      return problem_reply(
          c, Problem{500,
                     "Internal Server Error",
                     "An unexpected internal error has occurred. Please contact Support for more "
                     "information.",
                     true,
                     nullptr,
                     {}});
    }
    if (s == 502 || s == 503 || s == 504) {
      static const std::map<int, std::string> kText = {{502, "502 Bad Gateway"},
                                                       {503, "503 Service Temporarily Unavailable"},
                                                       {504, "504 Gateway Time-out"}};
      return reply(c, s,
                   "<html>\r\n<head><title>" + kText.at(s) +
                       "</title></head>\r\n<body>\r\n<center><h1>" + kText.at(s) +
                       "</h1></center>\r\n</body>\r\n</html>\r\n",
                   "text/html");
    }
    return problem_reply(
        c, Problem{s, "Error", "An error was injected by the sandbox.", true, nullptr, {}});
  }
  http::Reply r = api(c);
  fault.finish(&r);
  return r;
}

http::Reply MailchimpSandbox::Impl::api(Ctx& c) {
  const auto& s = c.segs;
  if (s.empty() || s[0] != "3.0") return problem_reply(c, not_found());
  // Authentication.
  std::string_view auth = c.req->header("Authorization");
  std::string key = auth_key(auth);
  if (auth.empty() || key.empty()) {
    return problem_reply(
        c,
        Problem{
            401, "API Key Missing", "Your request did not include an API key.", true, nullptr, {}});
  }
  {
    std::shared_lock<std::shared_mutex> lock(mu);
    bool ok = key == account->api_key;
    std::string host = lower(c.req->header("Host"));
    if (auto colon = host.rfind(':');
        colon != std::string::npos && host.find(']') == std::string::npos) {
      host.resize(colon);
    }
    constexpr std::string_view kSuffix = ".api.mailchimp.com";
    if (ok && host.size() > kSuffix.size() &&
        host.compare(host.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
      std::string host_dc = host.substr(0, host.size() - kSuffix.size());
      ok = host_dc == lower(account->dc());
    }
    if (!ok) {
      return problem_reply(c, Problem{401,
                                      "API Key Invalid",
                                      "Your API key may be invalid, or you've attempted to access "
                                      "the wrong datacenter.",
                                      true,
                                      nullptr,
                                      {}});
    }
  }
  if (std::string_view ov = c.req->header("X-HTTP-Method-Override"); !ov.empty()) {
    if (c.method != "POST") {
      return problem_reply(c, Problem{422,
                                      "Invalid Method Override",
                                      "You can only use the X-HTTP-Method-Override header with the "
                                      "POST method.",
                                      true,
                                      nullptr,
                                      {}});
    }
    c.method = std::string(ov);
    for (char& ch : c.method)
      ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  const std::string& m = c.method;
  std::size_t n = s.size();
  if (n == 1) {
    if (m != "GET") return problem_reply(c, method_not_allowed("GET"));
    return api_root(c);
  }
  if (s[1] == "ping" && n == 2) {
    if (m != "GET") return problem_reply(c, method_not_allowed("GET"));
    return ok_json(c, R"({"health_status":"Everything's Chimpy!"})");
  }
  if (s[1] != "lists") return problem_reply(c, not_found());
  if (n == 2) {
    if (m != "GET") return problem_reply(c, method_not_allowed("GET"));
    return get_lists(c);
  }
  const std::string& list_id = s[2];
  {
    std::shared_lock<std::shared_mutex> lock(mu);
    if (account->find_list(list_id) == nullptr) return problem_reply(c, not_found());
  }
  if (n == 3) {
    if (m == "GET") {
      std::shared_lock<std::shared_mutex> lock(mu);
      return get_list(c, *account->find_list(list_id));
    }
    if (m == "POST") return batch_subscribe(c, list_id);
    return problem_reply(c, method_not_allowed("GET, POST"));
  }
  const std::string& sub = s[3];
  if (sub == "members") {
    if (n == 4) {
      if (m == "GET") {
        std::shared_lock<std::shared_mutex> lock(mu);
        return get_members(c, *account->find_list(list_id));
      }
      if (m == "POST") return post_member(c, list_id);
      return problem_reply(c, method_not_allowed("GET, POST"));
    }
    const std::string& seg = s[4];
    if (n == 5) {
      if (m == "GET") return get_member(c, list_id, seg);
      if (m == "PUT") return put_or_patch_member(c, list_id, seg, true);
      if (m == "PATCH") return put_or_patch_member(c, list_id, seg, false);
      if (m == "DELETE") return delete_member(c, list_id, seg);
      return problem_reply(c, method_not_allowed("GET, PUT, PATCH, DELETE"));
    }
    if (n == 6 && s[5] == "tags") return member_tags(c, list_id, seg);
    if (n == 6 && s[5] == "events") return member_events(c, list_id, seg);
    if (n == 7 && s[5] == "actions" && s[6] == "delete-permanent") {
      if (m != "POST") return problem_reply(c, method_not_allowed("POST"));
      return delete_permanent(c, list_id, seg);
    }
    return problem_reply(c, not_found());
  }
  if (sub == "merge-fields" && n <= 5) {
    return merge_fields(c, list_id, n == 5 ? &s[4] : nullptr);
  }
  if (sub == "webhooks" && n <= 5) return webhooks(c, list_id, n == 5 ? &s[4] : nullptr);
  if (sub == "interest-categories") {
    if (n <= 5) return interest_categories(c, list_id, n == 5 ? &s[4] : nullptr);
    if (s[5] == "interests" && n <= 7) {
      return interests(c, list_id, s[4], n == 7 ? &s[6] : nullptr);
    }
    return problem_reply(c, not_found());
  }
  if (sub == "segments") {
    if (n <= 5) return segments(c, list_id, n == 5 ? &s[4] : nullptr);
    if (s[5] == "members" && n <= 7) {
      return segment_members(c, list_id, s[4], n == 7 ? &s[6] : nullptr);
    }
    return problem_reply(c, not_found());
  }
  if (sub == "tag-search" && n == 4) {
    if (m != "GET") return problem_reply(c, method_not_allowed("GET"));
    std::shared_lock<std::shared_mutex> lock(mu);
    return tag_search(c, *account->find_list(list_id));
  }
  return problem_reply(c, not_found());
}

http::Reply MailchimpSandbox::Impl::api_root(Ctx& c) {
  std::shared_lock<std::shared_mutex> lock(mu);
  std::int64_t total = 0;
  for (const auto& l : account->lists)
    total += l->counts[0];
  std::string acct = hash_hex(member_key(account->api_key)).substr(0, 25);
  ojson j = ojson::object();
  j["account_id"] = acct;
  j["login_id"] = acct.substr(0, 9);
  j["account_name"] = "concord sandbox";
  j["email"] = "owner@sandbox.invalid";
  j["first_name"] = "Sandbox";
  j["last_name"] = "Owner";
  j["username"] = "sandbox";
  j["avatar_url"] = "";
  j["role"] = "owner";
  j["member_since"] = "2020-01-01T00:00:00+00:00";
  j["pricing_plan_type"] = "monthly";
  j["account_timezone"] = "UTC";
  j["account_industry"] = "Nonprofit";
  j["contact"] = {{"company", "concord sandbox"},
                  {"addr1", ""},
                  {"addr2", ""},
                  {"city", ""},
                  {"state", ""},
                  {"zip", ""},
                  {"country", "US"}};
  j["pro_enabled"] = false;
  j["last_login"] = time_text(now());
  j["total_subscribers"] = total;
  j["industry_stats"] = {{"open_rate", 0}, {"bounce_rate", 0}, {"click_rate", 0}};
  j["_links"] = ojson::array(
      {link("self", c.base() + "/", "GET", c.schema() + "/Definitions/Root/Response.json")});
  return ojson_reply(c, std::move(j), "Root/Response.json");
}

}  // namespace concord::sandbox

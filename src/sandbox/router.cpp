#include "sandbox/router.h"

#include <chrono>

#include "sandbox/http_helpers.h"
#include "sandbox/times.h"

namespace concord::sandbox {

http::Reply SandboxRouter::mailchimp_port(const http::Request& request, const http::Peer& peer) {
  return route(kMailchimp, request, peer);
}

http::Reply SandboxRouter::civicrm_port(const http::Request& request, const http::Peer& peer) {
  return route(kCivicrm, request, peer);
}

http::Reply SandboxRouter::part_port(std::size_t i, const http::Request& request,
                                     const http::Peer& peer) {
  return route(kOther + i, request, peer);
}

std::uint64_t SandboxRouter::generation() const {
  std::uint64_t g = mailchimp_->generation() + civicrm_->generation();
  for (const Part* part : parts_)
    g += part->generation();
  return g;
}

Part* SandboxRouter::part_named(std::string_view name) const {
  for (Part* part : parts_) {
    if (part->name() == name) return part;
  }
  return nullptr;
}

std::string SandboxRouter::state_document() const {
  std::string doc = mailchimp_->state_document();
  auto end = doc.rfind('}');
  if (end == std::string::npos) return doc;
  bool empty = doc.find_first_not_of(" \n\r\t{", 0) == end;
  // The CiviCRM part is written straight after the Mailchimp part: a million-row state is
  // hundreds of MB, and is not copied again.
  std::string out = doc.substr(0, end);
  out += empty ? "\"civicrm\":" : ",\"civicrm\":";
  civicrm_->append_state_part(&out);
  for (const Part* part : parts_) {
    out += ",\"";
    out += part->name();
    out += "\":";
    out += part->state_part();
  }
  out.append(doc, end, std::string::npos);
  return out;
}

http::Reply SandboxRouter::route(Port port, const http::Request& request, const http::Peer& peer) {
  auto [target, qs] = split_target(request.target);
  if (!is_admin_path(target)) return api(port, request, peer);
  if (!peer.loopback) return admin_forbidden();
  if (target == "/_sandbox/state") {
    if (request.method != "GET") return admin_problem(405, "Method Not Allowed", "Use GET.");
    return plain_reply(200, state_document(), "application/json; charset=utf-8");
  }
  if (target == "/_sandbox/reset") {
    if (request.method != "POST") return admin_problem(405, "Method Not Allowed", "Use POST.");
    return reset(request, peer);
  }
  if (target == "/_sandbox/requests") return requests(request, qs);
  if (target == "/_sandbox/faults") {
    std::string part = std::string(pair_value(http::parse_query(qs), "part"));
    if (part.empty() && request.method == "POST") {
      ojson body = ojson::parse(request.body, nullptr, false);
      if (body.is_object() && body.contains("part") && body["part"].is_string()) {
        part = body["part"].get<std::string>();
      }
    }
    if (part.empty()) {
      part = port == kMailchimp ? "mailchimp"
             : port == kCivicrm ? "civicrm"
                                : std::string(parts_[port - kOther]->name());
    }
    if (part == "mailchimp") return mailchimp_->handle(request, peer);
    if (part == "civicrm") return civicrm_->handle(request, peer);
    if (Part* p = part_named(part)) return p->handle(request, peer, nullptr);
    std::string names = "\"mailchimp\", \"civicrm\"";
    for (const Part* p : parts_)
      names += ", \"" + std::string(p->name()) + "\"";
    return admin_problem(400, "Invalid Resource", "part: expected one of " + names);
  }
  if (target == "/_sandbox/clock" || target.rfind("/_sandbox/mailchimp/", 0) == 0) {
    return mailchimp_->handle(request, peer);
  }
  if (target.rfind("/_sandbox/civicrm/", 0) == 0) return civicrm_->handle(request, peer);
  for (Part* p : parts_) {
    const std::string prefix = "/_sandbox/" + std::string(p->name()) + "/";
    if (target.rfind(prefix, 0) == 0) return p->handle(request, peer, nullptr);
  }
  if (port == kMailchimp) return mailchimp_->handle(request, peer);
  if (port == kCivicrm) return civicrm_->handle(request, peer);
  return parts_[port - kOther]->handle(request, peer, nullptr);
}

http::Reply SandboxRouter::api(Port port, const http::Request& request, const http::Peer& peer) {
  Micros at = clock_->now();
  auto start = std::chrono::steady_clock::now();
  const std::size_t slot = std::min(port, in_flight_.size() - 1);
  const int in_flight = ++in_flight_[slot];
  std::string fault;
  http::Reply r = port == kMailchimp ? mailchimp_->handle(request, peer, &fault)
                  : port == kCivicrm ? civicrm_->handle(request, peer, &fault)
                                     : parts_[port - kOther]->handle(request, peer, &fault);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  // Like any HTTP server, both APIs say what time it is (by the sandbox clock); clients may use it
  // as the server's "now".
  if (r.response.header("Date").empty()) r.response.headers.push_back({"Date", http_date_text(at)});
  const ApiPart part = port == kMailchimp ? ApiPart::kMailchimp
                       : port == kCivicrm ? ApiPart::kCivicrm
                                          : api_part(parts_[port - kOther]->name()).value();
  --in_flight_[slot];
  log_.record(part, request, r, std::move(fault), at, took.count(), in_flight);
  return r;
}

http::Reply SandboxRouter::requests(const http::Request& request, std::string_view query) {
  if (request.method == "DELETE") {
    log_.clear();
    http::Reply r;
    r.response.status = 204;
    r.response.headers.push_back({"Content-Type", "application/json; charset=utf-8"});
    return r;
  }
  if (request.method != "GET")
    return admin_problem(405, "Method Not Allowed", "Use GET or DELETE.");
  auto answer = log_.answer(query);
  if (!answer.is_ok()) return admin_problem(400, "Invalid Resource", answer.status().message());
  return plain_reply(200, std::move(answer).value(), "application/json; charset=utf-8");
}

http::Reply SandboxRouter::reset(const http::Request& request, const http::Peer& peer) {
  std::string_view body = request.body;
  auto parsed =
      parse_civicrm_seed(is_blank(body) ? std::string_view("{}") : body, system_clock().now());
  if (!parsed.is_ok()) return admin_problem(400, "Invalid Seed", parsed.status().message());
  // Every other part's object is checked before anything is installed.
  std::vector<std::optional<std::string>> objects;
  for (const Part* part : parts_) {
    auto object = seed_object(is_blank(body) ? std::string_view("{}") : body, part->name());
    if (!object.is_ok()) return admin_problem(400, "Invalid Seed", object.status().message());
    std::optional<std::string_view> view;
    if (*object) view = **object;
    if (Status s = part->check(view); !s) {
      // Messages name the field inside the part's object, with or without the part's name.
      const std::string name(part->name());
      const bool named = s.message().rfind(name + ".", 0) == 0;
      return admin_problem(400, "Invalid Seed", (named ? "" : name + ".") + s.message());
    }
    objects.push_back(std::move(object).value());
  }
  // The Mailchimp part validates and installs its own part; a bad one changes nothing.
  http::Reply mc = mailchimp_->handle(request, peer);
  if (mc.response.status != 200) return mc;
  CiviCounts c = civicrm_->install(std::move(parsed).value());
  ojson answer = ojson::parse(mc.response.body, nullptr, false);
  if (!answer.is_object()) answer = ojson::object();
  for (std::size_t i = 0; i < parts_.size(); ++i) {
    std::optional<std::string_view> view;
    if (objects[i]) view = *objects[i];
    // Checked above, so this succeeds.
    Result<std::string> counts = parts_[i]->install(view);
    ojson counted = counts.is_ok() ? ojson::parse(*counts, nullptr, false) : ojson();
    answer[std::string(parts_[i]->name())] = counted.is_object() ? counted : ojson::object();
  }
  log_.clear();
  answer["civicrm"] = {{"contacts", c.contacts},
                       {"emails", c.emails},
                       {"groups", c.groups},
                       {"group_contacts", c.group_contacts},
                       {"subscription_history", c.subscription_history}};
  mc.response.body = answer.dump();
  if (on_reset_) on_reset_();
  return mc;
}

}  // namespace concord::sandbox

#include "sandbox/request_log.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

#include "sandbox/json_writer.h"
#include "sandbox/text.h"
#include "sandbox/times.h"

namespace concord::sandbox {

namespace {

// The length of the valid UTF-8 sequence at s[i], or 0 when the byte there starts none.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
  if (n == 0 || c > 0xf4 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
  }
  // Overlong forms, surrogates and code points past U+10FFFF.
  if (c == 0xe0 && b(i + 1) < 0xa0) return 0;
  if (c == 0xed && b(i + 1) >= 0xa0) return 0;
  if (c == 0xf0 && b(i + 1) < 0x90) return 0;
  if (c == 0xf4 && b(i + 1) >= 0x90) return 0;
  return n;
}

// A body as a JSON string: bytes that are not UTF-8 become U+FFFD, so that the answer stays JSON.
void append_body(std::string* out, std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && utf8_sequence(s, i) != 0)
    i += utf8_sequence(s, i);
  if (i == s.size()) return append_json_string(out, s);  // the usual case
  std::string clean(s.substr(0, i));
  while (i < s.size()) {
    std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      clean += "\xef\xbf\xbd";
      ++i;
    } else {
      clean.append(s, i, n);
      i += n;
    }
  }
  append_json_string(out, clean);
}

// "2026-03-01T00:00:00.123+00:00".
void append_time_ms(std::string* out, Micros t) {
  std::string whole = time_text(to_seconds(t));
  auto ms = static_cast<int>((t - to_seconds(t)) / 1000);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03d", ms);
  whole.insert(19, frac);
  out->append(whole);
}

struct Query {
  std::uint64_t since = 0;
  std::optional<ApiPart> part;
  std::string method;
  std::string path_prefix;
  std::size_t limit = RequestLog::kDefaultLimit;
  bool count_only = false;
};

Result<Query> parse(std::string_view query_string) {
  Query q;
  for (const auto& [k, v] : http::parse_query(query_string)) {
    if (k == "since") {
      auto n = parse_int64(v);
      if (!n || *n < 0)
        return Status::invalid("since: expected a sequence number, not \"" + v + "\"");
      q.since = static_cast<std::uint64_t>(*n);
    } else if (k == "part") {
      q.part = api_part(v);
      if (!q.part) {
        return Status::invalid(
            "part: expected \"mailchimp\", \"civicrm\", \"auth0\", \"mixpanel\", "
            "\"amplitude\" or \"mautic\", not \"" +
            v + "\"");
      }
    } else if (k == "method") {
      q.method = v;
      for (char& c : q.method)
        c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    } else if (k == "path_prefix") {
      q.path_prefix = v;
    } else if (k == "limit") {
      auto n = parse_int64(v);
      if (!n || *n < 0) return Status::invalid("limit: expected a count, not \"" + v + "\"");
      q.limit = std::min(static_cast<std::size_t>(*n), RequestLog::kMaxLimit);
    } else if (k == "count_only") {
      if (v != "true" && v != "false" && v != "1" && v != "0") {
        return Status::invalid("count_only: expected true or false, not \"" + v + "\"");
      }
      q.count_only = v == "true" || v == "1";
    }
  }
  return q;
}

}  // namespace

constexpr std::string_view kPartNames[] = {"mailchimp", "civicrm",   "auth0",
                                           "mixpanel",  "amplitude", "mautic"};

std::string_view part_name(ApiPart part) {
  return kPartNames[static_cast<int>(part)];
}

std::optional<ApiPart> api_part(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kPartNames); ++i) {
    if (kPartNames[i] == name) return static_cast<ApiPart>(i);
  }
  return std::nullopt;
}

void RequestLog::record(ApiPart part, const http::Request& request, const http::Reply& reply,
                        std::string fault, Micros at, double seconds, int in_flight) {
  Entry e;
  e.part = part;
  e.method = request.method;
  e.path = request.target;
  if (!request.body.empty()) {
    std::size_t keep = request.body.size();
    if (keep > kMaxBodyBytes) {
      keep = kMaxBodyBytes;
      // Not inside a UTF-8 sequence.
      while (keep > 0 && (static_cast<unsigned char>(request.body[keep]) & 0xc0) == 0x80)
        --keep;
      e.body_truncated = true;
    }
    e.body = std::make_shared<const std::string>(request.body, 0, keep);
  }
  e.status = reply.reset_without_response ? 0 : reply.response.status;
  if (reply.reset_without_response && fault == "reset_after")
    e.unsent_status = reply.response.status;
  e.fault = std::move(fault);
  e.at = at;
  e.ms = seconds * 1000;
  e.in_flight = in_flight;
  std::size_t bytes = e.body ? e.body->size() : 0;

  std::lock_guard<std::mutex> lock(mu_);
  e.seq = ++last_seq_;
  body_bytes_ += bytes;
  entries_.push_back(std::move(e));
  while (entries_.size() > kMaxEntries ||
         (body_bytes_ > kMaxTotalBodyBytes && entries_.size() > 1)) {
    if (entries_.front().body) body_bytes_ -= entries_.front().body->size();
    entries_.pop_front();
  }
}

Result<std::string> RequestLog::answer(std::string_view query_string) const {
  auto q = parse(query_string);
  if (!q.is_ok()) return q.status();
  auto matches = [&](const Entry& e) {
    if (q->part && e.part != *q->part) return false;
    if (!q->method.empty() && e.method != q->method) return false;
    if (!q->path_prefix.empty()) {
      std::string_view path = e.path;
      path = path.substr(0, path.find('?'));
      if (path.rfind(q->path_prefix, 0) != 0) return false;
    }
    return true;
  };

  std::vector<Entry> picked;
  std::size_t count = 0;
  bool more = false;
  std::uint64_t next_seq = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    next_seq = std::max(last_seq_, q->since);
    auto it = std::upper_bound(entries_.begin(), entries_.end(), q->since,
                               [](std::uint64_t s, const Entry& e) { return s < e.seq; });
    // limit=0 asks only for the position (next_seq), e.g. before a run whose calls are counted.
    if (q->limit == 0 && !q->count_only) it = entries_.end();
    for (; it != entries_.end(); ++it) {
      if (!matches(*it)) continue;
      if (q->count_only) {
        ++count;
      } else if (picked.size() < q->limit) {
        picked.push_back(*it);
      } else {
        more = true;
        next_seq = picked.empty() ? q->since : picked.back().seq;
        break;
      }
    }
  }
  if (q->count_only) return "{\"count\":" + std::to_string(count) + "}";

  std::string out = "{\"requests\":[";
  std::size_t reserve = 0;
  for (const Entry& e : picked)
    reserve += 200 + e.path.size() + (e.body ? e.body->size() : 0);
  out.reserve(reserve + 64);
  for (std::size_t i = 0; i < picked.size(); ++i) {
    if (i > 0) out += ",\n";
    write_entry(&out, picked[i]);
  }
  out += "],\"next_seq\":" + std::to_string(next_seq);
  if (more) out += ",\"more\":true";
  out += "}";
  return out;
}

void RequestLog::write_entry(std::string* out, const Entry& e) {
  *out += "{\"seq\":" + std::to_string(e.seq) + ",\"part\":\"";
  *out += part_name(e.part);
  *out += "\",\"method\":";
  append_json_string(out, e.method);
  *out += ",\"path\":";
  append_json_string(out, e.path);
  *out += ",\"body\":";
  append_body(out, e.body ? std::string_view(*e.body) : std::string_view());
  if (e.body_truncated) *out += ",\"body_truncated\":true";
  *out += ",\"status\":" + std::to_string(e.status);
  if (!e.fault.empty()) {
    *out += ",\"fault\":";
    append_json_string(out, e.fault);
  }
  if (e.unsent_status != 0) *out += ",\"unsent_status\":" + std::to_string(e.unsent_status);
  *out += ",\"at\":\"";
  append_time_ms(out, e.at);
  char ms[32];
  std::snprintf(ms, sizeof ms, "\",\"ms\":%.3f,\"in_flight\":%d}", e.ms, e.in_flight);
  *out += ms;
}

void RequestLog::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
  body_bytes_ = 0;
}

std::size_t RequestLog::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace concord::sandbox

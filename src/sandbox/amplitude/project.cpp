#include "sandbox/amplitude/project.h"

#include <algorithm>

#include "sandbox/amplitude/csv.h"
#include "sandbox/text.h"
#include "sandbox/times.h"

namespace concord::sandbox::amplitude {
namespace {

constexpr std::int64_t kDay = 86400;
// "4 parallel requests per minute": an export counts as parallel for a minute after its request,
// unless it completed before.
constexpr std::int64_t kParallelSeconds = 60;

}  // namespace

std::string random_id(std::mt19937_64& rng, std::size_t n, std::string_view alphabet) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i)
    s.push_back(alphabet[rng() % alphabet.size()]);
  return s;
}

std::string month_of(std::int64_t seconds) {
  return civil_text(seconds * kMicrosPerSecond).substr(0, 7);
}

Cohort* Project::cohort(std::string_view id) {
  for (Cohort& c : cohorts) {
    if (c.id() == id) return &c;
  }
  return nullptr;
}

const Cohort* Project::cohort(std::string_view id) const {
  return const_cast<Project*>(this)->cohort(id);
}

Export* Project::find_export(std::string_view request_id) {
  for (Export& e : exports) {
    if (e.request_id == request_id) return &e;
  }
  return nullptr;
}

const Export* Project::find_export(std::string_view request_id) const {
  return const_cast<Project*>(this)->find_export(request_id);
}

const User* Project::user_named(std::string_view user_id) const {
  for (const auto& [id, u] : users) {
    if (u.user_id && *u.user_id == user_id) return &u;
  }
  return nullptr;
}

std::variant<Export*, ApiError> Project::request_export(std::string_view cohort_id,
                                                        const Columns& columns, std::int64_t now,
                                                        std::mt19937_64& rng) {
  prune(now);
  const Cohort* c = cohort(cohort_id);
  if (c == nullptr) return ApiError{404, "Cohort " + std::string(cohort_id) + " not found"};
  if (static_cast<std::int64_t>(c->members.size()) > settings.max_cohort_size) {
    return ApiError{400, "Cohort size " + std::to_string(c->members.size()) +
                             " exceeds the maximum of " + std::to_string(settings.max_cohort_size) +
                             " users"};
  }
  // The limits: per month, per window, in parallel (docs/sandbox.md "Limits").
  const std::string month = month_of(now);
  const std::int64_t this_month = usage.month == month ? usage.month_count : 0;
  if (settings.monthly_exports > 0 && this_month >= settings.monthly_exports) {
    return ApiError{429, "Monthly cohort download limit exceeded: " +
                             std::to_string(settings.monthly_exports) + " requests per month"};
  }
  while (!usage.recent.empty() && usage.recent.front() <= now - settings.window_seconds) {
    usage.recent.pop_front();
  }
  if (settings.exports_per_window > 0 &&
      static_cast<std::int64_t>(usage.recent.size()) >= settings.exports_per_window) {
    return ApiError{
        429, "Cohort download rate limit exceeded: " + std::to_string(settings.exports_per_window) +
                 " requests per " + std::to_string(settings.window_seconds) + " seconds"};
  }
  if (settings.max_parallel_exports > 0) {
    std::int64_t parallel = std::count_if(exports.begin(), exports.end(), [&](const Export& e) {
      return e.requested_at > now - kParallelSeconds && e.state == ExportState::kInProgress &&
             !ready(e, now);
    });
    if (parallel >= settings.max_parallel_exports) {
      return ApiError{429, "Cohort download concurrency limit exceeded: " +
                               std::to_string(settings.max_parallel_exports) +
                               " parallel requests per minute"};
    }
  }
  Export e;
  do {
    e.request_id = random_id(rng, 6, kRequestIdChars);
  } while (find_export(e.request_id) != nullptr);
  e.cohort_id = std::string(cohort_id);
  e.requested_at = now;
  e.csv = cohort_csv(*this, *c, columns, settings.csv_crlf, &e.rows);
  exports.push_back(std::move(e));
  usage.month = month;
  usage.month_count = this_month + 1;
  usage.recent.push_back(now);
  return &exports.back();
}

bool Project::ready(const Export& e, std::int64_t now) const {
  if (e.state != ExportState::kInProgress) return e.state == ExportState::kCompleted;
  return e.in_progress_answers >= settings.in_progress_polls &&
         now >= e.requested_at + settings.export_seconds;
}

Export* Project::poll(std::string_view request_id, std::int64_t now) {
  Export* e = find_export(request_id);
  if (e == nullptr || !file_valid(*e, now)) return nullptr;
  if (e->state != ExportState::kInProgress) return e;
  if (ready(*e, now)) {
    e->state = ExportState::kCompleted;
  } else {
    ++e->in_progress_answers;
  }
  return e;
}

bool Project::file_valid(const Export& e, std::int64_t now) const {
  return now < e.requested_at + settings.file_days * kDay;
}

const Link& Project::issue_link(const Export& e, std::int64_t now, std::mt19937_64& rng) {
  Link l;
  l.request_id = e.request_id;  // before prune(), which may move `e`
  prune(now);
  // 32 random bytes in hex, like SigV4's signature; unique among the links.
  do {
    std::uint8_t bytes[32];
    for (auto& b : bytes)
      b = static_cast<std::uint8_t>(rng());
    l.signature.clear();
    append_hex(&l.signature, bytes, sizeof bytes);
  } while (std::any_of(links.begin(), links.end(),
                       [&](const Link& o) { return o.signature == l.signature; }));
  l.issued_at = now;
  l.expires_at = now + settings.link_seconds;
  links.push_back(std::move(l));
  return links.back();
}

std::int64_t Project::expire_links(std::int64_t now) {
  std::int64_t n = 0;
  for (Link& l : links) {
    if (now < l.expires_at) {
      l.expires_at = now;
      ++n;
    }
  }
  return n;
}

void Project::prune(std::int64_t now) {
  std::erase_if(exports, [&](const Export& e) { return !file_valid(e, now); });
  std::erase_if(links, [&](const Link& l) {
    return l.expires_at <= now - kDay || find_export(l.request_id) == nullptr;
  });
}

void Project::set_members(Cohort* cohort, std::vector<std::int64_t> members, std::int64_t now) {
  cohort->members = std::move(members);
  cohort->api["lastComputed"] = now;
  cohort->api["lastMod"] = now;
}

}  // namespace concord::sandbox::amplitude

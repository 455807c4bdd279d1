#include "sandbox/mixpanel/auth.h"

#include <cctype>
#include <optional>

#include "sandbox/text.h"

namespace concord::sandbox::mixpanel {
namespace {

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// The credentials of a Basic header, decoded ("user:secret" or a bare secret); nullopt when the
// header is not Basic.
std::optional<std::string> basic_credentials(std::string_view header) {
  header = trim_view(header);
  const std::size_t sp = header.find(' ');
  if (sp == std::string_view::npos || !iequals(header.substr(0, sp), "Basic")) return std::nullopt;
  std::string_view token = trim_view(header.substr(sp + 1));
  std::string decoded;
  // Mixpanel also takes "user:secret" as is; ':' is not base64, so the two cannot be confused.
  if (token.find(':') != std::string_view::npos || !base64_decode(token, &decoded)) {
    return std::string(token);
  }
  return decoded;
}

}  // namespace

bool base64_decode(std::string_view in, std::string* out) {
  out->clear();
  while (!in.empty() && in.back() == '=')
    in.remove_suffix(1);
  if (in.size() % 4 == 1) return false;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = base64_value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

Auth authenticate(const Project& project, std::string_view authorization, const Pairs& query,
                  Micros now) {
  Auth a;
  std::optional<std::string> cred = basic_credentials(authorization);
  if (!cred || cred->empty()) return a;
  const std::size_t colon = cred->find(':');
  const std::string user = cred->substr(0, colon);
  const std::string secret = colon == std::string::npos ? "" : cred->substr(colon + 1);

  bool found_project = false;
  const std::string_view project_text = pair_value(query, "project_id", &found_project);
  std::optional<std::int64_t> project_id;
  if (found_project) project_id = parse_int64(project_text);

  for (const ServiceAccount& sa : project.service_accounts) {
    if (colon == std::string::npos || sa.username != user || sa.secret != secret) continue;
    a.who = sa.username;
    if (!found_project) {
      a.outcome = AuthOutcome::kMissingProject;
    } else if (!project_id) {
      a.outcome = AuthOutcome::kBadProject;
    } else {
      a.outcome = *project_id == project.project_id ? AuthOutcome::kOk : AuthOutcome::kWrongProject;
    }
    return a;
  }
  // The project secret: "secret:" or "secret", until the secret is retired.
  if (!project.api_secret.empty() && user == project.api_secret && secret.empty() &&
      now < kProjectSecretRetired) {
    a.who = "project secret";
    if (found_project && !project_id) {
      a.outcome = AuthOutcome::kBadProject;
    } else if (project_id && *project_id != project.project_id) {
      a.outcome = AuthOutcome::kWrongProject;
    } else {
      a.outcome = AuthOutcome::kOk;
    }
  }
  return a;
}

}  // namespace concord::sandbox::mixpanel

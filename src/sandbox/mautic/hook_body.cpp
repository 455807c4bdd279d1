#include "sandbox/mautic/hook_body.h"

#include <algorithm>

#include "concord/http.h"
#include "sandbox/mautic/columns.h"
#include "sandbox/mautic/events.h"
#include "sandbox/mautic/params.h"

namespace concord::sandbox::mautic {
namespace {

constexpr std::string_view kRequired = "A value is required.";

bool given(const ojson& body, const char* key) {
  return body.contains(key);
}

}  // namespace

std::optional<FieldError> read_hook_body(const ojson& body, bool full, Hook* out) {
  Hook h = *out;
  if (full) {
    h.description = nullptr;
    h.secret.clear();
    h.events_orderby_dir.clear();
    h.triggers.clear();
    h.is_published = true;
  }
  if (full || given(body, "name")) {
    h.name = member_text(body, "name");
    if (h.name.empty()) return FieldError{"name", "A name is required."};
  }
  if (given(body, "description")) {
    const ojson& d = body["description"];
    h.description = d.is_null() ? ojson() : ojson(scalar_text(d));
  }
  if (full || given(body, "webhookUrl")) {
    h.webhook_url = member_text(body, "webhookUrl");
    if (h.webhook_url.empty()) return FieldError{"webhookUrl", std::string(kRequired)};
    const std::string origin_and_path = h.webhook_url.substr(0, h.webhook_url.find_first_of("?#"));
    if (!http::Url::parse(origin_and_path).is_ok()) {
      return FieldError{"webhookUrl", "This value is not a valid URL."};
    }
  }
  if (given(body, "secret")) h.secret = member_text(body, "secret");
  if (given(body, "eventsOrderbyDir")) {
    const std::string dir = ascii_lower(member_text(body, "eventsOrderbyDir"));
    if (!dir.empty() && dir != "asc" && dir != "desc") {
      return FieldError{"eventsOrderbyDir", "The value you selected is not a valid choice."};
    }
    h.events_orderby_dir = dir.empty() ? "" : dir == "asc" ? "ASC" : "DESC";
  }
  if (given(body, "triggers")) {
    for (const ojson& t : php_elements(body["triggers"])) {
      const std::string name = scalar_text(t);
      if (!event_named(name)) {
        return FieldError{"triggers", "\"" + name + "\" is not a webhook event."};
      }
      if (std::find(h.triggers.begin(), h.triggers.end(), name) == h.triggers.end()) {
        h.triggers.push_back(name);
      }
    }
  }
  if (given(body, "isPublished")) h.is_published = php_truthy(body["isPublished"]);
  *out = std::move(h);
  return std::nullopt;
}

}  // namespace concord::sandbox::mautic

#include "sandbox/amplitude/replies.h"

#include <cctype>
#include <random>

#include "sandbox/http_helpers.h"
#include "sandbox/text.h"
#include "sandbox/times.h"

namespace concord::sandbox::amplitude {
namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kXml = "application/xml";

// The reason phrase of the edge's HTML pages.
std::string_view edge_text(int status) {
  switch (status) {
    case 502:
      return "502 Bad Gateway";
    case 503:
      return "503 Service Temporarily Unavailable";
    default:
      return "504 Gateway Time-out";
  }
}

// S3's request ids: 16 upper-case hex characters.
std::string request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t v = rng();
  std::string s;
  append_hex(&s, reinterpret_cast<const std::uint8_t*>(&v), sizeof v);
  for (char& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

void append_xml_text(std::string* out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '<':
        *out += "&lt;";
        break;
      case '>':
        *out += "&gt;";
        break;
      case '&':
        *out += "&amp;";
        break;
      default:
        out->push_back(c);
    }
  }
}

}  // namespace

http::Reply api_json(int status, std::string body) {
  return plain_reply(status, std::move(body), kJson);
}

http::Reply api_error(const ApiError& e) {
  JsonOut o;
  o.begin_object();
  o.key("error");
  o.begin_object();
  o.key("http_code");
  o.integer(e.status);
  o.key("type");
  o.str("unspecified");
  o.key("metadata");
  o.begin_object();
  o.key("details");
  o.str(e.details);
  o.end_object();
  o.end_object();
  o.end_object();
  return api_json(e.status, std::move(o.buf));
}

http::Reply storage_error(int status, std::string_view code, std::string_view message,
                          std::initializer_list<std::pair<std::string_view, std::string>> extra) {
  std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>";
  append_xml_text(&s, code);
  s += "</Code><Message>";
  append_xml_text(&s, message);
  s += "</Message>";
  for (const auto& [name, value] : extra) {
    s += "<" + std::string(name) + ">";
    append_xml_text(&s, value);
    s += "</" + std::string(name) + ">";
  }
  s += "<RequestId>" + request_id() + "</RequestId><HostId>sandbox</HostId></Error>";
  return plain_reply(status, std::move(s), kXml);
}

http::Reply injected_reply(int status, bool storage) {
  if (status == 502 || status == 503 || status == 504) {
    if (storage && status == 503) {
      return storage_error(503, "SlowDown", "Please reduce your request rate.");
    }
    const std::string t(edge_text(status));
    return plain_reply(status,
                       "<html>\r\n<head><title>" + t + "</title></head>\r\n<body>\r\n<center><h1>" +
                           t + "</h1></center>\r\n</body>\r\n</html>\r\n",
                       "text/html");
  }
  if (storage) {
    if (status == 403) return storage_error(403, "AccessDenied", "Access Denied");
    if (status == 404) return storage_error(404, "NoSuchKey", "The specified key does not exist.");
    return storage_error(status, "InternalError",
                         "We encountered an internal error. Please try again.");
  }
  if (status == 429) return api_error({429, "Too many requests"});
  if (status == 403) return api_error({403, "Invalid API/Secret Key combination"});
  return api_error({status, "An error was injected by the sandbox"});
}

std::string zulu_text(std::int64_t seconds) {
  std::string c = civil_text(seconds * kMicrosPerSecond);  // "YYYY-MM-DD HH:MM:SS"
  c[10] = 'T';
  return c + "Z";
}

std::string amz_date(std::int64_t seconds) {
  std::string out;
  for (char ch : civil_text(seconds * kMicrosPerSecond)) {
    if (ch == ' ') {
      out.push_back('T');
    } else if (ch != '-' && ch != ':') {
      out.push_back(ch);
    }
  }
  return out + "Z";
}

}  // namespace concord::sandbox::amplitude

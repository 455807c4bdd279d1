#include "sandbox/json_writer.h"

#include <cstdio>

#include "sandbox/times.h"

namespace concord::sandbox {
namespace {

// The two-character escapes JSON has ("\\n", ...). Returns false for another character.
bool append_short_escape(std::string* out, unsigned char c) {
  switch (c) {
    case '"':
      out->append("\\\"");
      return true;
    case '\\':
      out->append("\\\\");
      return true;
    case '\n':
      out->append("\\n");
      return true;
    case '\r':
      out->append("\\r");
      return true;
    case '\t':
      out->append("\\t");
      return true;
    case '\b':
      out->append("\\b");
      return true;
    case '\f':
      out->append("\\f");
      return true;
    default:
      return false;
  }
}

void append_minimal(std::string* out, std::string_view s) {
  out->push_back('"');
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + start, i - start);
    if (!append_short_escape(out, c)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out->append(buf);
    }
    start = i + 1;
  }
  out->append(s.data() + start, s.size() - start);
  out->push_back('"');
}

void append_php(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto u16 = [&](unsigned v) {
    char b[6] = {'\\',        'u', kHex[(v >> 12) & 15], kHex[(v >> 8) & 15], kHex[(v >> 4) & 15],
                 kHex[v & 15]};
    out->append(b, 6);
  };
  out->push_back('"');
  for (std::size_t i = 0; i < s.size(); ++i) {
    // A run of characters that need no escape is copied at once.
    std::size_t run = i;
    while (run < s.size()) {
      auto r = static_cast<unsigned char>(s[run]);
      if (r < 0x20 || r >= 0x80 || r == '"' || r == '\\' || r == '/') break;
      ++run;
    }
    if (run > i) {
      out->append(s.data() + i, run - i);
      i = run;
      if (i == s.size()) break;
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '/') {
        out->append("\\/");
      } else if (!append_short_escape(out, c)) {
        if (c < 0x20) {
          u16(c);
        } else {
          out->push_back(static_cast<char>(c));
        }
      }
      continue;
    }
    // Decode one UTF-8 sequence; a malformed one becomes U+FFFD.
    unsigned cp = 0xfffd;
    std::size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    if (len > 1 && i + len <= s.size()) {
      unsigned v = c & (0xff >> (len + 1));
      bool ok = true;
      for (std::size_t k = 1; k < len; ++k) {
        auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xc0) != 0x80) ok = false;
        v = (v << 6) | (cc & 0x3f);
      }
      if (ok) {
        cp = v;
        i += len - 1;
      }
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      u16(0xd800 + (cp >> 10));
      u16(0xdc00 + (cp & 0x3ff));
    } else {
      u16(cp);
    }
  }
  out->push_back('"');
}

}  // namespace

void append_json_string(std::string* out, std::string_view s, JsonEscape escape) {
  if (escape == JsonEscape::kPhp) {
    append_php(out, s);
  } else {
    append_minimal(out, s);
  }
}

std::string json_quoted(std::string_view s, JsonEscape escape) {
  std::string out;
  append_json_string(&out, s, escape);
  return out;
}

void append_php_json(std::string* out, const ojson& v) {
  switch (v.type()) {
    case ojson::value_t::string:
      append_php(out, v.get_ref<const std::string&>());
      return;
    case ojson::value_t::array: {
      out->push_back('[');
      bool first = true;
      for (const auto& x : v) {
        if (!first) out->push_back(',');
        first = false;
        append_php_json(out, x);
      }
      out->push_back(']');
      return;
    }
    case ojson::value_t::object: {
      if (v.empty()) {
        out->append("[]");
        return;
      }
      out->push_back('{');
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out->push_back(',');
        first = false;
        append_php(out, it.key());
        out->push_back(':');
        append_php_json(out, it.value());
      }
      out->push_back('}');
      return;
    }
    default:
      out->append(v.dump());
  }
}

void JsonOut::time(Micros t) {
  pre_value();
  buf += '"';
  append_time(&buf, t);
  buf += '"';
}

}  // namespace concord::sandbox

#include "sandbox/auth0/base64.h"

#include <cstdint>

namespace concord::sandbox::auth0 {
namespace {

constexpr char kStandard[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(std::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  auto byte = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += alphabet[v >> 6 & 63];
    out += alphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 0) return out;
  const std::uint32_t v = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
  out += alphabet[v >> 18 & 63];
  out += alphabet[v >> 12 & 63];
  if (rest == 2) out += alphabet[v >> 6 & 63];
  if (pad) out.append(3 - rest, '=');
  return out;
}

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string base64url(std::string_view bytes) {
  return encode(bytes, kUrl, false);
}

std::string base64(std::string_view bytes) {
  return encode(bytes, kStandard, true);
}

std::optional<std::string> unbase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int s[4];
    int pads = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && last && k >= 2) {
        s[k] = 0;
        ++pads;
        continue;
      }
      if (pads > 0) return std::nullopt;  // data after padding
      s[k] = sextet(c);
      if (s[k] < 0) return std::nullopt;
    }
    const std::uint32_t v = static_cast<std::uint32_t>(s[0] << 18 | s[1] << 12 | s[2] << 6 | s[3]);
    out += static_cast<char>(v >> 16 & 0xff);
    if (pads < 2) out += static_cast<char>(v >> 8 & 0xff);
    if (pads < 1) out += static_cast<char>(v & 0xff);
  }
  return out;
}

}  // namespace concord::sandbox::auth0

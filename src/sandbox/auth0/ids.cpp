#include "sandbox/auth0/ids.h"

#include <cstdint>
#include <random>

#include "sandbox/text.h"

namespace concord::sandbox::auth0 {
namespace {

std::mt19937_64& rng() {
  thread_local std::mt19937_64 gen{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }()};
  return gen;
}

}  // namespace

std::string random_alnum(std::size_t n) {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::uniform_int_distribution<std::size_t> pick(0, sizeof kChars - 2);
  std::string s;
  s.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    s.push_back(kChars[pick(rng())]);
  return s;
}

std::string random_bytes(std::size_t n) {
  std::string s;
  s.reserve(n + 8);
  while (s.size() < n) {
    std::uint64_t v = rng()();
    for (int i = 0; i < 8 && s.size() < n; ++i, v >>= 8)
      s.push_back(static_cast<char>(v & 0xff));
  }
  return s;
}

std::string random_hex(std::size_t n) {
  const std::string bytes = random_bytes(n);
  std::string out;
  append_hex(&out, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return out;
}

}  // namespace concord::sandbox::auth0

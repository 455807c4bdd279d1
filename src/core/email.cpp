#include "concord/email.h"

#include <openssl/evp.h>

#include <cstring>
#include <stdexcept>

namespace concord {
namespace {

bool is_space(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}
bool is_alpha(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

// RFC 5322 atext, without the dot (dots are checked separately).
bool is_atext(unsigned char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  return std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr && c != 0;
}

EmailProblem check_local(std::string_view local) {
  if (local.empty()) return EmailProblem::kEmptyLocalPart;
  if (local.size() > 64) return EmailProblem::kTooLong;
  if (local.front() == '.' || local.back() == '.') return EmailProblem::kBadLocalPart;
  char prev = 0;
  for (unsigned char c : local) {
    if (c == '.') {
      if (prev == '.') return EmailProblem::kBadLocalPart;
    } else if (!is_atext(c)) {
      return EmailProblem::kBadLocalPart;
    }
    prev = static_cast<char>(c);
  }
  return EmailProblem::kOk;
}

EmailProblem check_domain(std::string_view domain) {
  if (domain.empty()) return EmailProblem::kEmptyDomain;
  if (domain.size() > 253) return EmailProblem::kTooLong;
  std::size_t dots = 0;
  std::size_t start = 0;
  while (true) {
    std::size_t end = domain.find('.', start);
    std::string_view label =
        domain.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (label.empty() || label.size() > 63) return EmailProblem::kBadDomain;
    if (label.front() == '-' || label.back() == '-') return EmailProblem::kBadDomain;
    for (unsigned char c : label) {
      if (!is_alpha(c) && !is_digit(c) && c != '-') return EmailProblem::kBadDomain;
    }
    if (end == std::string_view::npos) {
      // The top-level domain: at least two letters (no numeric TLDs, so no bare IP addresses).
      if (dots == 0) return EmailProblem::kNoTopLevelDomain;
      if (label.size() < 2) return EmailProblem::kNoTopLevelDomain;
      for (unsigned char c : label) {
        if (!is_alpha(c)) return EmailProblem::kNoTopLevelDomain;
      }
      return EmailProblem::kOk;
    }
    ++dots;
    start = end + 1;
  }
}

// OpenSSL 3 deprecates MD5(); the EVP interface with a fetched algorithm is the supported path.
// The algorithm is fetched once; each thread keeps one digest context.
const EVP_MD* md5_algorithm() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "MD5", nullptr);
  return md;
}

struct DigestContext {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~DigestContext() { EVP_MD_CTX_free(ctx); }
};

}  // namespace

std::string_view describe(EmailProblem problem) {
  switch (problem) {
    case EmailProblem::kOk:
      return "valid";
    case EmailProblem::kEmpty:
      return "the address is empty";
    case EmailProblem::kTooLong:
      return "the address is too long";
    case EmailProblem::kNoAt:
      return "the address has no '@'";
    case EmailProblem::kSeveralAt:
      return "the address has more than one '@'";
    case EmailProblem::kEmptyLocalPart:
      return "nothing before the '@'";
    case EmailProblem::kBadLocalPart:
      return "the part before the '@' has a character or dot that is not allowed";
    case EmailProblem::kEmptyDomain:
      return "nothing after the '@'";
    case EmailProblem::kBadDomain:
      return "the domain after the '@' is not a valid host name";
    case EmailProblem::kNoTopLevelDomain:
      return "the domain has no top-level domain (like .org)";
    case EmailProblem::kNonAscii:
      return "the address has non-ASCII characters";
    case EmailProblem::kWhitespaceInside:
      return "the address has spaces or control characters";
  }
  return "invalid";
}

std::string normalise_email(std::string_view raw) {
  std::size_t b = 0;
  std::size_t e = raw.size();
  while (b < e && is_space(static_cast<unsigned char>(raw[b])))
    ++b;
  while (e > b && is_space(static_cast<unsigned char>(raw[e - 1])))
    --e;
  std::string out(raw.substr(b, e - b));
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

EmailProblem check_email(std::string_view email) {
  if (email.empty()) return EmailProblem::kEmpty;
  if (email.size() > 254) return EmailProblem::kTooLong;
  std::size_t at = std::string_view::npos;
  for (std::size_t i = 0; i < email.size(); ++i) {
    auto c = static_cast<unsigned char>(email[i]);
    if (c >= 0x80) return EmailProblem::kNonAscii;
    if (c <= 0x20 || c == 0x7f) return EmailProblem::kWhitespaceInside;
    if (c == '@') {
      if (at != std::string_view::npos) return EmailProblem::kSeveralAt;
      at = i;
    }
  }
  if (at == std::string_view::npos) return EmailProblem::kNoAt;
  if (EmailProblem p = check_local(email.substr(0, at)); p != EmailProblem::kOk) return p;
  return check_domain(email.substr(at + 1));
}

Result<std::string> parse_email(std::string_view raw) {
  std::string email = normalise_email(raw);
  EmailProblem p = check_email(email);
  if (p != EmailProblem::kOk) return Status::invalid(std::string(describe(p)));
  return email;
}

MemberKey member_key(std::string_view normalised) {
  thread_local DigestContext dc;
  MemberKey key;
  unsigned int len = 0;
  if (dc.ctx == nullptr || md5_algorithm() == nullptr ||
      EVP_DigestInit_ex2(dc.ctx, md5_algorithm(), nullptr) != 1 ||
      EVP_DigestUpdate(dc.ctx, normalised.data(), normalised.size()) != 1 ||
      EVP_DigestFinal_ex(dc.ctx, key.bytes.data(), &len) != 1 || len != key.bytes.size()) {
    // Only when OpenSSL has no MD5 provider loaded (a FIPS-only configuration): nothing can be
    // keyed, so there is no sensible value to return.
    throw std::runtime_error("OpenSSL cannot compute MD5 (is the default provider disabled?)");
  }
  return key;
}

bool member_key_from_bytes(std::string_view bytes, MemberKey* out) {
  if (bytes.size() != out->bytes.size()) return false;
  std::memcpy(out->bytes.data(), bytes.data(), bytes.size());
  return true;
}

std::string subscriber_hash(const MemberKey& key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (std::size_t i = 0; i < key.bytes.size(); ++i) {
    out[2 * i] = kHex[key.bytes[i] >> 4];
    out[2 * i + 1] = kHex[key.bytes[i] & 0xf];
  }
  return out;
}

}  // namespace concord

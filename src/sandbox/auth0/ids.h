// The random strings the Auth0 part hands out: job ids, user ids, download signatures, tokens.
// They come from a generator seeded from std::random_device, one per thread: not a
// cryptographic source, but nothing a client could guess or that repeats across runs.
//
// Thread-safety: every function may be called from many threads at once.
#pragma once

#include <cstddef>
#include <string>

namespace concord::sandbox::auth0 {

// n random letters and digits.
std::string random_alnum(std::size_t n);
// n random bytes as lower-case hex (2n characters).
std::string random_hex(std::size_t n);
// n random bytes.
std::string random_bytes(std::size_t n);

}  // namespace concord::sandbox::auth0

// URLs (the configuration's API URLs and public_url), query strings and form bodies (every request
// the daemon serves), percent-decoding. Each input parses or is refused; what parses reads back
// the same through its own writer.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "concord/http.h"

using namespace concord;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  if (Result<http::Url> url = http::Url::parse(in)) {
    // origin() + path is the URL again.
    Result<http::Url> again = http::Url::parse(url->origin() + url->path);
    if (!again || again->scheme != url->scheme || again->host != url->host ||
        again->port != url->port || again->path != url->path) {
      __builtin_trap();
    }
  }

  (void)http::parse_query(in);

  std::string decoded;
  (void)http::url_decode(in, &decoded, false);
  (void)http::url_decode(in, &decoded, true);
  // Encoding then decoding gives back any bytes.
  if (!http::url_decode(http::url_encode(in), &decoded, false) || decoded != in) __builtin_trap();
  return 0;
}

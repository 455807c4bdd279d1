// A throw-away certificate authority and a server certificate signed by it, for the sandbox and
// tests. OpenSSL 3 API only (no deprecated calls): EC P-256 keys, SHA-256 signatures.
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "concord/http.h"

namespace concord::http {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

constexpr long kOneHour = 3600;
constexpr long kTenYears = 10L * 365 * 24 * 3600;

// The first queued OpenSSL error as text (and clears the queue).
std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

KeyPtr new_key() {
  return KeyPtr(EVP_EC_gen("P-256"));
}

bool set_random_serial(X509* cert) {
  BnPtr bn(BN_new());
  if (!bn || !BN_rand(bn.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)) return false;
  ASN1_INTEGER* serial = X509_get_serialNumber(cert);
  return BN_to_ASN1_INTEGER(bn.get(), serial) != nullptr;
}

bool add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

// A v3 certificate for `key` named `common_name`, valid from an hour ago for ten years, not yet
// signed and without extensions.
CertPtr new_cert(EVP_PKEY* key, const char* common_name) {
  CertPtr cert(X509_new());
  if (!cert) return nullptr;
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) return nullptr;
  if (!set_random_serial(cert.get())) return nullptr;
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kOneHour)) return nullptr;
  if (!X509_gmtime_adj(X509_getm_notAfter(cert.get()), kTenYears)) return nullptr;
  if (X509_set_pubkey(cert.get(), key) != 1) return nullptr;
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("concord test"), -1, -1,
                                 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(common_name), -1, -1,
                                 0) != 1) {
    return nullptr;
  }
  return cert;
}

// Opens `path` for writing with `mode` (0600 for keys), truncating it.
BioPtr open_for_write(const std::string& path, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return nullptr;
  BioPtr bio(BIO_new_fd(fd, BIO_CLOSE));
  if (!bio) ::close(fd);
  return bio;
}

Status write_pem_cert(const std::string& path, X509* cert) {
  BioPtr bio = open_for_write(path, 0644);
  if (!bio) return Status::io_error("cannot write " + path + ": " + std::strerror(errno));
  if (PEM_write_bio_X509(bio.get(), cert) != 1 || BIO_flush(bio.get()) != 1) {
    return Status::io_error("cannot write " + path + ": " + openssl_error());
  }
  return Status::ok();
}

Status write_pem_key(const std::string& path, EVP_PKEY* key) {
  BioPtr bio = open_for_write(path, 0600);
  if (!bio) return Status::io_error("cannot write " + path + ": " + std::strerror(errno));
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      BIO_flush(bio.get()) != 1) {
    return Status::io_error("cannot write " + path + ": " + openssl_error());
  }
  return Status::ok();
}

}  // namespace

Status write_test_certificates(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::io_error("cannot create " + dir + ": " + ec.message());

  // The authority: self-signed, CA:TRUE, may sign certificates.
  KeyPtr ca_key = new_key();
  if (!ca_key) return Status::internal("cannot generate a key: " + openssl_error());
  CertPtr ca = new_cert(ca_key.get(), "concord test CA");
  if (!ca) return Status::internal("cannot build the CA certificate: " + openssl_error());
  if (X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get())) != 1 ||
      !add_ext(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !add_ext(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !add_ext(ca.get(), ca.get(), NID_subject_key_identifier, "hash") ||
      !add_ext(ca.get(), ca.get(), NID_authority_key_identifier, "keyid:always") ||
      X509_sign(ca.get(), ca_key.get(), EVP_sha256()) <= 0) {
    return Status::internal("cannot build the CA certificate: " + openssl_error());
  }

  // The server: signed by the authority, for localhost, 127.0.0.1 and ::1.
  KeyPtr key = new_key();
  if (!key) return Status::internal("cannot generate a key: " + openssl_error());
  CertPtr cert = new_cert(key.get(), "localhost");
  if (!cert) return Status::internal("cannot build the server certificate: " + openssl_error());
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get())) != 1 ||
      !add_ext(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !add_ext(cert.get(), ca.get(), NID_key_usage, "critical,digitalSignature") ||
      !add_ext(cert.get(), ca.get(), NID_ext_key_usage, "serverAuth") ||
      !add_ext(cert.get(), ca.get(), NID_subject_alt_name,
               "DNS:localhost,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1") ||
      !add_ext(cert.get(), ca.get(), NID_subject_key_identifier, "hash") ||
      !add_ext(cert.get(), ca.get(), NID_authority_key_identifier, "keyid:always") ||
      X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0) {
    return Status::internal("cannot build the server certificate: " + openssl_error());
  }

  const std::filesystem::path base(dir);
  Status s = write_pem_cert((base / "ca.pem").string(), ca.get());
  if (s.is_ok()) s = write_pem_cert((base / "server.pem").string(), cert.get());
  if (s.is_ok()) s = write_pem_key((base / "server.key").string(), key.get());
  return s;
}

}  // namespace concord::http

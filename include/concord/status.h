// Errors as values at module boundaries.
//
// A Status says what went wrong and whether trying again can help. Functions that can fail return a
// Status (or a Result<T>, below); they do not throw. Exceptions raised by libraries
// (nlohmann::json, RocksDB's C++ API never throws, Beast) are caught at the boundary that called
// them and turned into a Status there.
//
// Thread-safety: Status and Result are values; distinct objects may be used from distinct threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace concord {

// The system an error came from, so that a caller (the daemon's metrics, a report) can tell
// without reading the message. Set where the error leaves the module that talks to that system.
enum class Origin : std::uint8_t {
  kNone = 0,   // not said (local work, or not yet attributed)
  kMailchimp,  // the Mailchimp Marketing API
  kCivicrm,    // a CiviCRM site's APIv4
  kStore,      // the local RocksDB store
  kConfig,     // the configuration file or the environment it names
  kAuth0,      // an Auth0 tenant's Management API (a one-way people side)
  kMixpanel,   // a Mixpanel project's Query API (a one-way people side)
  kAmplitude,  // an Amplitude project's cohort API (a one-way people side)
  kMautic,     // a Mautic instance's REST API (a one-way people side)
};
// "mailchimp", "civicrm", "store", "config", "auth0", "mixpanel", "amplitude", "mautic", "".
std::string_view origin_name(Origin origin);

class [[nodiscard]] Status {
 public:
  enum class Code : std::uint8_t {
    kOk = 0,
    kInvalid,             // bad input (a record, a field, a config key): report it, do not retry
    kNotFound,            // the thing asked for does not exist
    kUnavailable,         // transient (timeout, 429, 5xx, reset): back off and retry
    kCorruption,          // stored data cannot be decoded
    kFailedPrecondition,  // the system is not in a state to do this (e.g. store format mismatch)
    kIoError,             // local I/O failed (disk full, permissions)
    kInternal,            // a bug: an invariant did not hold
    kPermissionDenied,    // credentials or a signature that do not match: refuse, do not retry
  };

  Status() = default;  // OK

  static Status ok() { return Status(); }
  static Status invalid(std::string msg) { return Status(Code::kInvalid, std::move(msg)); }
  static Status not_found(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status failed_precondition(std::string msg) {
    return Status(Code::kFailedPrecondition, std::move(msg));
  }
  static Status io_error(std::string msg) { return Status(Code::kIoError, std::move(msg)); }
  static Status internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }
  static Status permission_denied(std::string msg) {
    return Status(Code::kPermissionDenied, std::move(msg));
  }

  bool is_ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  Origin origin() const { return origin_; }

  // True when the same request may succeed later (only kUnavailable).
  bool retryable() const { return code_ == Code::kUnavailable; }

  // "invalid: <message>" style text for logs and errors; never contains more than the message.
  std::string to_string() const;

  // Returns a copy whose message is "<context>: <message>" (the origin is kept).
  Status with_context(std::string_view context) const;
  // Returns a copy that says it came from `origin`; an OK status stays OK (and says nothing),
  // and an origin already set is kept (the innermost module knows best).
  Status with_origin(Origin origin) const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  Origin origin_ = Origin::kNone;
  std::string message_;
};

std::string_view code_name(Status::Code code);

// Either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit on purpose
  Result(Status status) : v_(std::move(status)) {}  // NOLINT
  // REQUIRES: !status.is_ok() for the Status constructor.

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }

  // REQUIRES: is_ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

  // Returns OK when a value is held.
  Status status() const { return is_ok() ? Status::ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace concord

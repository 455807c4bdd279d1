// An API call's failure in the CiviCRM part: the exception CiviCRM would throw, and the HTTP
// status it maps to. The engine throws it from deep in a call; routing.cpp turns it into
// CiviCRM's error answer.
#pragma once

#include <string>
#include <utility>

namespace concord::sandbox {

struct ApiError {
  int status = 500;
  std::string message;
};

[[noreturn]] inline void fail(std::string message, int status = 500) {
  throw ApiError{status, std::move(message)};
}

}  // namespace concord::sandbox

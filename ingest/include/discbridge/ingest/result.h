// Result<T>: the value of an operation that can fail for expected reasons
// (bad media, refused association, HTTP 503). Library error codes are turned
// into an Error at the adapter that calls the library.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace discbridge {

struct Error {
  std::string code;     // stable, machine-readable (e.g. "MEDIA_READ_ERROR")
  std::string message;  // one line for a person
  bool retryable = false;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error makeError(std::string code, std::string message, bool retryable = false) {
  return Error{std::move(code), std::move(message), retryable};
}

}  // namespace discbridge

#pragma once
/// A small success-or-error type for the pure core (Boost 1.74 has no system::result and
/// std::expected is C++23). The core never throws; it returns Result<T>.

#include <string>
#include <utility>
#include <variant>

namespace clat {

/// An error: a human-readable message that already names the place (file, line, key, peer).
struct Error {
    std::string message;
    bool operator==(const Error&) const = default;
};

/// Either a value of type T or an Error.
template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
    Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const T& operator*() const& { return value(); }
    T& operator*() & { return value(); }
    const T* operator->() const { return &value(); }
    T* operator->() { return &value(); }

    const Error& error() const { return std::get<1>(v_); }

  private:
    std::variant<T, Error> v_;
};

/// Result of an operation that yields nothing on success.
struct Ok {
    bool operator==(const Ok&) const = default;
};
using Status = Result<Ok>;

inline Error make_error(std::string message) {
    return Error{std::move(message)};
}

}  // namespace clat

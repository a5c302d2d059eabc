// File-system failures in the cache stated plainly: a full disk, a read-only or foreign-owned
// cache directory, each with what to do about it.
#pragma once

#include <string>

namespace slm::hub {

// Throws slm::Error for errno (taken at the call) about `path`: "{path}: {what}: {reason}".
[[noreturn]] void fail_io(const std::string& path, const std::string& what);
[[noreturn]] void fail_errno(int err, const std::string& path, const std::string& what);
// mkdir -p, with fail_io's messages.
void make_dirs(const std::string& dir);

}  // namespace slm::hub

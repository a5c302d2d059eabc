// Test support: where the repository, its fixtures and ../shared are, and a skip when the
// shared models and data are absent (CI always has them; a bare clone may not).
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace slm::test {

std::string source_dir();    // the repository root
std::string fixtures_dir();  // tests/fixtures
// ../shared beside the repository (or $SLM_SHARED_DIR); empty when it is not there.
std::string shared_dir();
std::string temp_dir();      // a fresh directory for this test process, removed at exit

}  // namespace slm::test

// Skips the current test with a clear message unless ../shared is present; yields its path.
#define SLM_REQUIRE_SHARED(var)                                                        \
    const std::string var = ::slm::test::shared_dir();                              \
    if (var.empty()) GTEST_SKIP() << "../shared (models and data) not found beside the repository"

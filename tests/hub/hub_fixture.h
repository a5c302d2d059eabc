// The fixture of the pull tests: a fresh fake Hub and cache per test, two repositories in it
// (safetensors "slm-test/tiny", GGUF "slm-test/tiny-GGUF"), and HubOptions pointing at both,
// passed explicitly so no test depends on the environment.
#pragma once

#include <gtest/gtest.h>
#include <slm/hub.h>

#include <memory>
#include <string>

#include "hub/fake_hub.h"
#include "testing/testing.h"

namespace slm::test {

inline constexpr const char* kRepo = "slm-test/tiny";
inline constexpr const char* kGgufRepo = "slm-test/tiny-GGUF";

class HubTest : public ::testing::Test {
protected:
    void SetUp() override;
    std::string cache_dir() const { return hub_options_.cache_dir; }
    std::string repo_dir(const std::string& repo = kRepo) const;
    PullResult pull_ref(const std::string& ref) { return pull(parse_model_ref(ref), pull_options_, hub_options_); }
    static std::string bytes(size_t n, uint32_t seed);  // deterministic pseudo-random content

    std::string dir_;
    std::unique_ptr<FakeHub> hub_;
    HubOptions hub_options_;
    PullOptions pull_options_;
    std::string weights_;  // model.safetensors of slm-test/tiny
};

// Reads a whole file (following links).
std::string slurp(const std::string& path);

}  // namespace slm::test

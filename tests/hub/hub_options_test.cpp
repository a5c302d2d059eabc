// HubOptions::from_env reads the variables huggingface_hub reads, with its defaults.
#include <gmock/gmock.h>
#include <slm/error.h>
#include <slm/hub.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "hub/fs_errors.h"
#include "testing/testing.h"

using ::testing::HasSubstr;

namespace slm {
namespace {

// Sets variables for one test and puts the old values back.
class ScopedEnv {
public:
    ScopedEnv(std::map<std::string, const char*> vars) {
        for (const auto& [name, value] : vars) {
            const char* old = std::getenv(name.c_str());
            saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
            if (value)
                ::setenv(name.c_str(), value, 1);
            else
                ::unsetenv(name.c_str());
        }
    }
    ~ScopedEnv() {
        for (const auto& [name, value] : saved_) {
            if (value)
                ::setenv(name.c_str(), value->c_str(), 1);
            else
                ::unsetenv(name.c_str());
        }
    }

private:
    std::map<std::string, std::optional<std::string>> saved_;
};

TEST(HubOptions, ReadsHuggingFaceHubVariables) {
    const std::string home = test::temp_dir() + "/hf-home";
    std::filesystem::create_directories(home);
    std::ofstream(home + "/token") << "hf_from_file\n";
    {
        const ScopedEnv env({{"HF_HOME", home.c_str()},
                             {"HF_HUB_CACHE", nullptr},
                             {"HUGGINGFACE_HUB_CACHE", nullptr},
                             {"HF_TOKEN", nullptr},
                             {"HF_TOKEN_PATH", nullptr},
                             {"HF_ENDPOINT", "http://hub.local/"},
                             {"HF_HUB_OFFLINE", "yes"},
                             {"SLM_HUB_TIMEOUT", "2.5"}});
        const HubOptions o = HubOptions::from_env();
        EXPECT_EQ(o.cache_dir, home + "/hub");
        EXPECT_EQ(o.token, "hf_from_file");
        EXPECT_EQ(o.endpoint, "http://hub.local");
        EXPECT_TRUE(o.offline);
        EXPECT_EQ(o.timeout_s, 2.5);
    }
    {
        const ScopedEnv env({{"HF_HOME", nullptr},
                             {"XDG_CACHE_HOME", nullptr},
                             {"HOME", "/home/u"},
                             {"HF_HUB_CACHE", "/c/hub"},
                             {"HF_TOKEN", "hf_env"},
                             {"HF_ENDPOINT", nullptr},
                             {"HF_HUB_OFFLINE", "0"},
                             {"SLM_HUB_TIMEOUT", nullptr}});
        const HubOptions o = HubOptions::from_env();
        EXPECT_EQ(o.cache_dir, "/c/hub");
        EXPECT_EQ(o.token, "hf_env");
        EXPECT_EQ(o.endpoint, "https://huggingface.co");
        EXPECT_FALSE(o.offline);
    }
    {
        const ScopedEnv env({{"HF_HOME", nullptr},
                             {"XDG_CACHE_HOME", nullptr},
                             {"HOME", "/home/u"},
                             {"HF_HUB_CACHE", nullptr},
                             {"HUGGINGFACE_HUB_CACHE", nullptr}});
        EXPECT_EQ(hub_cache_dir(), "/home/u/.cache/huggingface/hub");
    }
}

TEST(HubOptions, DiskErrorsAreStatedPlainly) {
    auto message = [](int err) {
        try {
            hub::fail_errno(err, "/c/blobs/x", "cannot write the download");
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    EXPECT_THAT(message(ENOSPC), HasSubstr("the disk is full"));
    EXPECT_THAT(message(EACCES), HasSubstr("permission denied"));
    EXPECT_THAT(message(EROFS), HasSubstr("read-only"));
}

}  // namespace
}  // namespace slm

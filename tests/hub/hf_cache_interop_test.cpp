// A cache tree written by huggingface_hub itself (tests/fixtures/hub/theirs/, made on the device
// machine by tests/fixtures/make_hub_fixtures.py) read by slm: list_cached agrees with
// huggingface_hub's scan_cache_dir, names resolve to the snapshot huggingface_hub returned, a tag
// ref too, and the files read through the links are the bytes it downloaded.
#include <gtest/gtest.h>
#include <slm/file_io.h>
#include <slm/hub.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "testing/testing.h"

namespace slm::test {
namespace {

using nlohmann::json;

class TheirCache : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fixtures_dir() + "/hub/theirs";
        report_ = json::parse(read_text_file(fixtures_dir() + "/hub/theirs.json"));
    }
    std::string dir_;
    json report_;
};

TEST_F(TheirCache, ListingAgreesWithScanCacheDir) {
    const json& scan = report_["scan"];
    EXPECT_TRUE(scan["warnings"].empty());
    const auto repos = list_cached(dir_);
    ASSERT_EQ(repos.size(), scan["repos"].size());
    for (size_t i = 0; i < repos.size(); ++i) {
        const json& theirs = scan["repos"][i];
        const CachedRepo& ours = repos[i];
        SCOPED_TRACE(ours.repo);
        EXPECT_EQ(ours.repo, theirs["repo_id"]);
        EXPECT_EQ(ours.size_on_disk, theirs["size_on_disk"].get<uint64_t>());
        ASSERT_EQ(ours.revisions.size(), theirs["revisions"].size());
        for (size_t r = 0; r < ours.revisions.size(); ++r) {
            const json& tr = theirs["revisions"][r];
            auto refs = ours.revisions[r].refs;
            auto files = ours.revisions[r].files;
            std::sort(refs.begin(), refs.end());
            std::sort(files.begin(), files.end());
            EXPECT_EQ(ours.revisions[r].commit, tr["commit"]);
            EXPECT_EQ(refs, tr["refs"].get<std::vector<std::string>>());
            EXPECT_EQ(files, tr["files"].get<std::vector<std::string>>());
            EXPECT_EQ(ours.revisions[r].size, tr["size_on_disk"].get<uint64_t>());
            EXPECT_EQ(ours.revisions[r].format, "safetensors");
        }
    }
}

TEST_F(TheirCache, NamesResolveToTheSnapshotHuggingFaceHubReturned) {
    const std::string repo = report_["repo"];
    const auto main = resolve_cached(parse_model_ref(repo), dir_);
    ASSERT_TRUE(main);
    EXPECT_EQ(*main, dir_ + "/" + report_["snapshot"].get<std::string>());
    const auto tagged = resolve_cached(parse_model_ref(repo + "@v1.0"), dir_);
    ASSERT_TRUE(tagged);
    const std::string config = report_["config_at_v1.0"];
    EXPECT_EQ(*tagged + "/config.json", dir_ + "/" + config);
    const auto by_commit = resolve_cached(parse_model_ref(repo + "@" + report_["commit"].get<std::string>()), dir_);
    ASSERT_TRUE(by_commit);
    EXPECT_EQ(*by_commit, *main);
    EXPECT_FALSE(resolve_cached(parse_model_ref(repo + "@v2.0"), dir_));
}

TEST_F(TheirCache, OfflinePullServesItWithoutTheNetwork) {
    HubOptions hub;
    hub.cache_dir = dir_;
    hub.offline = true;
    PullOptions options;
    options.progress = false;
    const PullResult r = pull(parse_model_ref(report_["repo"].get<std::string>()), options, hub);
    EXPECT_EQ(r.commit, report_["commit"]);
    EXPECT_NE(read_text_file(r.snapshot_dir + "/config.json").find("\"model_type\": \"llama\""), std::string::npos);
    EXPECT_EQ(file_size(r.snapshot_dir + "/model.safetensors"), 8u + 72u + 128u);
}

}  // namespace
}  // namespace slm::test

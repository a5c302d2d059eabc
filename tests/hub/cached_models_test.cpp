// The cache without the network: resolving names, listing repositories, removing revisions.
#include <gmock/gmock.h>
#include <slm/error.h>

#include <filesystem>

#include "hub/digest.h"
#include "hub/hub_fixture.h"

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace slm::test {
namespace {

class CachedModelsTest : public HubTest {
protected:
    void SetUp() override {
        HubTest::SetUp();
        hub_->add_file(kRepo, "v2", "config.json", R"({"hidden_size": 128})");
        hub_->add_file(kRepo, "v2", "model.safetensors", weights_);
        main_ = pull_ref(kRepo);
        v2_ = pull_ref("slm-test/tiny@v2");
    }
    PullResult main_, v2_;
};

TEST_F(CachedModelsTest, ResolvesRevisionNamesAndCommits) {
    EXPECT_EQ(resolve_cached(parse_model_ref(kRepo), cache_dir()), main_.path);
    EXPECT_EQ(resolve_cached(parse_model_ref("slm-test/tiny@v2"), cache_dir()), v2_.path);
    EXPECT_EQ(resolve_cached(parse_model_ref("slm-test/tiny@" + v2_.commit), cache_dir()), v2_.path);
    EXPECT_EQ(resolve_cached(parse_model_ref("slm-test/tiny@v3"), cache_dir()), std::nullopt);
    EXPECT_EQ(resolve_cached(parse_model_ref("slm-test/other"), cache_dir()), std::nullopt);
}

TEST_F(CachedModelsTest, ListsRepositoriesRevisionsFilesAndSizes) {
    pull_ref("slm-test/tiny-GGUF:Q8_0");
    const auto repos = list_cached(cache_dir());
    ASSERT_EQ(repos.size(), 2u);
    const CachedRepo& tiny = repos[0];
    EXPECT_EQ(tiny.repo, "slm-test/tiny");
    ASSERT_EQ(tiny.revisions.size(), 2u);
    const CachedRevision& main = tiny.revisions[0].commit == main_.commit ? tiny.revisions[0] : tiny.revisions[1];
    const CachedRevision& v2 = tiny.revisions[0].commit == main_.commit ? tiny.revisions[1] : tiny.revisions[0];
    EXPECT_THAT(main.refs, ElementsAre("main"));
    EXPECT_THAT(v2.refs, ElementsAre("v2"));
    EXPECT_EQ(main.files, main_.files);
    EXPECT_EQ(main.format, "safetensors");
    EXPECT_EQ(v2.size, weights_.size() + slurp(v2_.path + "/config.json").size());
    // The shared weights count once on disk.
    EXPECT_EQ(tiny.size_on_disk, main.size + slurp(v2_.path + "/config.json").size());
    EXPECT_GT(tiny.last_used, 1700000000);
    EXPECT_EQ(repos[1].repo, "slm-test/tiny-GGUF");
    EXPECT_EQ(repos[1].revisions.at(0).format, "gguf");
}

TEST_F(CachedModelsTest, RemovingARevisionKeepsBlobsAnotherUses) {
    const std::string blobs = repo_dir() + "/blobs/";
    const std::string weights_blob = blobs + hub::sha256_hex(weights_);
    const std::string v2_config_blob = blobs + hub::git_blob_sha1(slurp(v2_.path + "/config.json"));
    ASSERT_TRUE(fs::exists(v2_config_blob));
    const uint64_t config_size = fs::file_size(v2_config_blob);
    EXPECT_EQ(remove_cached(parse_model_ref("slm-test/tiny@v2"), cache_dir()), config_size);
    EXPECT_FALSE(fs::exists(v2_.path));
    EXPECT_FALSE(fs::exists(repo_dir() + "/refs/v2"));
    EXPECT_FALSE(fs::exists(v2_config_blob));
    EXPECT_TRUE(fs::exists(weights_blob));
    EXPECT_EQ(slurp(main_.path + "/model.safetensors"), weights_);
    EXPECT_EQ(resolve_cached(parse_model_ref(kRepo), cache_dir()), main_.path);

    EXPECT_THAT([&] { remove_cached(parse_model_ref("slm-test/tiny@v2"), cache_dir()); },
                ::testing::ThrowsMessage<Error>(HasSubstr("revision 'v2' of slm-test/tiny is not in the cache")));
    remove_cached(parse_model_ref(kRepo), cache_dir());
    EXPECT_FALSE(fs::exists(repo_dir()));
    EXPECT_THAT([&] { remove_cached(parse_model_ref(kRepo), cache_dir()); },
                ::testing::ThrowsMessage<Error>(HasSubstr("slm-test/tiny is not in the cache")));
}

TEST_F(CachedModelsTest, RemovingTheLastRevisionRemovesTheRepository) {
    remove_cached(parse_model_ref("slm-test/tiny@main"), cache_dir());
    EXPECT_TRUE(fs::exists(repo_dir()));
    remove_cached(parse_model_ref("slm-test/tiny@" + v2_.commit), cache_dir());
    EXPECT_FALSE(fs::exists(repo_dir()));
    EXPECT_TRUE(list_cached(cache_dir()).empty());
}

}  // namespace
}  // namespace slm::test

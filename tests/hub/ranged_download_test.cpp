// Large files as parallel byte ranges: disjoint ranges that rebuild the file byte for byte, a cut
// range resumed alone, a killed run's ranges resumed from its record, a corrupt result deleted,
// and an .incomplete left by a single stream (or by huggingface_hub) taken over as the first range.
#include <gmock/gmock.h>
#include <slm/error.h>
#include <slm/file_io.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "hub/digest.h"
#include "hub/hub_fixture.h"

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace slm::test {
namespace {

class RangedTest : public HubTest {
protected:
    void SetUp() override {
        HubTest::SetUp();
        pull_options_.connections = 4;
        pull_options_.ranged_min_bytes = 1 << 20;  // the 4 MiB weights: four ranges of 1 MiB
    }
    std::string blob() const { return repo_dir() + "/blobs/" + hub::sha256_hex(weights_); }
    static uint64_t small_files_size(const PullResult& r) {
        return slurp(r.path + "/config.json").size() + slurp(r.path + "/tokenizer.json").size() +
               slurp(r.path + "/generation_config.json").size();
    }
    std::vector<std::string> weight_ranges() const {
        auto r = hub_->ranges(kRepo, "model.safetensors");
        std::sort(r.begin(), r.end());
        return r;
    }
};

TEST_F(RangedTest, FourDisjointRangesRebuildTheFile) {
    const PullResult r = pull_ref(kRepo);
    EXPECT_THAT(weight_ranges(), ElementsAre("bytes=0-1048575", "bytes=1048576-2097151", "bytes=2097152-3145727",
                                             "bytes=3145728-4194303"));
    EXPECT_EQ(slurp(r.path + "/model.safetensors"), weights_);
    EXPECT_FALSE(fs::exists(blob() + ".incomplete-ranges"));
    EXPECT_FALSE(fs::exists(blob() + ".incomplete-ranges.json"));
    EXPECT_EQ(r.downloaded_bytes, weights_.size() + small_files_size(r));
}

TEST_F(RangedTest, SmallFilesStayOneStream) {
    pull_options_.ranged_min_bytes = weights_.size() + 1;
    pull_ref(kRepo);
    EXPECT_THAT(hub_->ranges(kRepo, "model.safetensors"), ElementsAre(""));
}

TEST_F(RangedTest, CutRangeIsResumedAlone) {
    // Whichever range asks first is cut: at byte 4567, or at once if it starts past that.
    hub_->cut_once(kRepo, "model.safetensors", 4567);
    const PullResult r = pull_ref(kRepo);
    EXPECT_EQ(hub_->gets(kRepo, "model.safetensors"), 5);
    EXPECT_EQ(slurp(r.path + "/model.safetensors"), weights_);
}

TEST_F(RangedTest, KilledRunResumesEachRangeFromItsRecord) {
    // What a run killed part-way leaves: the ranges file and a record of how far each range got.
    fs::create_directories(repo_dir() + "/blobs");
    const uint64_t mib = 1 << 20;
    const std::vector<std::array<uint64_t, 3>> ranges = {
        {0, mib, mib}, {mib, 2 * mib, mib + 1000}, {2 * mib, 3 * mib, 2 * mib}, {3 * mib, 4 * mib, 3 * mib + 7}};
    std::string data(4 * mib, '\0');
    for (const auto& [b, e, at] : ranges) std::copy_n(weights_.begin() + long(b), at - b, data.begin() + long(b));
    write_file_atomic(blob() + ".incomplete-ranges", data);
    nlohmann::json record = {{"size", 4 * mib}, {"ranges", ranges}};
    write_file_atomic(blob() + ".incomplete-ranges.json", record.dump());

    const PullResult r = pull_ref(kRepo);
    EXPECT_THAT(weight_ranges(), ElementsAre("bytes=1049576-2097151", "bytes=2097152-3145727",
                                             "bytes=3145735-4194303"));
    EXPECT_EQ(slurp(r.path + "/model.safetensors"), weights_);
    // Fetched: only what the record did not hold, and the small files.
    EXPECT_EQ(r.downloaded_bytes, 3 * mib - 1007 + small_files_size(r));
}

TEST_F(RangedTest, SingleStreamIncompleteBecomesTheFirstRange) {
    fs::create_directories(repo_dir() + "/blobs");
    const size_t have = 1500000;
    std::ofstream(blob() + ".incomplete", std::ios::binary) << weights_.substr(0, have);
    const PullResult r = pull_ref(kRepo);
    // The 2694304 bytes left, in four ranges; the first one starts where the stream stopped.
    EXPECT_THAT(weight_ranges(), ElementsAre("bytes=1500000-2173575", "bytes=2173576-2847151",
                                             "bytes=2847152-3520727", "bytes=3520728-4194303"));
    EXPECT_EQ(slurp(r.path + "/model.safetensors"), weights_);
    EXPECT_FALSE(fs::exists(blob() + ".incomplete"));
}

TEST_F(RangedTest, CorruptResultIsDeletedWithItsRecord) {
    hub_->corrupt(kRepo, "model.safetensors");
    try {
        pull_ref(kRepo);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("model.safetensors: sha256 mismatch"));
    }
    EXPECT_FALSE(fs::exists(blob()));
    EXPECT_FALSE(fs::exists(blob() + ".incomplete-ranges"));
    EXPECT_FALSE(fs::exists(blob() + ".incomplete-ranges.json"));
}

}  // namespace
}  // namespace slm::test

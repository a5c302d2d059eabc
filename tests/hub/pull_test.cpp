// slm::pull against the fake Hub: the cache it writes, resumed and corrupt downloads, the
// Hub's errors, timeouts, offline mode, concurrent pulls, shared blobs and GGUF choices.
#include <gmock/gmock.h>
#include <slm/error.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "hub/digest.h"
#include "hub/hub_fixture.h"

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace slm::test {
namespace {

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

std::string link_target(const std::string& path) {
    std::error_code ec;
    return fs::read_symlink(path, ec).string();
}

TEST_F(HubTest, WholePullLaysOutTheCacheAsHuggingFaceHubDoes) {
    const PullResult r = pull_ref(kRepo);
    const std::string commit = hub_->commit(kRepo, "main");
    const std::string repo = repo_dir();
    EXPECT_EQ(r.commit, commit);
    EXPECT_EQ(r.path, repo + "/snapshots/" + commit);
    EXPECT_EQ(r.snapshot_dir, r.path);
    EXPECT_THAT(r.files, ElementsAre("config.json", "generation_config.json", "model.safetensors", "tokenizer.json"));
    EXPECT_EQ(slurp(repo + "/refs/main"), commit);  // no newline, as huggingface_hub writes it

    // LFS blobs are named by their sha256, git files by their git blob id; links are relative.
    const std::string sha = hub::sha256_hex(weights_);
    EXPECT_EQ(link_target(r.path + "/model.safetensors"), "../../blobs/" + sha);
    EXPECT_EQ(slurp(repo + "/blobs/" + sha), weights_);
    const std::string config = slurp(r.path + "/config.json");
    EXPECT_EQ(link_target(r.path + "/config.json"), "../../blobs/" + hub::git_blob_sha1(config));
    EXPECT_TRUE(fs::is_regular_file(repo + "/blobs/" + hub::git_blob_sha1(config)));
    EXPECT_FALSE(fs::exists(r.path + "/pytorch_model.bin"));
    EXPECT_FALSE(fs::exists(r.path + "/onnx"));
    for (const auto& e : fs::directory_iterator(repo + "/blobs"))
        EXPECT_FALSE(e.path().string().ends_with(".incomplete"));
    EXPECT_EQ(hub_->cdn_gets(), 1);  // the weights came through the redirect
    EXPECT_EQ(r.downloaded_bytes, weights_.size() + config.size() + slurp(r.path + "/tokenizer.json").size() +
                                      slurp(r.path + "/generation_config.json").size());

    const PullResult again = pull_ref(kRepo);  // everything cached: nothing fetched
    EXPECT_EQ(again.downloaded_bytes, 0u);
    EXPECT_EQ(hub_->gets(kRepo, "model.safetensors"), 1);
}

TEST_F(HubTest, FileProgressReportsEachFileByDigestUpToItsSize) {
    std::map<std::string, std::vector<FileProgress>> seen;
    pull_options_.on_file_progress = [&](const FileProgress& p) { seen[p.file].push_back(p); };
    pull_ref(kRepo);
    EXPECT_EQ(seen.size(), 4u);  // config, generation config, tokenizer, weights
    const auto& weights = seen["model.safetensors"];
    ASSERT_GE(weights.size(), 2u);
    EXPECT_EQ(weights.front().completed, 0u);
    EXPECT_EQ(weights.back().completed, weights_.size());
    for (const auto& p : weights) {
        EXPECT_EQ(p.digest, "sha256:" + hub::sha256_hex(weights_));  // LFS: ollama's digest form
        EXPECT_EQ(p.total, weights_.size());
    }
    const auto& config = seen["config.json"];
    EXPECT_EQ(config.back().digest, hub::git_blob_sha1(slurp(repo_dir() + "/snapshots/" + hub_->commit(kRepo, "main") +
                                                             "/config.json")));
    EXPECT_EQ(config.back().completed, config.back().total);

    seen.clear();
    pull_ref(kRepo);  // all in the snapshot already: nothing to report
    EXPECT_TRUE(seen.empty());
}

TEST_F(HubTest, CutDownloadResumesWithARangeRequest) {
    const size_t cut = (1u << 20) + 123;
    hub_->cut_once(kRepo, "model.safetensors", cut);
    const PullResult r = pull_ref(kRepo);
    EXPECT_THAT(hub_->ranges(kRepo, "model.safetensors"), ElementsAre("", "bytes=" + std::to_string(cut) + "-"));
    EXPECT_EQ(slurp(r.path + "/model.safetensors"), weights_);
}

TEST_F(HubTest, PartialBlobLeftByAnEarlierRunIsResumed) {
    const std::string blobs = repo_dir() + "/blobs";
    fs::create_directories(blobs);
    const size_t have = 1000000;
    std::ofstream(blobs + "/" + hub::sha256_hex(weights_) + ".incomplete", std::ios::binary)
        << weights_.substr(0, have);
    const PullResult r = pull_ref(kRepo);
    EXPECT_THAT(hub_->ranges(kRepo, "model.safetensors"), ElementsAre("bytes=" + std::to_string(have) + "-"));
    EXPECT_EQ(slurp(r.path + "/model.safetensors"), weights_);
    EXPECT_LT(r.downloaded_bytes, weights_.size());
}

TEST_F(HubTest, CorruptBlobIsDeletedAndNeverLinked) {
    hub_->corrupt(kRepo, "model.safetensors");
    const std::string message = error_of([&] { pull_ref(kRepo); });
    EXPECT_THAT(message, HasSubstr("model.safetensors: sha256 mismatch"));
    EXPECT_THAT(message, HasSubstr("deleted"));
    const std::string sha = hub::sha256_hex(weights_);
    EXPECT_FALSE(fs::exists(repo_dir() + "/blobs/" + sha));
    EXPECT_FALSE(fs::exists(repo_dir() + "/blobs/" + sha + ".incomplete"));
    const std::string snapshot = repo_dir() + "/snapshots/" + hub_->commit(kRepo, "main");
    EXPECT_FALSE(fs::is_symlink(snapshot + "/model.safetensors"));
    EXPECT_FALSE(fs::exists(repo_dir() + "/refs/main"));  // the revision is not complete
}

TEST_F(HubTest, GatedRepositoryNamesHfTokenAndWorksWithTheToken) {
    hub_->set_gated(kRepo, "hf_secret");
    const std::string message = error_of([&] { pull_ref(kRepo); });
    EXPECT_THAT(message, HasSubstr("gated"));
    EXPECT_THAT(message, HasSubstr("HF_TOKEN"));
    EXPECT_THAT(message, HasSubstr("401"));
    hub_options_.token = "hf_wrong";
    EXPECT_THAT(error_of([&] { pull_ref(kRepo); }), HasSubstr("was refused"));
    hub_options_.token = "hf_secret";
    EXPECT_EQ(slurp(pull_ref(kRepo).path + "/model.safetensors"), weights_);
}

TEST_F(HubTest, UnknownRepositoryAndUnknownRevisionSayWhich) {
    const std::string repo = error_of([&] { pull_ref("slm-test/missing"); });
    EXPECT_THAT(repo, HasSubstr("repository slm-test/missing not found"));
    const std::string revision = error_of([&] { pull_ref("slm-test/tiny@v9"); });
    EXPECT_THAT(revision, HasSubstr("revision 'v9' not found in slm-test/tiny"));
    EXPECT_FALSE(fs::exists(repo_dir("slm-test/missing")));
}

TEST_F(HubTest, StalledServerHitsTheTimeout) {
    hub_->stall(kRepo, "model.safetensors", 5000);
    hub_options_.timeout_s = 0.5;
    hub_options_.retries = 0;
    const auto start = std::chrono::steady_clock::now();
    const std::string message = error_of([&] { pull_ref(kRepo); });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_THAT(message, HasSubstr("no data for 0.5 s"));
    EXPECT_THAT(message, HasSubstr("model.safetensors"));
    EXPECT_LT(seconds, 4.0);
}

TEST_F(HubTest, OfflineResolvesFromTheCacheOnly) {
    hub_options_.offline = true;
    const std::string message = error_of([&] { pull_ref(kRepo); });
    EXPECT_THAT(message, HasSubstr("not in the cache"));
    EXPECT_THAT(message, HasSubstr("HF_HUB_OFFLINE"));
    hub_options_.offline = false;
    const PullResult online = pull_ref(kRepo);
    hub_options_.offline = true;
    hub_options_.endpoint = "http://127.0.0.1:1";  // nothing listens there: no request may be made
    const PullResult offline = pull_ref(kRepo);
    EXPECT_EQ(offline.path, online.path);
    EXPECT_EQ(offline.commit, online.commit);
    EXPECT_EQ(hub_->gets(kRepo, "model.safetensors"), 1);
    EXPECT_THAT(error_of([&] { pull_ref("slm-test/tiny@v2"); }), HasSubstr("HF_HUB_OFFLINE"));
}

TEST_F(HubTest, UnreachableHubFallsBackToTheCache) {
    const PullResult online = pull_ref(kRepo);
    hub_options_.endpoint = "http://127.0.0.1:1";
    hub_options_.retries = 0;
    EXPECT_EQ(pull_ref(kRepo).path, online.path);
    EXPECT_THAT(error_of([&] { pull_ref(kGgufRepo); }), HasSubstr("cannot reach the Hub"));
}

TEST_F(HubTest, TwoPullsOfOneRepositoryAtOnceDownloadOnce) {
    hub_->stall(kRepo, "model.safetensors", 200);  // keep the first pull busy while the second starts
    PullResult a, b;
    std::string error_a, error_b;
    std::thread first([&] { error_a = error_of([&] { a = pull_ref(kRepo); }); });
    std::thread second([&] { error_b = error_of([&] { b = pull_ref(kRepo); }); });
    first.join();
    second.join();
    EXPECT_EQ(error_a, "(no error)");
    EXPECT_EQ(error_b, "(no error)");
    EXPECT_EQ(a.path, b.path);
    EXPECT_EQ(hub_->gets(kRepo, "model.safetensors"), 1);
    EXPECT_EQ(a.downloaded_bytes + b.downloaded_bytes, a.downloaded_bytes ? a.downloaded_bytes : b.downloaded_bytes);
    EXPECT_EQ(slurp(a.path + "/model.safetensors"), weights_);
}

TEST_F(HubTest, SecondRevisionSharesBlobs) {
    pull_ref(kRepo);
    hub_->add_file(kRepo, "v2", "config.json", R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 128})");
    hub_->add_file(kRepo, "v2", "tokenizer.json", R"({"model": {"type": "BPE", "vocab": {}}})");
    hub_->add_file(kRepo, "v2", "model.safetensors", weights_);
    const PullResult v2 = pull_ref("slm-test/tiny@v2");
    EXPECT_EQ(v2.commit, hub_->commit(kRepo, "v2"));
    EXPECT_EQ(slurp(repo_dir() + "/refs/v2"), v2.commit);
    EXPECT_EQ(v2.downloaded_bytes, slurp(v2.path + "/config.json").size());  // only the new config
    EXPECT_EQ(hub_->gets(kRepo, "model.safetensors"), 1);
    const std::string main = repo_dir() + "/snapshots/" + hub_->commit(kRepo, "main");
    EXPECT_EQ(fs::canonical(v2.path + "/model.safetensors"), fs::canonical(main + "/model.safetensors"));
}

TEST_F(HubTest, QuantTagPicksTheGgufCaseInsensitively) {
    const PullResult q8 = pull_ref("slm-test/tiny-GGUF:q8_0");
    EXPECT_THAT(q8.files, ElementsAre("tiny-Q8_0.gguf"));
    EXPECT_EQ(q8.path, q8.snapshot_dir + "/tiny-Q8_0.gguf");
    EXPECT_EQ(slurp(q8.path), HubTest::bytes(500000, 5));
    const std::string missing = error_of([&] { pull_ref("slm-test/tiny-GGUF:Q5_K_S"); });
    EXPECT_THAT(missing, HasSubstr("no .gguf file for quantization 'Q5_K_S'"));
    EXPECT_THAT(missing, HasSubstr("tiny-IQ4_XS, tiny-Q4_K_M, tiny-Q8_0"));
    EXPECT_THAT(error_of([&] { pull_ref("slm-test/tiny:Q4_K_M"); }), HasSubstr("has no .gguf files"));
}

TEST_F(HubTest, NoQuantTagPicksQ4KMAndSaysSo) {
    const PullResult r = pull_ref(kGgufRepo);
    EXPECT_THAT(r.files, ElementsAre("tiny-Q4_K_M.gguf"));
    EXPECT_THAT(r.note, HasSubstr("chose tiny-Q4_K_M.gguf (Q4_K_M by default)"));
    EXPECT_THAT(r.note, HasSubstr("available: tiny-IQ4_XS, tiny-Q4_K_M, tiny-Q8_0"));
    EXPECT_EQ(resolve_cached(parse_model_ref(kGgufRepo), cache_dir()), r.path);
    EXPECT_EQ(resolve_cached(parse_model_ref("slm-test/tiny-GGUF:Q8_0"), cache_dir()), std::nullopt);
}

TEST_F(HubTest, IncludeAndExcludeGlobsChangeTheSelection) {
    pull_options_.include = {"*.bin", "onnx/"};
    pull_options_.exclude = {"*.safetensors", "generation_config.json"};
    const PullResult r = pull_ref(kRepo);
    EXPECT_THAT(r.files, ElementsAre("config.json", "onnx/model.onnx", "pytorch_model.bin", "tokenizer.json"));
    EXPECT_EQ(link_target(r.path + "/onnx/model.onnx").substr(0, 15), "../../../blobs/");
    EXPECT_EQ(hub_->gets(kRepo, "model.safetensors"), 0);
}

TEST_F(HubTest, UnwritableCacheIsStatedPlainly) {
    if (::geteuid() == 0) GTEST_SKIP() << "root writes through any permission";
    fs::create_directories(cache_dir());
    fs::permissions(cache_dir(), fs::perms::owner_read | fs::perms::owner_exec);
    const std::string message = error_of([&] { pull_ref(kRepo); });
    fs::permissions(cache_dir(), fs::perms::owner_all);
    EXPECT_THAT(message, HasSubstr("permission denied"));
    EXPECT_THAT(message, HasSubstr("HF_HUB_CACHE"));
}

}  // namespace
}  // namespace slm::test

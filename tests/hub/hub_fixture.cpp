// HubTest::SetUp: the fake Hub's repositories and options; file helpers.
#include "hub/hub_fixture.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace slm::test {

std::string HubTest::bytes(size_t n, uint32_t seed) {
    std::string s(n, '\0');
    uint32_t x = seed * 2654435761u + 1;
    for (auto& c : s) {
        x = x * 1664525u + 1013904223u;
        c = char(x >> 24);
    }
    return s;
}

void HubTest::SetUp() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = temp_dir() + "/" + info->test_suite_name() + "." + info->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    hub_ = std::make_unique<FakeHub>();
    hub_options_.cache_dir = dir_ + "/cache";
    hub_options_.endpoint = hub_->endpoint();
    hub_options_.token.clear();
    hub_options_.offline = false;
    hub_options_.timeout_s = 5;
    hub_options_.retries = 2;
    hub_options_.retry_delay_s = 0.01;
    pull_options_.progress = false;

    weights_ = bytes(4u << 20, 1);
    hub_->add_file(kRepo, "main", "config.json", R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64})");
    hub_->add_file(kRepo, "main", "generation_config.json", R"({"eos_token_id": 2})");
    hub_->add_file(kRepo, "main", "tokenizer.json", R"({"model": {"type": "BPE", "vocab": {}}})");
    hub_->add_file(kRepo, "main", "model.safetensors", weights_);
    hub_->add_file(kRepo, "main", "pytorch_model.bin", bytes(1000, 2));
    hub_->add_file(kRepo, "main", "README.md", "# tiny\n");
    hub_->add_file(kRepo, "main", "onnx/model.onnx", bytes(500, 3));

    hub_->add_file(kGgufRepo, "main", "tiny-Q4_K_M.gguf", bytes(300000, 4));
    hub_->add_file(kGgufRepo, "main", "tiny-Q8_0.gguf", bytes(500000, 5));
    hub_->add_file(kGgufRepo, "main", "tiny-IQ4_XS.gguf", bytes(200000, 6));
    hub_->add_file(kGgufRepo, "main", "mmproj-tiny-f16.gguf", bytes(1000, 7));
    hub_->add_file(kGgufRepo, "main", "README.md", "# tiny gguf\n");
}

std::string HubTest::repo_dir(const std::string& repo) const {
    std::string name = repo;
    name.replace(name.find('/'), 1, "--");
    return cache_dir() + "/models--" + name;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace slm::test

// Checkpoint directories (checkpoint.h): written whole or not at all.
#include "train/checkpoint.h"

#include "model/qk_row_order.h"

#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/safetensors.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace slm::train {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "checkpoint-";

void fsync_dir(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

}  // namespace

std::string save_checkpoint(const std::string& output_dir, const CheckpointWeights& weights,
                            const OptimizerMoments& moments, const TrainerState& state) {
    const std::string final_dir = (fs::path(output_dir) / (kPrefix + std::to_string(state.step))).string();
    const std::string partial = final_dir + ".partial";
    std::error_code ec;
    fs::remove_all(partial, ec);
    fs::create_directories(partial, ec);
    if (ec) fail("{}: cannot create the checkpoint directory: {}", partial, ec.message());

    SafetensorsWriter tensors;
    std::vector<std::vector<float>> reordered;  // tensors kept in llama.cpp's q/k row order, in HF's
    reordered.reserve(weights.tensors.size());
    for (const CheckpointTensor& t : weights.tensors) {
        const float* data = t.value;
        if (t.permuted_head_dim > 0)
            data = reordered.emplace_back(model::permute_head_rows(std::vector<float>(t.value, t.value + t.size),
                                                                   t.shape[0], t.shape[1], t.permuted_head_dim, false))
                       .data();
        tensors.add_tensor(t.name, DType::f32, t.shape, data);
    }
    tensors.write(partial + "/" + weights.weights_file);
    if (weights.write_side_files) weights.write_side_files(partial);
    SafetensorsWriter writer;
    for (size_t i = 0; i < moments.names.size(); ++i) {
        const auto n = int64_t((*moments.m)[i].size());
        writer.add_tensor("m." + moments.names[i], DType::f32, {n}, (*moments.m)[i].data());
        writer.add_tensor("v." + moments.names[i], DType::f32, {n}, (*moments.v)[i].data());
    }
    writer.write(partial + "/optimizer.safetensors");
    nlohmann::ordered_json j;
    j["step"] = state.step;
    j["epoch"] = state.epoch;
    j["batch_in_epoch"] = state.batch_in_epoch;
    j["fingerprint"] = state.fingerprint;
    j["history"] = state.history;
    j["eval_history"] = state.eval_history;
    write_file_atomic(partial + "/trainer_state.json", j.dump(1));
    fsync_dir(partial);

    // An older checkpoint of the same step (a resumed run passing it again) gives way first.
    fs::remove_all(final_dir, ec);
    fs::rename(partial, final_dir, ec);
    if (ec) fail("{}: cannot move the checkpoint into place: {}", final_dir, ec.message());
    fsync_dir(output_dir);
    return final_dir;
}

std::string latest_checkpoint(const std::string& output_dir) {
    std::error_code ec;
    int64_t best = -1;
    std::string path;
    for (const auto& entry : fs::directory_iterator(output_dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (!entry.is_directory() || !name.starts_with(kPrefix) || name.ends_with(".partial")) continue;
        const std::string digits = name.substr(std::string(kPrefix).size());
        if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
        const int64_t step = std::stoll(digits);
        if (step > best && file_exists(entry.path().string() + "/trainer_state.json")) {
            best = step;
            path = entry.path().string();
        }
    }
    return path;
}

void load_checkpoint(const std::string& path, const CheckpointWeights& weights, const OptimizerMoments& moments,
                     TrainerState& state) {
    std::string dir = path;
    if (!file_exists(dir + "/trainer_state.json")) {
        dir = latest_checkpoint(path);
        if (dir.empty()) fail("--resume {}: no checkpoint there (expected trainer_state.json or checkpoint-N/)", path);
    }
    const std::string weights_path = dir + "/" + weights.weights_file;
    const std::unique_ptr<SafetensorsFile> saved = SafetensorsFile::open(weights_path);
    for (const CheckpointTensor& t : weights.tensors) {
        const std::optional<Tensor> w = saved->find_tensor(t.name);
        if (!w || w->dtype != DType::f32 || w->numel() != t.size)
            fail("{}: tensor '{}' is missing or does not have {} f32 values (a checkpoint of another model or "
                 "adapter?)",
                 weights_path, t.name, t.size);
        std::memcpy(t.value, w->data, size_t(t.size) * sizeof(float));
        if (t.permuted_head_dim > 0) {
            const std::vector<float> rows = model::permute_head_rows(std::vector<float>(t.value, t.value + t.size),
                                                                     t.shape[0], t.shape[1], t.permuted_head_dim, true);
            std::copy(rows.begin(), rows.end(), t.value);
        }
    }
    const std::string state_path = dir + "/trainer_state.json";
    nlohmann::ordered_json j;
    try {
        j = nlohmann::ordered_json::parse(read_text_file(state_path));
        state.step = j.at("step").get<int64_t>();
        state.epoch = j.at("epoch").get<int>();
        state.batch_in_epoch = j.at("batch_in_epoch").get<int64_t>();
        state.fingerprint = j.at("fingerprint");
        state.history = j.at("history");
        state.eval_history = j.at("eval_history");
    } catch (const nlohmann::json::exception& e) {
        fail("{}: not a valid trainer state: {}", state_path, e.what());
    }
    const std::string opt_path = dir + "/optimizer.safetensors";
    const std::unique_ptr<SafetensorsFile> file = SafetensorsFile::open(opt_path);
    for (size_t i = 0; i < moments.names.size(); ++i)
        for (auto [prefix, dst] : {std::pair{"m.", moments.m}, std::pair{"v.", moments.v}}) {
            const std::string name = prefix + moments.names[i];
            const std::optional<Tensor> t = file->find_tensor(name);
            std::vector<float>& out = (*dst)[i];
            if (!t || t->dtype != DType::f32 || t->numel() != int64_t(out.size()))
                fail("{}: tensor '{}' is missing or does not have {} f32 values", opt_path, name, out.size());
            std::memcpy(out.data(), t->data, out.size() * sizeof(float));
        }
}

}  // namespace slm::train

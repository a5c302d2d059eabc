// slm train (slm/pretrain.h): a fresh model from a config, the tokenizer it is trained with, the
// shared loop over packed text, and the model directory written at the end.
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/pretrain.h>
#include <slm/thread_pool.h>
#include <slm/tokenizer.h>

#include "train/model_output.h"
#include "train/model_parameters.h"
#include "train/train_model.h"
#include "train/trainer.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace slm {

namespace {

namespace fs = std::filesystem;

nlohmann::ordered_json fingerprint(const PretrainOptions& o) {
    nlohmann::ordered_json j = {{"config", o.config}, {"tokenizer", o.tokenizer}, {"data", o.data}};
    j.update(train::loop_fingerprint(o));
    return j;
}

// The tokenizer of --tokenizer: a model directory's files, or a tokenizer.json.
std::unique_ptr<Tokenizer> open_tokenizer(const std::string& path) {
    if (fs::is_directory(path) && !fs::exists(fs::path(path) / "tokenizer.json"))
        fail("--tokenizer {}: no tokenizer.json in this directory", path);
    if (!fs::exists(path)) fail("--tokenizer {}: no such file or directory", path);
    return Tokenizer::from_model_path(path);
}

}  // namespace

TrainingSummary pretrain(const PretrainOptions& options) {
    if (options.config.empty()) fail("--config: no model config given");
    if (options.tokenizer.empty()) fail("--tokenizer: no tokenizer given");
    train::check_training_options(options);
    ThreadPool pool(options.threads);

    nlohmann::ordered_json config;
    try {
        config = nlohmann::ordered_json::parse(read_text_file(options.config));
    } catch (const nlohmann::json::exception& e) {
        fail("{}: not valid JSON: {}", options.config, e.what());
    }
    if (!config.is_object()) fail("{}: a model config is a JSON object", options.config);
    train::ModelParameters params = train::ModelParameters::initialize(config, options.config, options.seed);
    const std::unique_ptr<Tokenizer> tokenizer = open_tokenizer(options.tokenizer);
    if (tokenizer->vocab_size() > params.config().vocab_size)
        fail("{}: vocab_size is {} but the tokenizer {} has {} tokens; the embedding needs a row for each",
             options.config, params.config().vocab_size, options.tokenizer, tokenizer->vocab_size());
    // Pretraining data has no chat turns: messages lines are refused (no template).
    train::TrainingData data = train::load_training_data(options.data, *tokenizer, nullptr, options);
    train::TrainModel model(params);

    train::TrainerSetup setup;
    setup.model = &model;
    setup.train = &data.train;
    setup.eval = &data.eval;
    setup.options = options;
    setup.fingerprint = fingerprint(options);
    setup.verb = "train";
    setup.plot_title = fmt::format("slm train: {} ({} parameters)", options.config, params.count());
    setup.weights_file = "model.safetensors";
    setup.write_side_files = [&](const std::string& dir) {
        params.save_side_files(dir, DType::f32, options.tokenizer);
    };
    if (options.progress)
        fmt::print(stderr, "train: a {} model of {} parameters ({} layers, hidden {}), initialized with seed {}\n",
                   params.config().architecture, params.count(), params.config().num_layers,
                   params.config().hidden_size, options.seed);
    TrainingSummary summary = train::run_training(setup, pool);
    summary.gguf_path = train::save_model(params, options.output, train::save_dtype(options.save_dtype, params),
                                          options.tokenizer, options.gguf_type, pool);
    return summary;
}

}  // namespace slm

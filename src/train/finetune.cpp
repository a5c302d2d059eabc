// slm finetune (slm/finetune.h): the base and data loaded, the model to train made (LoRA adapters
// beside the frozen base, or every weight as f32 master weights with --full), then the shared
// loop (trainer.h), then the result written: a PEFT adapter, or an HF directory (and a GGUF).
#include <slm/chat_template.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/finetune.h>
#include <slm/model.h>
#include <slm/thread_pool.h>
#include <slm/tokenizer.h>

#include "train/dataset.h"
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

void check_options(const FinetuneOptions& o) {
    if (o.model.empty()) fail("no model given");
    if (o.data.empty()) fail("--data: no training data given");
    train::check_training_options(o);
    if (o.full) {
        if (o.qlora) fail("--full trains every weight in f32; --qlora holds a frozen base in NF4: give one of them");
    } else {
        train::check_lora_options(o.lora);
        if (!o.save_dtype.empty() || !o.gguf_type.empty())
            fail("--save-dtype and --gguf shape the model --full writes; a LoRA run writes a PEFT adapter (slm merge "
                 "makes a model of it)");
    }
}

// The options a resumed run must share with the run that wrote the checkpoint: anything that
// changes the data order, the model or the update rule.
nlohmann::ordered_json fingerprint(const FinetuneOptions& o) {
    nlohmann::ordered_json j = {{"model", o.model}, {"data", o.data}};
    if (o.full) j["full"] = true;
    else {
        j.update(train::lora_fingerprint(o.lora));
        j["qlora"] = o.qlora;
    }
    j.update(train::loop_fingerprint(o));
    return j;
}

}  // namespace

FinetuneSummary finetune(const FinetuneOptions& options) {
    check_options(options);
    ThreadPool pool(options.threads);

    // The model to train: adapters beside a frozen base, or all of a float model's weights.
    std::unique_ptr<Model> base;
    std::unique_ptr<train::ModelParameters> params;
    std::unique_ptr<train::TrainModel> model;
    std::vector<train::LinearRole> targets;
    if (options.full) {
        params = std::make_unique<train::ModelParameters>(train::ModelParameters::from_hf_directory(options.model, pool));
        model = std::make_unique<train::TrainModel>(*params);
    } else {
        targets = train::parse_targets(options.lora.targets);
        ModelOptions model_options;
        model_options.nf4_matrices = options.qlora;
        base = Model::load(options.model, model_options);
    }
    const std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_model_path(options.model);
    const ModelFiles* files = base ? &base->files() : nullptr;
    std::unique_ptr<ModelFiles> opened;
    if (!files) {
        opened = std::make_unique<ModelFiles>(ModelFiles::open(options.model));
        files = opened.get();
    }
    std::unique_ptr<ChatTemplate> chat;
    if (!files->chat_template.empty()) chat = std::make_unique<ChatTemplate>(ChatTemplate::from_model(*files));

    train::TrainingData data = train::load_training_data({options.data}, *tokenizer, chat.get(), options);

    LoraConfig lora;
    if (!options.full) {
        lora = train::lora_config(options.lora, options.model);
        model = std::make_unique<train::TrainModel>(*base, train::init_adapter(base->config(), targets, lora, options.seed));
        lora = model->adapter().config;  // with its target modules
    }

    train::TrainerSetup setup;
    setup.model = model.get();
    setup.train = &data.train;
    setup.eval = &data.eval;
    setup.options = options;
    setup.lora_dropout = options.full ? 0.0f : float(options.lora.dropout);
    setup.fingerprint = fingerprint(options);
    setup.verb = "finetune";
    setup.plot_title = fmt::format("slm finetune{}: {}", options.full ? " --full" : "", options.model);
    if (options.full) {
        // Checkpoints are model directories themselves (f32 master weights + config + tokenizer).
        setup.weights_file = "model.safetensors";
        setup.write_side_files = [&](const std::string& dir) {
            params->save_side_files(dir, DType::f32, options.model);
        };
    } else {
        setup.weights_file = "adapter_model.safetensors";
        setup.write_side_files = [&](const std::string& dir) {
            write_file_atomic(dir + "/adapter_config.json", lora_config_json(lora));
        };
    }
    if (options.progress && options.full)
        fmt::print(stderr, "finetune: every weight of {} trained ({} values, f32 master weights)\n", options.model,
                   params->count());
    TrainingSummary summary = train::run_training(setup, pool);

    if (options.full) {
        summary.gguf_path = train::save_model(*params, options.output, train::save_dtype(options.save_dtype, *params),
                                              options.model, options.gguf_type, pool);
    } else {
        model->adapter().save_peft(options.output);
    }
    return summary;
}

}  // namespace slm

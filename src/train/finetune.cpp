// The fine-tuning loop (slm/finetune.h): data → micro-batches → LoraModel forward/backward →
// clipped AdamW step on the schedule's learning rate, with evaluation, checkpoints, progress,
// JSON metrics and the loss-curve picture. Everything that decides the result is a function of
// the options and the seed (data order, initialisation, dropout masks), so a resumed run ends in
// the same adapter as one that never stopped.
#include <slm/chat_template.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/finetune.h>
#include <slm/model.h>
#include <slm/progress.h>
#include <slm/thread_pool.h>
#include <slm/tokenizer.h>

#include "train/checkpoint.h"
#include "train/dataset.h"
#include "train/lora_model.h"
#include "train/loss_plot.h"
#include "train/optimizer.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

namespace slm {

namespace {

using train::TrainBatch;

int64_t peak_rss_bytes() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return int64_t(usage.ru_maxrss) * 1024;
}

void check_options(const FinetuneOptions& o) {
    auto positive = [](auto v, const char* name) {
        if (!(v > 0)) fail("--{} must be positive (got {})", name, v);
    };
    if (o.model.empty()) fail("no model given");
    if (o.data.empty()) fail("--data: no training data given");
    if (o.output.empty()) fail("-o: no output directory given");
    positive(o.lora_r, "lora-r");
    positive(o.lora_alpha, "lora-alpha");
    positive(o.lr, "lr");
    positive(o.batch_size, "batch-size");
    positive(o.grad_accum, "grad-accum");
    positive(o.max_seq_len, "max-seq-len");
    if (o.max_steps <= 0) positive(o.epochs, "epochs");
    if (o.lora_dropout < 0 || o.lora_dropout >= 1) fail("--lora-dropout must be in [0, 1) (got {})", o.lora_dropout);
    if (o.eval_split < 0 || o.eval_split >= 1) fail("--eval-split must be in [0, 1) (got {})", o.eval_split);
    if (o.warmup < 0) fail("--warmup must not be negative (got {})", o.warmup);
    if (o.weight_decay < 0) fail("--weight-decay must not be negative (got {})", o.weight_decay);
    if (!o.eval_data.empty() && o.eval_split > 0) fail("give --eval-data or --eval-split, not both");
}

// The options a resumed run must share with the run that wrote the checkpoint: anything that
// changes the data order, the model or the update rule.
nlohmann::ordered_json fingerprint(const FinetuneOptions& o) {
    return {{"model", o.model}, {"data", o.data}, {"eval_data", o.eval_data}, {"eval_split", o.eval_split},
            {"lora_r", o.lora_r}, {"lora_alpha", o.lora_alpha}, {"lora_dropout", o.lora_dropout},
            {"use_rslora", o.use_rslora}, {"targets", o.targets}, {"qlora", o.qlora}, {"epochs", o.epochs},
            {"max_steps", o.max_steps}, {"lr", o.lr}, {"warmup", o.warmup}, {"schedule", o.schedule},
            {"weight_decay", o.weight_decay}, {"max_grad_norm", o.max_grad_norm}, {"batch_size", o.batch_size},
            {"grad_accum", o.grad_accum}, {"max_seq_len", o.max_seq_len}, {"packing", o.packing},
            {"seed", o.seed}};
}

// Mean loss over the eval examples, in micro-batches of batch_size rows (one example per row).
double evaluate(train::LoraModel& model, const train::Dataset& data, int64_t batch_size, int64_t max_seq_len,
                int64_t max_examples, ThreadPool* pool) {
    if (data.examples.empty()) return std::numeric_limits<double>::quiet_NaN();
    const train::EpochPlan plan = train::plan_epoch(data, batch_size, max_seq_len, false, 0, 0);
    double sum = 0;
    int64_t tokens = 0, seen = 0;
    for (const auto& rows : plan.batches) {
        const TrainBatch batch = train::make_batch(data, rows);
        const train::PassLoss loss = model.evaluate(batch, pool);
        sum += loss.sum;
        tokens += loss.tokens;
        seen += int64_t(rows.size());
        if (max_examples > 0 && seen >= max_examples) break;
    }
    return tokens ? sum / double(tokens) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

FinetuneSummary finetune(const FinetuneOptions& options) {
    check_options(options);
    const auto t_start = std::chrono::steady_clock::now();
    ThreadPool pool(options.threads);
    const train::Schedule schedule = train::parse_schedule(options.schedule);
    const std::vector<train::LinearRole> targets = train::parse_targets(options.targets);

    ModelOptions model_options;
    model_options.nf4_matrices = options.qlora;
    const std::unique_ptr<Model> model = Model::load(options.model, model_options);
    const std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_model_path(options.model);
    std::unique_ptr<ChatTemplate> chat;
    if (!model->files().chat_template.empty())
        chat = std::make_unique<ChatTemplate>(ChatTemplate::from_model(model->files()));

    train::DataOptions data_options;
    data_options.max_seq_len = options.max_seq_len;
    train::Dataset train_data = train::load_dataset(options.data, *tokenizer, chat.get(), data_options);
    train::Dataset eval_data;
    if (!options.eval_data.empty()) eval_data = train::load_dataset(options.eval_data, *tokenizer, chat.get(), data_options);
    else if (options.eval_split > 0)
        std::tie(train_data, eval_data) = train::split_dataset(std::move(train_data), options.eval_split, options.seed);
    if (train_data.examples.empty()) fail("{}: no training example", options.data);

    // Steps: micro-batches of an epoch's plan, grad_accum of them per optimizer step.
    const auto batches_per_epoch =
        int64_t(train::plan_epoch(train_data, options.batch_size, options.max_seq_len, options.packing, options.seed, 0)
                    .batches.size());
    const int64_t steps_per_epoch = (batches_per_epoch + options.grad_accum - 1) / options.grad_accum;
    const int64_t total_steps = options.max_steps > 0 ? options.max_steps : steps_per_epoch * options.epochs;
    const int64_t warmup = options.warmup >= 1 ? int64_t(options.warmup)
                                               : int64_t(std::ceil(options.warmup * double(total_steps)));

    LoraConfig lora;
    lora.r = options.lora_r;
    lora.lora_alpha = options.lora_alpha;
    lora.lora_dropout = options.lora_dropout;
    lora.use_rslora = options.use_rslora;
    lora.base_model_name_or_path = options.model;
    LoraAdapter adapter = train::init_adapter(model->config(), targets, lora, options.seed);

    std::error_code ec;
    std::filesystem::create_directories(options.output, ec);
    if (ec) fail("{}: cannot create the output directory: {}", options.output, ec.message());

    // A resumed run reads its adapter, moments and position from the checkpoint.
    train::TrainerState state;
    state.fingerprint = fingerprint(options);
    std::unique_ptr<train::LoraModel> lora_model = std::make_unique<train::LoraModel>(*model, adapter);
    std::vector<train::LoraModel::Parameter> params = lora_model->parameters();
    std::vector<train::ParamSlot> slots;
    std::vector<std::string> names;
    for (const auto& p : params) {
        slots.push_back({p.value, p.grad, p.size});
        names.push_back(p.name);
    }
    train::AdamWOptions adam;
    adam.weight_decay = options.weight_decay;
    auto optimizer = std::make_unique<train::AdamW>(slots, adam);
    if (!options.resume.empty()) {
        LoraAdapter saved;
        train::TrainerState loaded;
        train::load_checkpoint(options.resume, saved, {names, &optimizer->m(), &optimizer->v()}, loaded);
        if (loaded.fingerprint != state.fingerprint)
            fail("--resume {}: the checkpoint was made with other options ({}); resume with the same ones",
                 options.resume, loaded.fingerprint.dump());
        // Rebuild the model around the saved adapter, keeping the loaded moments.
        auto m = std::move(optimizer->m());
        auto v = std::move(optimizer->v());
        lora_model = std::make_unique<train::LoraModel>(*model, saved);
        params = lora_model->parameters();
        slots.clear();
        for (const auto& p : params) slots.push_back({p.value, p.grad, p.size});
        optimizer = std::make_unique<train::AdamW>(slots, adam);
        optimizer->m() = std::move(m);
        optimizer->v() = std::move(v);
        optimizer->set_steps(loaded.step);
        state = std::move(loaded);
    }

    FinetuneSummary summary;
    summary.adapter_dir = options.output;
    const int64_t eval_limit = options.eval_max_examples;
    auto run_eval = [&]() {
        return evaluate(*lora_model, eval_data, options.batch_size, options.max_seq_len, eval_limit, &pool);
    };
    if (state.step == 0 && !eval_data.examples.empty()) {
        const double loss = run_eval();
        state.eval_history.push_back({{"step", 0}, {"loss", loss}});
    }
    summary.eval_loss_before = state.eval_history.empty() ? std::numeric_limits<double>::quiet_NaN()
                                                          : state.eval_history.front()["loss"].get<double>();

    if (options.progress)
        fmt::print(stderr, "finetune: {} ({} examples, {}; {} target tokens{}), {} eval examples; {} steps of {}x{} "
                           "sequences; {} adapters, rank {}\n",
                   options.data, train_data.examples.size(), train_data.format, train_data.target_tokens(),
                   train_data.truncated ? fmt::format(", {} truncated", train_data.truncated) : "",
                   eval_data.examples.size(), total_steps, options.batch_size, options.grad_accum, params.size() / 2,
                   options.lora_r);
    Progress progress("finetune", uint64_t(total_steps), "steps", uint64_t(state.step));
    if (!options.progress) progress.finish();

    train::EpochPlan plan = train::plan_epoch(train_data, options.batch_size, options.max_seq_len, options.packing,
                                              options.seed, state.epoch);
    double train_seconds = 0;
    int64_t train_tokens = 0;
    while (state.step < total_steps) {
        const auto t0 = std::chrono::steady_clock::now();
        // The micro-batches of this step, in plan order across epoch boundaries.
        std::vector<TrainBatch> micro;
        while (int64_t(micro.size()) < options.grad_accum) {
            if (state.batch_in_epoch >= int64_t(plan.batches.size())) {
                // An epoch ends: with --max-steps the data wraps around into the next epoch;
                // otherwise the step ends short (the last, partial accumulation of the epoch).
                ++state.epoch;
                state.batch_in_epoch = 0;
                plan = train::plan_epoch(train_data, options.batch_size, options.max_seq_len, options.packing,
                                         options.seed, state.epoch);
                if (!micro.empty() && options.max_steps <= 0) break;
            }
            micro.push_back(train::make_batch(train_data, plan.batches[size_t(state.batch_in_epoch++)]));
        }
        size_t targets_in_step = 0;
        int64_t tokens_in_step = 0;
        for (const TrainBatch& b : micro) {
            targets_in_step += b.target_count();
            tokens_in_step += int64_t(b.tokens.size());
        }
        train::PassOptions pass;
        pass.grad_scale = targets_in_step ? 1.0f / float(targets_in_step) : 0.0f;
        pass.dropout = float(options.lora_dropout);
        pass.checkpointing = options.checkpointing;
        train::PassLoss step_loss;
        for (size_t i = 0; i < micro.size(); ++i) {
            pass.dropout_seed = options.seed * 0x9e3779b97f4a7c15ull + uint64_t(state.step) * 1024 + i;
            const train::PassLoss l = lora_model->forward_backward(micro[i], pass, &pool);
            step_loss.sum += l.sum;
            step_loss.tokens += l.tokens;
        }
        const double grad_norm = train::clip_grad_norm(slots, options.max_grad_norm);
        const double lr = train::learning_rate(schedule, options.lr, state.step, total_steps, warmup);
        optimizer->step(lr);
        lora_model->zero_grad();
        ++state.step;
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        train_seconds += seconds;
        train_tokens += tokens_in_step;

        nlohmann::ordered_json record = {{"step", state.step},
                                         {"epoch", double(state.epoch) + double(state.batch_in_epoch) /
                                                                              double(std::max<size_t>(1, plan.batches.size()))},
                                         {"loss", step_loss.mean()},
                                         {"lr", lr},
                                         {"grad_norm", grad_norm},
                                         {"tokens", tokens_in_step},
                                         {"target_tokens", step_loss.tokens},
                                         {"tokens_per_second", double(tokens_in_step) / seconds}};
        const bool epoch_end = state.batch_in_epoch >= int64_t(plan.batches.size());
        const bool last = state.step == total_steps;
        if (!eval_data.examples.empty() &&
            (last || (options.eval_every > 0 ? state.step % options.eval_every == 0 : epoch_end))) {
            const double loss = run_eval();
            record["eval_loss"] = loss;
            state.eval_history.push_back({{"step", state.step}, {"loss", loss}});
        }
        state.history.push_back(record);
        if (options.json) fmt::print("{}\n", record.dump());
        std::fflush(stdout);
        progress.set_status(fmt::format("loss {:.4f}{}  lr {:.2e}  {:.0f} tok/s", step_loss.mean(),
                                        record.contains("eval_loss")
                                            ? fmt::format("  eval {:.4f}", record["eval_loss"].get<double>())
                                            : "",
                                        lr, double(train_tokens) / train_seconds));
        progress.set(uint64_t(state.step));
        if (options.save_every > 0 && state.step % options.save_every == 0 && !last)
            train::save_checkpoint(options.output, lora_model->adapter(), {names, &optimizer->m(), &optimizer->v()},
                                   state);
    }
    progress.finish();

    // The adapter itself, then the final checkpoint (the state a finished run ended in: its
    // optimizer moments and metrics, for inspection or to resume a run that was cut short).
    const LoraAdapter trained = lora_model->adapter();
    trained.save_peft(options.output);
    train::save_checkpoint(options.output, trained, {names, &optimizer->m(), &optimizer->v()}, state);

    // Loss curves: the train loss per step and the eval loss where it was measured.
    std::vector<train::LossCurve> curves(2);
    curves[0].name = "train loss";
    curves[1].name = "eval loss";
    for (const auto& r : state.history) curves[0].points.emplace_back(r["step"].get<double>(), r["loss"].get<double>());
    for (const auto& r : state.eval_history)
        curves[1].points.emplace_back(r["step"].get<double>(), r["loss"].get<double>());
    summary.plot_path = options.output + "/loss.svg";
    train::write_loss_plot(summary.plot_path, curves, fmt::format("slm finetune: {}", options.model));

    summary.steps = state.step;
    const size_t n = state.history.size(), last_epoch = std::min<size_t>(n, size_t(std::max<int64_t>(1, steps_per_epoch)));
    double sum = 0;
    for (size_t i = n - last_epoch; i < n; ++i) sum += state.history[i]["loss"].get<double>();
    summary.train_loss = last_epoch ? sum / double(last_epoch) : 0;
    summary.eval_loss_after = state.eval_history.empty() ? std::numeric_limits<double>::quiet_NaN()
                                                         : state.eval_history.back()["loss"].get<double>();
    summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    summary.tokens_per_second = train_seconds > 0 ? double(train_tokens) / train_seconds : 0;
    summary.peak_rss_bytes = peak_rss_bytes();
    return summary;
}

}  // namespace slm

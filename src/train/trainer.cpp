// The shared training loop (trainer.h).
#include "train/trainer.h"

#include <slm/error.h>
#include <slm/progress.h>

#include "train/loss_plot.h"
#include "train/optimizer.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>

namespace slm::train {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

int64_t peak_rss_bytes() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return int64_t(usage.ru_maxrss) * 1024;
}

void check_training_options(const TrainingOptions& o) {
    auto positive = [](auto v, const char* name) {
        if (!(v > 0)) fail("--{} must be positive (got {})", name, v);
    };
    if (o.output.empty()) fail("-o: no output directory given");
    positive(o.lr, "lr");
    positive(o.batch_size, "batch-size");
    positive(o.grad_accum, "grad-accum");
    positive(o.max_seq_len, "max-seq-len");
    if (o.max_steps <= 0) positive(o.epochs, "epochs");
    if (o.eval_split < 0 || o.eval_split >= 1) fail("--eval-split must be in [0, 1) (got {})", o.eval_split);
    if (o.warmup < 0) fail("--warmup must not be negative (got {})", o.warmup);
    if (o.weight_decay < 0) fail("--weight-decay must not be negative (got {})", o.weight_decay);
    if (!o.eval_data.empty() && o.eval_split > 0) fail("give --eval-data or --eval-split, not both");
}

TrainingData load_training_data(const std::vector<std::string>& paths, const Tokenizer& tokenizer,
                                const ChatTemplate* chat, const TrainingOptions& options) {
    if (paths.empty()) fail("--data: no training data given");
    DataOptions data_options;
    data_options.max_seq_len = options.max_seq_len;
    TrainingData data;
    for (const std::string& path : paths) {
        Dataset part = load_dataset(path, tokenizer, chat, data_options);
        if (data.train.examples.empty() && data.train.path.empty()) {
            data.train = std::move(part);
            continue;
        }
        data.train.path += ", " + part.path;
        if (part.format != data.train.format && data.train.format.find(part.format) == std::string::npos)
            data.train.format += " + " + part.format;
        data.train.truncated += part.truncated;
        data.train.skipped += part.skipped;
        for (Example& e : part.examples) data.train.examples.push_back(std::move(e));
    }
    if (!options.eval_data.empty()) data.eval = load_dataset(options.eval_data, tokenizer, chat, data_options);
    else if (options.eval_split > 0)
        std::tie(data.train, data.eval) = split_dataset(std::move(data.train), options.eval_split, options.seed);
    if (data.train.examples.empty()) fail("{}: no training example", data.train.path);
    return data;
}

void check_lora_options(const LoraTrainingOptions& o) {
    if (!(o.r > 0)) fail("--lora-r must be positive (got {})", o.r);
    if (!(o.alpha > 0)) fail("--lora-alpha must be positive (got {})", o.alpha);
    if (o.dropout < 0 || o.dropout >= 1) fail("--lora-dropout must be in [0, 1) (got {})", o.dropout);
}

LoraConfig lora_config(const LoraTrainingOptions& o, const std::string& base) {
    LoraConfig c;
    c.r = o.r;
    c.lora_alpha = o.alpha;
    c.lora_dropout = o.dropout;
    c.use_rslora = o.use_rslora;
    c.base_model_name_or_path = base;
    return c;
}

nlohmann::ordered_json loop_fingerprint(const TrainingOptions& o) {
    return {{"eval_data", o.eval_data}, {"eval_split", o.eval_split}, {"epochs", o.epochs},
            {"max_steps", o.max_steps}, {"lr", o.lr}, {"warmup", o.warmup}, {"schedule", o.schedule},
            {"weight_decay", o.weight_decay}, {"max_grad_norm", o.max_grad_norm}, {"batch_size", o.batch_size},
            {"grad_accum", o.grad_accum}, {"max_seq_len", o.max_seq_len}, {"packing", o.packing}, {"seed", o.seed}};
}

nlohmann::ordered_json lora_fingerprint(const LoraTrainingOptions& o) {
    return {{"lora_r", o.r}, {"lora_alpha", o.alpha}, {"lora_dropout", o.dropout}, {"use_rslora", o.use_rslora},
            {"targets", o.targets}};
}

double evaluate_loss(TrainModel& model, const Dataset& data, int64_t batch_size, int64_t max_seq_len,
                     int64_t max_examples, ThreadPool* pool) {
    if (data.examples.empty()) return kNaN;
    const EpochPlan plan = plan_epoch(data, batch_size, max_seq_len, false, 0, 0);
    double sum = 0;
    int64_t tokens = 0, seen = 0;
    for (const auto& rows : plan.batches) {
        const TrainBatch batch = make_batch(data, rows);
        const PassLoss loss = model.evaluate(batch, pool);
        sum += loss.ce;
        tokens += loss.tokens;
        seen += int64_t(rows.size());
        if (max_examples > 0 && seen >= max_examples) break;
    }
    return tokens ? sum / double(tokens) : kNaN;
}

TrainingSummary run_training(const TrainerSetup& setup, ThreadPool& pool) {
    const TrainingOptions& options = setup.options;
    const auto t_start = std::chrono::steady_clock::now();
    TrainModel& model = *setup.model;
    const Dataset& train_data = *setup.train;
    const Dataset& eval_data = *setup.eval;
    const Schedule schedule = parse_schedule(options.schedule);
    if (train_data.examples.empty()) fail("{}: no training example", train_data.path);

    // Steps: micro-batches of an epoch's plan, grad_accum of them per optimizer step.
    const auto batches_per_epoch =
        int64_t(plan_epoch(train_data, options.batch_size, options.max_seq_len, options.packing, options.seed, 0)
                    .batches.size());
    const int64_t steps_per_epoch = (batches_per_epoch + options.grad_accum - 1) / options.grad_accum;
    const int64_t total_steps = options.max_steps > 0 ? options.max_steps : steps_per_epoch * options.epochs;
    const int64_t warmup = options.warmup >= 1 ? int64_t(options.warmup)
                                               : int64_t(std::ceil(options.warmup * double(total_steps)));

    std::error_code ec;
    std::filesystem::create_directories(options.output, ec);
    if (ec) fail("{}: cannot create the output directory: {}", options.output, ec.message());

    const std::vector<TrainModel::Parameter> params = model.parameters();
    std::vector<ParamSlot> slots;
    CheckpointWeights weights{{}, setup.weights_file, setup.write_side_files};
    std::vector<std::string> names;
    int64_t trained_values = 0;
    for (const auto& p : params) {
        slots.push_back({p.value, p.grad, p.size});
        names.push_back(p.name);
        weights.tensors.push_back({p.name, p.value, p.size, p.shape, p.permuted_head_dim});
        trained_values += p.size;
    }
    AdamWOptions adam;
    adam.lr = options.lr;
    adam.weight_decay = options.weight_decay;
    AdamW optimizer(slots, adam);
    const OptimizerMoments moments{names, &optimizer.m(), &optimizer.v()};

    // A resumed run reads its tensors, moments and position from the checkpoint.
    TrainerState state;
    state.fingerprint = setup.fingerprint;
    if (!options.resume.empty()) {
        TrainerState loaded;
        load_checkpoint(options.resume, weights, moments, loaded);
        if (loaded.fingerprint != state.fingerprint)
            fail("--resume {}: the checkpoint was made with other options ({}); resume with the same ones",
                 options.resume, loaded.fingerprint.dump());
        optimizer.set_steps(loaded.step);
        state = std::move(loaded);
    }

    TrainingSummary summary;
    summary.output_dir = options.output;
    summary.teacher_eval_loss = setup.teacher ? setup.teacher_eval_loss : kNaN;
    auto run_eval = [&]() {
        return evaluate_loss(model, eval_data, options.batch_size, options.max_seq_len, options.eval_max_examples,
                             &pool);
    };
    if (state.step == 0 && !eval_data.examples.empty()) state.eval_history.push_back({{"step", 0}, {"loss", run_eval()}});
    summary.eval_loss_before = state.eval_history.empty() ? kNaN : state.eval_history.front()["loss"].get<double>();

    if (options.progress)
        fmt::print(stderr, "{}: {} ({} examples, {}; {} target tokens{}), {} eval examples; {} steps of {}x{} "
                           "sequences; {} trained values in {} tensors\n",
                   setup.verb, train_data.path, train_data.examples.size(), train_data.format,
                   train_data.target_tokens(),
                   train_data.truncated ? fmt::format(", {} truncated", train_data.truncated) : "",
                   eval_data.examples.size(), total_steps, options.batch_size, options.grad_accum, trained_values,
                   params.size());
    std::optional<Progress> progress;
    if (options.progress) progress.emplace(setup.verb, uint64_t(total_steps), "steps", uint64_t(state.step));

    EpochPlan plan = plan_epoch(train_data, options.batch_size, options.max_seq_len, options.packing, options.seed,
                                state.epoch);
    double train_seconds = 0;
    int64_t train_tokens = 0;
    while (state.step < total_steps) {
        const auto t0 = std::chrono::steady_clock::now();
        // The micro-batches of this step, in plan order across epoch boundaries.
        std::vector<TrainBatch> micro;
        std::vector<std::vector<std::vector<size_t>>> micro_rows;
        while (int64_t(micro.size()) < options.grad_accum) {
            if (state.batch_in_epoch >= int64_t(plan.batches.size())) {
                // An epoch ends: with --max-steps the data wraps around into the next epoch;
                // otherwise the step ends short (the last, partial accumulation of the epoch).
                ++state.epoch;
                state.batch_in_epoch = 0;
                plan = plan_epoch(train_data, options.batch_size, options.max_seq_len, options.packing, options.seed,
                                  state.epoch);
                if (!micro.empty() && options.max_steps <= 0) break;
            }
            micro_rows.push_back(plan.batches[size_t(state.batch_in_epoch++)]);
            micro.push_back(make_batch(train_data, micro_rows.back()));
        }
        size_t targets_in_step = 0;
        int64_t tokens_in_step = 0;
        for (const TrainBatch& b : micro) {
            targets_in_step += b.target_count();
            tokens_in_step += int64_t(b.tokens.size());
        }
        PassOptions pass;
        pass.grad_scale = targets_in_step ? 1.0f / float(targets_in_step) : 0.0f;
        pass.dropout = setup.lora_dropout;
        pass.checkpointing = options.checkpointing;
        PassLoss step_loss;
        for (size_t i = 0; i < micro.size(); ++i) {
            pass.dropout_seed = options.seed * 0x9e3779b97f4a7c15ull + uint64_t(state.step) * 1024 + i;
            pass.teacher = setup.teacher ? setup.teacher(micro_rows[i], micro[i]) : nullptr;
            const PassLoss l = model.forward_backward(micro[i], pass, &pool);
            step_loss.sum += l.sum;
            step_loss.ce += l.ce;
            step_loss.kl += l.kl;
            step_loss.tokens += l.tokens;
        }
        const double grad_norm = clip_grad_norm(slots, options.max_grad_norm);
        const double lr = learning_rate(schedule, options.lr, state.step, total_steps, warmup);
        optimizer.step(lr);
        model.zero_grad();
        ++state.step;
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        train_seconds += seconds;
        train_tokens += tokens_in_step;

        const double n = double(std::max<int64_t>(1, step_loss.tokens));
        nlohmann::ordered_json record = {{"step", state.step},
                                         {"epoch", double(state.epoch) + double(state.batch_in_epoch) /
                                                                              double(std::max<size_t>(1, plan.batches.size()))},
                                         {"loss", step_loss.mean()}};
        if (setup.teacher) {
            record["ce"] = step_loss.ce / n;
            record["kl"] = step_loss.kl / n;
        }
        record["lr"] = lr;
        record["grad_norm"] = grad_norm;
        record["tokens"] = tokens_in_step;
        record["target_tokens"] = step_loss.tokens;
        record["tokens_per_second"] = double(tokens_in_step) / seconds;
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
        if (progress) progress->set_status(fmt::format("loss {:.4f}{}  lr {:.2e}  {:.0f} tok/s", step_loss.mean(),
                                        record.contains("eval_loss")
                                            ? fmt::format("  eval {:.4f}", record["eval_loss"].get<double>())
                                            : "",
                                        lr, double(train_tokens) / train_seconds));
        if (progress) progress->set(uint64_t(state.step));
        if (options.save_every > 0 && state.step % options.save_every == 0 && !last)
            save_checkpoint(options.output, weights, moments, state);
    }
    if (progress) progress->finish();
    // The final checkpoint: the state a finished run ended in (its optimizer moments and metrics,
    // for inspection or to resume a run that was cut short).
    save_checkpoint(options.output, weights, moments, state);

    // Loss curves: the train loss per step (and its two terms when distilling), the eval loss where
    // it was measured, and the teacher's eval loss as a level line.
    std::vector<LossCurve> curves;
    auto curve = [&](const char* name, const nlohmann::ordered_json& records, const char* key) {
        LossCurve c;
        c.name = name;
        for (const auto& r : records)
            if (r.contains(key)) c.points.emplace_back(r["step"].get<double>(), r[key].get<double>());
        if (!c.points.empty()) curves.push_back(std::move(c));
    };
    curve(setup.teacher ? "train loss (mix)" : "train loss", state.history, "loss");
    if (setup.teacher) {
        curve("student CE", state.history, "ce");
        curve("KL(teacher || student)", state.history, "kl");
    }
    curve(setup.teacher ? "student eval loss" : "eval loss", state.eval_history, "loss");
    if (setup.teacher && !std::isnan(setup.teacher_eval_loss) && !state.history.empty())
        curves.push_back({"teacher eval loss", {{0.0, setup.teacher_eval_loss}, {double(state.step), setup.teacher_eval_loss}}});
    summary.plot_path = options.output + "/loss.svg";
    write_loss_plot(summary.plot_path, curves, setup.plot_title);

    summary.steps = state.step;
    const size_t n = state.history.size(), last_epoch = std::min<size_t>(n, size_t(std::max<int64_t>(1, steps_per_epoch)));
    double sum = 0;
    for (size_t i = n - last_epoch; i < n; ++i) sum += state.history[i]["loss"].get<double>();
    summary.train_loss = last_epoch ? sum / double(last_epoch) : 0;
    summary.eval_loss_after = state.eval_history.empty() ? kNaN : state.eval_history.back()["loss"].get<double>();
    summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    summary.tokens_per_second = train_seconds > 0 ? double(train_tokens) / train_seconds : 0;
    summary.peak_rss_bytes = peak_rss_bytes();
    return summary;
}

}  // namespace slm::train

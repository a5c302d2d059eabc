// slm distill (slm/distill.h): teacher and student loaded and checked to share a tokenizer, the
// teacher's targets for each micro-batch computed in process or read from its top-k cache, the
// shared loop with the distillation loss, and the student written at the end.
#include <slm/chat_template.h>
#include <slm/distill.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/model.h>
#include <slm/progress.h>
#include <slm/thread_pool.h>
#include <slm/tokenizer.h>

#include "train/model_output.h"
#include "train/model_parameters.h"
#include "train/teacher_cache.h"
#include "train/train_model.h"
#include "train/trainer.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>

namespace slm {

namespace {

namespace fs = std::filesystem;

void check_options(const DistillOptions& o) {
    if (o.teacher.empty()) fail("--teacher: no teacher model given");
    if (o.data.empty()) fail("--data: no training data given");
    if (!(o.top_k > 0)) fail("--top-k must be positive (got {})", o.top_k);
    if (!o.cache_teacher.empty()) {
        if (!o.teacher_cache.empty()) fail("--cache-teacher writes a cache, --teacher-cache reads one: give one");
        return;  // only the teacher and the data matter
    }
    if (o.student.empty() == o.student_init.empty())
        fail("give the student: --student MODEL_DIR, or --student-init layers:I,J,… to make it from the teacher's "
             "layers");
    if (!(o.alpha >= 0 && o.alpha <= 1)) fail("--alpha must be in [0, 1] (got {})", o.alpha);
    if (!(o.temperature > 0 && std::isfinite(o.temperature)))
        fail("--temperature must be positive (got {})", o.temperature);
    train::check_training_options(o);
    if (o.lora) {
        if (!o.student_init.empty())
            fail("--lora trains an adapter on a given student; a student made by --student-init is trained fully");
        train::check_lora_options(o.lora_options);
    }
}

nlohmann::ordered_json fingerprint(const DistillOptions& o, const std::string& teacher_fingerprint) {
    nlohmann::ordered_json j = {{"teacher", teacher_fingerprint}, {"student", o.student},
                                {"student_init", o.student_init}, {"data", o.data}, {"alpha", o.alpha},
                                {"temperature", o.temperature}, {"teacher_cache", !o.teacher_cache.empty()}};
    if (o.lora) j.update(train::lora_fingerprint(o.lora_options));
    j.update(train::loop_fingerprint(o));
    return j;
}

// Teacher and student must give every text the same token ids: the same vocabulary, piece by piece.
void check_same_tokenizer(const Tokenizer& teacher, const std::string& teacher_path, const Tokenizer& student,
                          const std::string& student_path) {
    if (teacher.vocab_size() != student.vocab_size())
        fail("the student {} has a tokenizer of {} tokens and the teacher {} one of {}: distillation compares their "
             "predictions token by token, so they must share a tokenizer",
             student_path, student.vocab_size(), teacher_path, teacher.vocab_size());
    for (int32_t id = 0; id < teacher.vocab_size(); ++id)
        if (teacher.token_piece(id) != student.token_piece(id))
            fail("the tokenizers of the student {} and the teacher {} differ at token {} ('{}' against '{}'): "
                 "distillation needs one shared tokenizer",
                 student_path, teacher_path, id, student.token_piece(id), teacher.token_piece(id));
}

// Writes the teacher's top-k logits of every example of `data`, in order (--cache-teacher).
TrainingSummary write_cache(const DistillOptions& options, train::TrainModel& teacher, const ModelFiles& files,
                            const train::Dataset& data, ThreadPool& pool) {
    const auto t0 = std::chrono::steady_clock::now();
    train::TeacherCacheHeader header;
    header.teacher_fingerprint = train::model_fingerprint(files);
    header.teacher_path = options.teacher;
    header.vocab_size = teacher.config().vocab_size;
    header.k = std::min<int64_t>(options.top_k, header.vocab_size);
    header.examples = int64_t(data.examples.size());
    header.max_seq_len = options.max_seq_len;
    header.data_fingerprint = train::data_fingerprint(data);
    header.temperature = options.temperature;
    train::TeacherCacheWriter writer(options.cache_teacher, header);
    // Batches of consecutive examples, in file order (the order the cache stores them in).
    std::vector<std::vector<std::vector<size_t>>> batches;
    for (size_t e = 0; e < data.examples.size(); ++e) {
        if (e % size_t(options.batch_size) == 0) batches.emplace_back();
        batches.back().push_back({e});
    }
    std::optional<Progress> progress;
    if (options.progress) progress.emplace("cache-teacher", data.examples.size(), "examples");
    std::vector<float> logits;
    std::vector<int32_t> ids;
    std::vector<float> values;
    std::vector<float> lse;
    const int64_t V = header.vocab_size, k = header.k;
    int64_t rows_written = 0;
    for (const auto& rows : batches) {
        const train::TrainBatch batch = train::make_batch(data, rows);
        const int64_t n = teacher.target_logits(batch, logits, &pool);
        ids.resize(size_t(n * k));
        values.resize(size_t(n * k));
        lse.resize(size_t(n));
        for (int64_t r = 0; r < n; ++r) {
            train::top_k(logits.data() + r * V, V, k, ids.data() + r * k, values.data() + r * k);
            lse[size_t(r)] = float(train::log_sum_exp(logits.data() + r * V, V, float(options.temperature)));
        }
        // The batch's target rows in token order are its examples' rows one example after another.
        int64_t at = 0;
        for (const auto& row : rows)
            for (size_t e : row) {
                const train::Example& ex = data.examples[e];
                int64_t count = 0;
                for (size_t t = 1; t < ex.target.size(); ++t) count += ex.target[t] ? 1 : 0;
                writer.add(int64_t(e), count, ids.data() + at * k, values.data() + at * k, lse.data() + at);
                at += count;
            }
        if (at != n) fail("internal: {} teacher rows for {} target tokens", n, at);
        rows_written += n;
        if (progress) progress->advance(rows.size());
    }
    writer.finish();
    if (progress) progress->finish();
    TrainingSummary s;
    s.output_dir = options.cache_teacher;
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    s.steps = 0;
    s.train_loss = s.eval_loss_before = s.eval_loss_after = s.teacher_eval_loss =
        std::numeric_limits<double>::quiet_NaN();
    s.tokens_per_second = s.seconds > 0 ? double(rows_written) / s.seconds : 0;
    s.peak_rss_bytes = train::peak_rss_bytes();
    if (options.progress)
        fmt::print(stderr, "cache-teacher: {} rows of the top {} logits of {} written to {}\n", rows_written, k,
                   options.teacher, options.cache_teacher);
    return s;
}

}  // namespace

TrainingSummary distill(const DistillOptions& options) {
    check_options(options);
    ThreadPool pool(options.threads);

    std::unique_ptr<Model> teacher = Model::load(options.teacher);
    const std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_model_path(options.teacher);
    std::unique_ptr<ChatTemplate> chat;
    if (!teacher->files().chat_template.empty())
        chat = std::make_unique<ChatTemplate>(ChatTemplate::from_model(teacher->files()));
    auto teacher_model = std::make_unique<train::TrainModel>(*teacher);
    const std::string teacher_fingerprint = train::model_fingerprint(teacher->files());

    if (!options.cache_teacher.empty()) {
        train::DataOptions data_options;
        data_options.max_seq_len = options.max_seq_len;
        const train::Dataset data = train::load_dataset(options.data, *tokenizer, chat.get(), data_options);
        return write_cache(options, *teacher_model, teacher->files(), data, pool);
    }

    // The student: a given model (its tokenizer must be the teacher's), or layers of the teacher.
    const std::string student_files = options.student.empty() ? options.teacher : options.student;
    if (!options.student.empty()) {
        const std::unique_ptr<Tokenizer> student_tokenizer = Tokenizer::from_model_path(options.student);
        check_same_tokenizer(*tokenizer, options.teacher, *student_tokenizer, options.student);
    }
    std::unique_ptr<train::ModelParameters> params;
    std::unique_ptr<Model> student_base;
    std::unique_ptr<train::TrainModel> student;
    LoraConfig lora;
    if (options.lora) {
        student_base = Model::load(options.student);
        lora = train::lora_config(options.lora_options, options.student);
        const auto targets = train::parse_targets(options.lora_options.targets);
        student = std::make_unique<train::TrainModel>(
            *student_base, train::init_adapter(student_base->config(), targets, lora, options.seed));
        lora = student->adapter().config;
    } else {
        params = std::make_unique<train::ModelParameters>(
            options.student.empty()
                ? train::ModelParameters::from_teacher_layers(options.teacher,
                                                              train::parse_layer_list(options.student_init), pool)
                : train::ModelParameters::from_hf_directory(options.student, pool));
        student = std::make_unique<train::TrainModel>(*params);
    }
    const int64_t V_student = student->config().vocab_size, V_teacher = teacher->config().vocab_size;

    train::TrainingData data = train::load_training_data({options.data}, *tokenizer, chat.get(), options);
    const double teacher_eval_loss = train::evaluate_loss(*teacher_model, data.eval, options.batch_size,
                                                          options.max_seq_len, options.eval_max_examples, &pool);

    // The teacher's targets of a micro-batch: its logits computed now (dense, over the ids both
    // vocabularies have), or its cached top k gathered example by example.
    std::optional<train::TeacherCache> cache;
    if (!options.teacher_cache.empty()) {
        cache = train::TeacherCache::open(options.teacher_cache);
        train::TeacherCacheHeader expected;
        expected.teacher_fingerprint = teacher_fingerprint;
        expected.teacher_path = options.teacher;
        expected.vocab_size = V_teacher;
        expected.examples = int64_t(data.train.examples.size());
        expected.max_seq_len = options.max_seq_len;
        expected.data_fingerprint = train::data_fingerprint(data.train);
        expected.temperature = options.temperature;
        if (options.eval_split > 0)
            fail("--teacher-cache holds the logits of the whole --data file; hold out with --eval-data, not "
                 "--eval-split");
        train::check_teacher_cache(*cache, options.teacher_cache, expected);
        if (cache->header().vocab_size > V_student)
            fail("{}: the cache's vocabulary ({}) is larger than the student's ({})", options.teacher_cache,
                 cache->header().vocab_size, V_student);
        // The teacher itself is no longer needed.
        teacher_model.reset();
        teacher.reset();
    }
    std::vector<float> teacher_logits;
    std::vector<int32_t> teacher_ids;
    std::vector<float> teacher_lse;
    train::TeacherTargets targets;
    targets.alpha = float(options.alpha);
    targets.temperature = float(options.temperature);
    auto teacher_for = [&](const std::vector<std::vector<size_t>>& rows,
                           const train::TrainBatch& batch) -> const train::TeacherTargets* {
        if (cache) {
            const int64_t k = cache->header().k;
            teacher_ids.clear();
            teacher_logits.clear();
            teacher_lse.clear();
            for (const auto& row : rows)
                for (size_t e : row) {
                    const train::TeacherCache::Rows r = cache->rows(int64_t(e));
                    teacher_ids.insert(teacher_ids.end(), r.ids, r.ids + r.count * k);
                    teacher_logits.insert(teacher_logits.end(), r.logits, r.logits + r.count * k);
                    teacher_lse.insert(teacher_lse.end(), r.lse, r.lse + r.count);
                }
            if (int64_t(teacher_ids.size()) != int64_t(batch.target_count()) * k)
                fail("{}: the cache holds {} rows for a batch of {} target tokens (made from other data?)",
                     options.teacher_cache, int64_t(teacher_ids.size()) / k, batch.target_count());
            targets.logits = {teacher_logits.data(), teacher_ids.data(), k, k, teacher_lse.data()};
        } else {
            teacher_model->target_logits(batch, teacher_logits, &pool);
            targets.logits = {teacher_logits.data(), nullptr, std::min(V_teacher, V_student), V_teacher};
        }
        return &targets;
    };

    train::TrainerSetup setup;
    setup.model = student.get();
    setup.train = &data.train;
    setup.eval = &data.eval;
    setup.options = options;
    setup.lora_dropout = options.lora ? float(options.lora_options.dropout) : 0.0f;
    setup.fingerprint = fingerprint(options, teacher_fingerprint);
    setup.verb = "distill";
    setup.plot_title = fmt::format("slm distill: {} -> {}", options.teacher,
                                   options.student.empty() ? options.student_init : options.student);
    if (params) {
        setup.weights_file = "model.safetensors";
        setup.write_side_files = [&](const std::string& dir) { params->save_side_files(dir, DType::f32, student_files); };
    } else {
        setup.weights_file = "adapter_model.safetensors";
        setup.write_side_files = [&](const std::string& dir) {
            write_file_atomic(dir + "/adapter_config.json", lora_config_json(lora));
        };
    }
    setup.teacher = teacher_for;
    setup.teacher_eval_loss = teacher_eval_loss;
    if (options.progress)
        fmt::print(stderr, "distill: teacher {} ({}), student {} ({}), alpha {}, temperature {}\n", options.teacher,
                   cache ? fmt::format("top {} logits from {}", cache->header().k, options.teacher_cache)
                         : std::string("run in process"),
                   options.student.empty() ? "made of the teacher's " + options.student_init : options.student,
                   options.lora ? "LoRA" : "every weight", options.alpha, options.temperature);
    TrainingSummary summary = train::run_training(setup, pool);
    if (params)
        summary.gguf_path = train::save_model(*params, options.output, train::save_dtype(options.save_dtype, *params),
                                              student_files, options.gguf_type, pool);
    else
        student->adapter().save_peft(options.output);
    return summary;
}

}  // namespace slm

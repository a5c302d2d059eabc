// `slm bench MODEL [-p 512] [-n 128] [-t THREADS] [-r REPS] [--json]`: prompt processing (ppN)
// and generation (tgN) throughput in tokens/s, as llama-bench measures them (random tokens from
// an empty cache, a warm-up run first, mean and standard deviation over repetitions), printed
// as llama-bench's table or as a JSON list with its field names, so the two compare directly.
// Also reports time to first token (prompt of N tokens to its logits) and peak resident memory.
#include <CLI/CLI.hpp>
#include <slm/error.h>
#include <slm/model.h>
#include <slm/session.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <sys/resource.h>
#include <thread>

#include "device_option.h"
#include "lora_option.h"
#include "model_arg.h"

namespace {

using namespace slm;
using Clock = std::chrono::steady_clock;

struct BenchOptions {
    std::string model, device = "auto";
    int gpu_layers = -1;
    std::vector<int> n_prompt{512}, n_gen{128}, threads;
    std::vector<std::string> lora;
    int reps = 5;
    bool json = false, mlock = false, file_layout = false;
};

struct ModelStats {
    std::string description;  // "llama 1.1B Q4_0"
    std::string type;         // the dtype holding most weight bytes, as llama-bench's model_type
    int64_t bytes = 0, params = 0;
    // Weight bytes one decoded token reads: all of them but an untied embedding table, of which
    // one row is read (the yardstick for decode's share of memory bandwidth).
    int64_t bytes_per_token = 0;
};

bool is_embedding_table(const std::string& name) { return name == "token_embd.weight" || name == "model.embed_tokens.weight"; }
bool is_output_matrix(const std::string& name) { return name == "output.weight" || name == "lm_head.weight"; }

ModelStats model_stats(const Model& model) {
    ModelStats s;
    std::map<DType, int64_t> bytes_by_type;
    const std::vector<std::string> names = model.files().tensors->tensor_names();
    const bool tied = std::none_of(names.begin(), names.end(), is_output_matrix);
    for (const std::string& name : names) {
        const auto t = model.files().tensors->find_tensor(name);
        if (!t) continue;
        s.bytes += int64_t(t->nbytes());
        if (tied || !is_embedding_table(name)) s.bytes_per_token += int64_t(t->nbytes());
        s.params += t->numel();
        bytes_by_type[t->dtype] += int64_t(t->nbytes());
    }
    DType main_type = DType::f32;
    int64_t most = -1;
    for (auto [type, bytes] : bytes_by_type)
        if (bytes > most) most = bytes, main_type = type;
    s.type = std::string(name(main_type));
    std::transform(s.type.begin(), s.type.end(), s.type.begin(), [](unsigned char c) { return char(std::toupper(c)); });
    const double p = double(s.params);
    const std::string size = p >= 1e9 ? fmt::format("{:.1f}B", p / 1e9) : fmt::format("{:.0f}M", p / 1e6);
    s.description = fmt::format("{} {} {}", model.config().architecture, size, s.type);
    return s;
}

struct Result {
    int n_prompt = 0, n_gen = 0, threads = 0;
    std::vector<double> seconds;  // one per repetition
};

double mean(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / double(v.size()); }
double stddev(const std::vector<double>& v) {
    if (v.size() < 2) return 0;
    const double m = mean(v);
    double ss = 0;
    for (double x : v) ss += (x - m) * (x - m);
    return std::sqrt(ss / double(v.size() - 1));
}
std::vector<double> tokens_per_second(const Result& r) {
    std::vector<double> ts;
    for (double s : r.seconds) ts.push_back(double(r.n_prompt + r.n_gen) / s);
    return ts;
}

std::vector<int32_t> random_tokens(int n, int vocab, std::mt19937& rng) {
    std::uniform_int_distribution<int32_t> dist(0, vocab - 1);
    std::vector<int32_t> t(static_cast<size_t>(n));
    for (auto& x : t) x = dist(rng);
    return t;
}

// One timed run: a prompt of n_prompt tokens, or n_gen single-token decodes, from an empty cache.
double timed_run(Session& session, int n_prompt, int n_gen, int vocab, std::mt19937& rng) {
    session.clear();
    const std::vector<int32_t> tokens = random_tokens(std::max(n_prompt, n_gen), vocab, rng);
    const auto t0 = Clock::now();
    if (n_prompt > 0) session.prompt(std::span<const int32_t>(tokens.data(), size_t(n_prompt)));
    for (int i = 0; i < n_gen; ++i) session.decode(tokens[size_t(i)]);
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

int64_t peak_rss_bytes() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return int64_t(usage.ru_maxrss) * 1024;
}

void print_table(const ModelStats& stats, const std::vector<Result>& results, const std::string& backend) {
    fmt::print("| {:<30} | {:>10} | {:>10} | {:<7} | {:>7} | {:>13} | {:>20} |\n", "model", "size", "params", "backend",
               "threads", "test", "t/s");
    fmt::print("| {:-<30} | {:->10} | {:->10} | {:-<7} | {:->7} | {:->13} | {:->20} |\n", "", ":", ":", "", ":", ":", ":");
    for (const Result& r : results) {
        const std::vector<double> ts = tokens_per_second(r);
        const std::string test = r.n_prompt > 0 ? fmt::format("pp{}", r.n_prompt) : fmt::format("tg{}", r.n_gen);
        fmt::print("| {:<30} | {:>6.2f} MiB | {:>8.2f} B | {:<7} | {:>7} | {:>13} | {:>20} |\n", stats.description,
                   double(stats.bytes) / (1024.0 * 1024.0), double(stats.params) / 1e9, backend, r.threads, test,
                   fmt::format("{:.2f} ± {:.2f}", mean(ts), stddev(ts)));
    }
}

void bench(const BenchOptions& o) {
    ModelOptions load_options = cli::model_options_for(o.device, o.gpu_layers);
    load_options.cpu_layouts = !o.file_layout;
    const std::unique_ptr<Model> model = Model::load(o.model, load_options);
    if (o.mlock && mlockall(MCL_CURRENT) != 0) fmt::print(stderr, "slm bench: --mlock: the system refused to lock memory\n");
    const ModelStats stats = model_stats(*model);
    // CUDA:N: the first N layers on the GPU, the rest on the CPU (--gpu-layers).
    const int gpu_layers = model->gpu_layers();
    const std::string backend = gpu_layers == 0                          ? std::string("CPU")
                                : gpu_layers == model->config().num_layers ? std::string("CUDA")
                                                                           : fmt::format("CUDA:{}", gpu_layers);
    const LoraStack adapters = cli::load_lora_option(*model, o.lora);
    const int vocab = model->vocab_size();
    const int max_prompt = *std::max_element(o.n_prompt.begin(), o.n_prompt.end());
    const int max_gen = *std::max_element(o.n_gen.begin(), o.n_gen.end());
    std::vector<int> thread_counts = o.threads;
    if (thread_counts.empty()) thread_counts.push_back(int(std::max(1u, std::thread::hardware_concurrency())));

    std::vector<Result> results;
    double ttft_seconds = 0;
    std::mt19937 rng(1234);
    for (int threads : thread_counts) {
        SessionOptions so;
        so.n_ctx = std::max(max_prompt, max_gen) + 16;
        so.n_batch = std::max(1, max_prompt);
        so.threads = threads;
        so.adapters = adapters;
        Session session(*model, so);
        auto run_test = [&](int n_prompt, int n_gen) {
            timed_run(session, n_prompt, n_gen > 0 ? 1 : 0, vocab, rng);  // warm-up
            Result r{n_prompt, n_gen, threads, {}};
            for (int i = 0; i < o.reps; ++i) r.seconds.push_back(timed_run(session, n_prompt, n_gen, vocab, rng));
            results.push_back(r);
        };
        for (int p : o.n_prompt)
            if (p > 0) run_test(p, 0);
        for (int n : o.n_gen)
            if (n > 0) run_test(0, n);
        for (const Result& r : results)
            if (r.n_prompt > 0 && r.threads == threads && ttft_seconds == 0) ttft_seconds = mean(r.seconds);
    }

    if (o.json) {
        nlohmann::json list = nlohmann::json::array();
        for (const Result& r : results) {
            const std::vector<double> ts = tokens_per_second(r);
            std::vector<int64_t> ns;
            for (double s : r.seconds) ns.push_back(int64_t(s * 1e9));
            list.push_back({{"model_filename", o.model}, {"model_type", stats.description}, {"model_size", stats.bytes},
                            {"model_n_params", stats.params}, {"backend", backend}, {"n_gpu_layers", gpu_layers}, {"n_threads", r.threads},
                            {"n_prompt", r.n_prompt}, {"n_gen", r.n_gen}, {"avg_ns", int64_t(mean(r.seconds) * 1e9)},
                            {"stddev_ns", int64_t(stddev(r.seconds) * 1e9)}, {"avg_ts", mean(ts)}, {"stddev_ts", stddev(ts)},
                            {"samples_ns", ns}, {"samples_ts", ts}, {"ttft_ms", ttft_seconds * 1e3},
                            {"peak_rss_bytes", peak_rss_bytes()},
                            {"weight_bytes_per_token", stats.bytes_per_token}});
        }
        fmt::print("{}\n", list.dump(2));
        return;
    }
    print_table(stats, results, backend);
    fmt::print("\ntime to first token ({} prompt tokens): {:.1f} ms; peak resident memory: {:.1f} MiB\n", max_prompt,
               ttft_seconds * 1e3, double(peak_rss_bytes()) / (1024.0 * 1024.0));
}

}  // namespace

void add_verb_bench(CLI::App& app) {
    auto o = std::make_shared<BenchOptions>();
    CLI::App* cmd = app.add_subcommand("bench", "Measure prompt processing and generation speed (llama-bench compatible)");
    auto models = std::make_shared<cli::ModelArgs>(cmd);
    models->add("model", o->model, "Model: an HF directory or a .gguf file")->required();
    cmd->add_option("-p,--n-prompt", o->n_prompt, "Prompt tokens per pp test (repeatable; 0: none)")->delimiter(',')->capture_default_str();
    cmd->add_option("-n,--n-gen", o->n_gen, "Generated tokens per tg test (repeatable; 0: none)")->delimiter(',')->capture_default_str();
    cmd->add_option("-t,--threads", o->threads, "Threads (repeatable; default: one per CPU)")->delimiter(',');
    cmd->add_option("-r,--repetitions", o->reps, "Timed repetitions per test")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_flag("--json", o->json, "Print a JSON list with llama-bench's field names");
    cli::add_lora_option(cmd, o->lora);
    cli::add_device_option(cmd, o->device, o->gpu_layers);
    cmd->add_flag("--mlock", o->mlock, "Lock the model's memory (no paging out)");
    cmd->add_flag("--file-layout", o->file_layout,
                  "Keep every weight in the file's layout (no interleaved copies of quantized matrices; for comparisons)");
    cmd->callback([o, models] {
        models->resolve();
        bench(*o);
    });
}

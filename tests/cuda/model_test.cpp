// The forward on the GPU against the CPU's, on the real models of ../shared/models (q8_0 GGUF and
// bf16 HF directory): logits close, greedy tokens equal except at near-ties, batches of several
// sequences, prompts longer than one matvec slice; and a model the GPU cannot read refused clearly.
#include <slm/error.h>
#include <slm/eval/perplexity.h>
#include <slm/file_io.h>
#include <slm/generator.h>
#include <slm/kernels.h>
#include <slm/model.h>
#include <slm/session.h>
#include <slm/tokenizer.h>

#include "cuda/cuda_testing.h"
#include "testing/testing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <vector>

namespace slm {
namespace {

namespace fs = std::filesystem;

// Every model of ../shared/models in both of its forms.
std::vector<std::string> shared_models(const std::string& shared) {
    std::vector<std::string> paths;
    for (const auto& dir : fs::directory_iterator(fs::path(shared) / "models")) {
        if (!dir.is_directory()) continue;
        for (const auto& f : fs::directory_iterator(dir.path()))
            if (f.path().extension() == ".gguf") paths.push_back(f.path().string());
        if (fs::exists(dir.path() / "model.safetensors")) paths.push_back(dir.path().string());
    }
    std::sort(paths.begin(), paths.end());
    return paths;
}

// gpu_layers: ModelOptions::gpu_layers (-1: all).
std::unique_ptr<Model> load_on(const std::string& path, Device device, int gpu_layers = -1) {
    ModelOptions options;
    options.device = device;
    options.gpu_layers = gpu_layers;
    return Model::load(path, options);
}

// sqrt(sum (a - b)^2 / sum b^2)
double relative_rms(std::span<const float> a, std::span<const float> b) {
    double num = 0, den = 0;
    for (size_t i = 0; i < b.size(); ++i) {
        num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        den += double(b[i]) * b[i];
    }
    return std::sqrt(num / std::max(den, 1e-30));
}

double max_abs_diff(std::span<const float> a, std::span<const float> b) {
    double m = 0;
    for (size_t i = 0; i < b.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
    return m;
}

int32_t argmax(std::span<const float> v) { return int32_t(std::max_element(v.begin(), v.end()) - v.begin()); }

// The gap between the largest logit and the runner-up.
double top2_margin(std::span<const float> v) {
    std::vector<float> s(v.begin(), v.end());
    std::partial_sort(s.begin(), s.begin() + 2, s.end(), std::greater<float>());
    return double(s[0]) - s[1];
}

// The CPU reads these models' q8_0 matrices with 8-bit activations; the GPU too for up to 15
// tokens (rounded differently), and with f16 activations on the tensor cores for longer prompts.
// Measured on the H200 (docs/cuda.md): up to 0.012 relative for matvec rows, 0.024 after a
// 40-token GEMM prompt of the 13M Llama, 0.045 at step 16 of the 11M Qwen2's first prompt (a
// stretch its earlier runs never reached: they stopped at a near-tie at step 14). Perplexity
// (below) bounds the effect on what matters.
constexpr double kLogitRelativeRms = 6e-2;

const char* kPrompts[] = {
    "Once upon a time",
    "The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog again, and "
    "then it ran into the forest where the old owl lived in a hollow tree by the river.",
};

struct GreedyRun {
    int steps = 0, near_ties = 0;
};

// Greedy decoding of kPrompts by both models side by side, the CPU's tokens fed to both: the
// logits within kLogitRelativeRms at every step, the same argmax except at a near-tie (then that
// prompt stops: the continuations differ from there on).
GreedyRun compare_greedy(const Model& cpu, const Model& gpu, const std::string& path) {
    GreedyRun run;
    const auto tokenizer = Tokenizer::from_model_path(path);
    for (const char* text : kPrompts) {
        const std::vector<int32_t> ids = tokenizer->encode(text, true, false);
        SessionOptions so;
        so.n_ctx = 256;
        Session cs(cpu, so), gs(gpu, so);
        const std::span<const float> first_c = cs.prompt(ids), first_g = gs.prompt(ids);
        std::vector<float> lc(first_c.begin(), first_c.end()), lg(first_g.begin(), first_g.end());
        double worst = 0;
        int worst_step = 0;
        for (int step = 0; step < 48; ++step, ++run.steps) {
            const double err = relative_rms(lg, lc);
            if (err > worst) worst = err, worst_step = step;
            if (err >= kLogitRelativeRms)
                fprintf(stderr, "step %d: relative rms %.4f, max abs %.4f\n", step, err, max_abs_diff(lg, lc));
            EXPECT_LT(err, kLogitRelativeRms) << "step " << step << " of '" << text << "'";
            if (err >= kLogitRelativeRms) return run;
            const int32_t tc = argmax(lc), tg = argmax(lg);
            if (tc != tg) {
                // A flip needs the two logits to move by the CPU's margin between them.
                const double margin = top2_margin(lc);
                EXPECT_LE(margin, 2 * max_abs_diff(lg, lc)) << "step " << step;
                fprintf(stderr, "near-tie at step %d of %s: cpu %d, gpu %d, cpu margin %.4f\n", step, path.c_str(), tc,
                        tg, margin);
                ++run.near_ties;
                break;  // the continuations differ from here on
            }
            const auto next_c = cs.decode(tc);
            lc.assign(next_c.begin(), next_c.end());
            const auto next_g = gs.decode(tc);
            lg.assign(next_g.begin(), next_g.end());
        }
        fprintf(stderr, "%s, '%.20s...': largest logit error %.4f (step %d)\n", path.c_str(), text, worst, worst_step);
    }
    return run;
}

TEST(CudaModel, GreedyTokensAndLogitsMatchTheCpu) {
    SLM_REQUIRE_CUDA();
    SLM_REQUIRE_SHARED(shared);
    int near_ties = 0, steps = 0;
    for (const std::string& path : shared_models(shared)) {
        SCOPED_TRACE(path);
        const auto cpu = load_on(path, Device::cpu);
        const auto gpu = load_on(path, Device::cuda);
        ASSERT_EQ(gpu->device(), Device::cuda);
        const GreedyRun run = compare_greedy(*cpu, *gpu, path);
        steps += run.steps;
        near_ties += run.near_ties;
    }
    fprintf(stderr, "greedy: %d steps compared, %d ended at a near-tie\n", steps, near_ties);
    // These small models' next-token distributions are flat (margins of 0.02-0.1 logits at the
    // ties seen on the H200): a sequence may end at a tie, but most steps must be compared.
    EXPECT_GE(steps, 16 * int(shared_models(shared).size()));
}

// Sequence 1 takes 5 positions of sequence 0 (copy_prefix) and runs the sixth token itself: the
// relative difference of its logits from sequence 0's own sixth (0 for a faithful copy).
double prefix_copy_error(const Model& m, KvCache& cache) {
    Batch b;
    for (int i = 0; i < 6; ++i) b.add(10 + i, i, 0, i == 5);
    std::vector<float> direct, copied;
    m.forward(b, cache, direct, nullptr);
    cache.copy_prefix(0, 1, 5);
    Batch last;
    last.add(15, 5, 1, true);
    m.forward(last, cache, copied, nullptr);
    return relative_rms(copied, direct);
}

// Sequence 0: a 20-token prompt with every row's logits (three matvec slices); sequence 1: 5
// tokens; then one decode step of both in one batch, as the server's scheduler runs; with f16
// and f32 caches laid out as each model runs.
void expect_batches_match(const Model& cpu, const Model& gpu) {
    Batch prompt;
    for (int i = 0; i < 20; ++i) prompt.add(int32_t(5 + 7 * i) % cpu.vocab_size(), i, 0, true);
    for (int i = 0; i < 5; ++i) prompt.add(int32_t(11 + 3 * i) % cpu.vocab_size(), i, 1, i == 4);
    Batch step;
    step.add(42, 20, 0, true);
    step.add(43, 5, 1, true);
    for (const DType kv : {DType::f16, DType::f32}) {
        KvCache cc(cpu, 64, 2, kv), gc(gpu, 64, 2, kv);
        std::vector<float> lc, lg;
        for (const Batch* b : {&prompt, &step}) {
            cpu.forward(*b, cc, lc, nullptr);
            gpu.forward(*b, gc, lg, nullptr);
            ASSERT_EQ(lg.size(), lc.size());
            const size_t V = size_t(cpu.vocab_size());
            for (size_t r = 0; r < lc.size() / V; ++r) {
                const std::span<const float> rc(lc.data() + r * V, V), rg(lg.data() + r * V, V);
                EXPECT_LT(relative_rms(rg, rc), kLogitRelativeRms) << "row " << r << " kv " << name(kv);
            }
        }
        EXPECT_EQ(gc.length(0), 21);
        EXPECT_EQ(gc.length(1), 6);
    }
}

TEST(CudaModel, BatchesOfSeveralSequencesMatchTheCpu) {
    SLM_REQUIRE_CUDA();
    SLM_REQUIRE_SHARED(shared);
    for (const std::string& path : shared_models(shared)) {
        SCOPED_TRACE(path);
        expect_batches_match(*load_on(path, Device::cpu), *load_on(path, Device::cuda));
    }
}

// --gpu-layers: the first N layers on the GPU, the rest and the head on the CPU (N = 1, half, all
// but one): the same answers as the CPU alone, on prompts, batches and greedy decode steps (the
// GPU's part replayed as a graph), with each layer's cache where its layer runs.
TEST(CudaModel, LayersSplitBetweenGpuAndCpuMatchTheCpu) {
    SLM_REQUIRE_CUDA();
    SLM_REQUIRE_SHARED(shared);
    int steps = 0;
    for (const std::string& path : shared_models(shared)) {
        SCOPED_TRACE(path);
        const auto cpu = load_on(path, Device::cpu);
        const int L = cpu->config().num_layers;
        for (const int n : {1, L / 2, L - 1}) {
            SCOPED_TRACE(n);
            const auto split = load_on(path, Device::cuda, n);
            ASSERT_EQ(split->device(), Device::cuda);
            ASSERT_EQ(split->gpu_layers(), n);
            KvCache cache(*split, 16, 2, DType::f16);
            EXPECT_EQ(cache.device(n - 1), Device::cuda);
            EXPECT_EQ(cache.device(n), Device::cpu);
            EXPECT_EQ(cache.device_layers(), n);
            // A prefix copied within both memories. (1e-4, not the GPU's bits: the CPU's layers may
            // sum a 6-token batch otherwise than one token.)
            EXPECT_LT(prefix_copy_error(*split, cache), 1e-4);
            expect_batches_match(*cpu, *split);
            steps += compare_greedy(*cpu, *split, path).steps;
        }
        // Counts past the model's layers mean all of them; 0 means the CPU.
        EXPECT_EQ(load_on(path, Device::cuda, L + 10)->gpu_layers(), L);
        const auto none = load_on(path, Device::cuda, 0);
        EXPECT_EQ(none->device(), Device::cpu);
        EXPECT_EQ(none->gpu_layers(), 0);
    }
    EXPECT_GE(steps, 16 * 3 * int(shared_models(shared).size()));
}

TEST(CudaModel, PrefixCopiesStayOnTheGpu) {
    SLM_REQUIRE_CUDA();
    SLM_REQUIRE_SHARED(shared);
    const auto gpu = load_on(shared_models(shared).front(), Device::cuda);
    KvCache cache(*gpu, 32, 2, DType::f16);
    EXPECT_LT(prefix_copy_error(*gpu, cache), 1e-6);
}

// Decode steps replayed from CUDA graphs against the same steps run op by op (SLM_CUDA_GRAPHS=0):
// the same kernels on the same data, so the same bits. Two sequences stepping together (as the
// server batches them), one rewound to an earlier position (the same shape at other positions),
// then one alone; the tokens fed back are each row's argmax, so a wrong step would show twice.
TEST(CudaModel, ReplayedDecodeStepsGiveTheBitsOfEagerOnes) {
    SLM_REQUIRE_CUDA();
    SLM_REQUIRE_SHARED(shared);
    for (const std::string& path : shared_models(shared)) {
        SCOPED_TRACE(path);
        const auto replayed = load_on(path, Device::cuda);
        setenv("SLM_CUDA_GRAPHS", "0", 1);
        const auto eager = load_on(path, Device::cuda);
        unsetenv("SLM_CUDA_GRAPHS");
        auto run = [&](const Model& m) {
            std::vector<std::vector<float>> out;
            KvCache cache(m.config(), 128, 2, DType::f16, Device::cuda);
            std::vector<float> logits;
            Batch b;
            for (int i = 0; i < 6; ++i) b.add(int32_t(7 + 5 * i) % m.vocab_size(), i, 0, i == 5);
            for (int i = 0; i < 3; ++i) b.add(int32_t(9 + 2 * i) % m.vocab_size(), i, 1, i == 2);
            m.forward(b, cache, logits, nullptr);
            out.push_back(logits);
            const size_t V = size_t(m.vocab_size());
            auto step = [&](std::initializer_list<int> seqs) {
                Batch s;
                for (const int seq : seqs) {
                    const size_t row = size_t(&seq - seqs.begin());
                    const size_t rows = logits.size() / V;
                    const std::span<const float> r(logits.data() + std::min(row, rows - 1) * V, V);
                    s.add(argmax(r), cache.length(seq), seq, true);
                }
                m.forward(s, cache, logits, nullptr);
                out.push_back(logits);
            };
            for (int i = 0; i < 12; ++i) step({0, 1});
            cache.truncate(1, 2);
            for (int i = 0; i < 5; ++i) step({0, 1});
            for (int i = 0; i < 6; ++i) step({0});
            return out;
        };
        const auto want = run(*eager), got = run(*replayed);
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << "step " << i;
    }
}

// forward_top on the GPU (the selection in the step's graph, only the candidates copied back)
// against kernels::top_k of the GPU's own logits for the same batches: the same ids and values,
// for prompts of two sequences, replayed decode steps, and k from greedy's 1 to the bound.
TEST(CudaModel, TopTokensOnTheGpuAreTheTopOfItsLogits) {
    SLM_REQUIRE_CUDA();
    SLM_REQUIRE_SHARED(shared);
    for (const std::string& path : shared_models(shared)) {
        SCOPED_TRACE(path);
        const auto gpu = load_on(path, Device::cuda);
        const int V = gpu->vocab_size();
        for (const int k : {1, 40, kMaxTopTokens}) {
            KvCache full_cache(*gpu, 128, 2, DType::f16), top_cache(*gpu, 128, 2, DType::f16);
            std::vector<float> logits;
            TopTokens top;
            auto expect_same = [&](const Batch& b, const char* what) {
                gpu->forward(b, full_cache, logits, nullptr);
                gpu->forward_top(b, top_cache, k, top, nullptr);
                const int64_t rows = int64_t(logits.size()) / V;
                ASSERT_EQ(int64_t(top.rows()), rows) << what;
                std::vector<int32_t> ids(size_t(rows * k));
                std::vector<float> values(size_t(rows * k));
                kernels::top_k(logits.data(), rows, V, k, ids.data(), values.data());
                ASSERT_EQ(top.ids, ids) << what << ", k " << k;
                ASSERT_EQ(top.logits, values) << what << ", k " << k;
            };
            Batch b;
            for (int i = 0; i < 6; ++i) b.add(int32_t(7 + 5 * i) % V, i, 0, i == 5);
            for (int i = 0; i < 3; ++i) b.add(int32_t(9 + 2 * i) % V, i, 1, i == 2);
            expect_same(b, "prompt");
            int32_t next0 = top.ids[0], next1 = top.ids[size_t(k)];
            for (int step = 0; step < 6; ++step) {  // from the third, both forms replay graphs
                Batch s;
                s.add(next0, full_cache.length(0), 0, true);
                s.add(next1, full_cache.length(1), 1, true);
                expect_same(s, "two-sequence decode");
                next0 = top.ids[0], next1 = top.ids[size_t(k)];
                Batch one;
                one.add(next0, full_cache.length(0), 0, true);
                expect_same(one, "decode");
                next0 = top.ids[0];
            }
        }
    }
}

// Generation on the GPU draws from the candidates the GPU found (greedy, and top-k sampling with
// a seed): the tokens a loop over the whole logits with the same sampler draws.
TEST(CudaModel, GenerationFromTheGpusCandidatesDrawsWhatTheLogitsGive) {
    SLM_REQUIRE_CUDA();
    SLM_REQUIRE_SHARED(shared);
    for (const std::string& path : shared_models(shared)) {
        SCOPED_TRACE(path);
        const auto gpu = load_on(path, Device::cuda);
        const auto tokenizer = Tokenizer::from_model_path(path);
        const std::vector<int32_t> prompt = tokenizer->encode(kPrompts[0], true, false);
        for (const float temperature : {0.0f, 0.8f}) {
            SamplerParams params;  // top-k 40 first when sampling
            params.temperature = temperature;
            params.seed = 3;
            SessionOptions so;
            so.n_ctx = 128;
            Session generating(*gpu, so), looping(*gpu, so);
            SamplerChain chain(params), same(params);
            ASSERT_GT(chain.candidates_needed(), 0);
            GenerationOptions go;
            go.max_tokens = 40;
            go.ignore_eos = true;
            const GenerationResult result = Generator(generating, *tokenizer, {}).generate(prompt, chain, go);
            std::vector<int32_t> want;
            std::span<const float> logits = looping.prompt(prompt);
            for (int i = 0; i < go.max_tokens; ++i) {
                want.push_back(same.sample(logits, looping.tokens()));
                if (i + 1 < go.max_tokens) logits = looping.decode(want.back());
            }
            EXPECT_EQ(result.tokens, want) << "temperature " << temperature;
        }
    }
}

// llama-perplexity's windows over the start of wikitext-2's test set, prompts of 256 tokens (the
// GEMM path), with the CPU model as the KL base: the same perplexity within 0.2%, a tiny KL
// divergence, the same top token almost everywhere.
TEST(CudaModel, PerplexityAndTopTokensMatchTheCpu) {
    SLM_REQUIRE_CUDA();
    SLM_REQUIRE_SHARED(shared);
    const std::string text = read_text_file(shared + "/datasets/wikitext-2-raw/wiki.test.raw").substr(0, 60000);
    for (const std::string& path : shared_models(shared)) {
        SCOPED_TRACE(path);
        const auto cpu = load_on(path, Device::cpu);
        const auto gpu = load_on(path, Device::cuda);
        const auto tokenizer = Tokenizer::from_model_path(path);
        const eval::PerplexityTokens input = eval::PerplexityTokens::from_text(*tokenizer, text);
        eval::PerplexityOptions options;
        options.n_ctx = 256;
        options.max_chunks = 16;
        const eval::PerplexityResult on_cpu = eval::perplexity(*cpu, input, options);
        options.kl_base = cpu.get();
        const eval::PerplexityResult on_gpu = eval::perplexity(*gpu, input, options);
        fprintf(stderr, "%s: ppl cpu %.4f gpu %.4f, KL %.2e, same top token %.4f over %lld tokens\n", path.c_str(),
                on_cpu.ppl, on_gpu.ppl, *on_gpu.kld, *on_gpu.same_top_token, (long long)on_gpu.n_scored);
        EXPECT_NEAR(on_gpu.ppl / on_cpu.ppl, 1.0, 2e-3);
        EXPECT_LT(*on_gpu.kld, 2e-3);
        EXPECT_GT(*on_gpu.same_top_token, 0.97);
    }
}

TEST(CudaModel, MatricesTheGpuCannotReadAreRefusedByName) {
    SLM_REQUIRE_CUDA();
    // The f32 fixture: the GPU reads q4_0, q8_0, q4_k, q5_k, q6_k, f16 and bf16 matrices.
    const std::string path = test::fixtures_dir() + "/models/llama";
    try {
        load_on(path, Device::cuda);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("projection is f32, which the GPU does not read"), std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace slm

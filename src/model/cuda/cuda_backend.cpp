// CudaBackend: the forward's ops as cuda:: kernels queued on one stream, over a copy of the
// weights of the model's GPU layers (Model::gpu_layers(): all, or the first few) made at load in
// one block of GPU memory, in the file's layout. The forward names a weight by its host object
// (ModelWeights); the backend finds the copy by the host address.
// Matrix products of up to kGemmMinTokens - 1 tokens run as matvecs (8-bit activations, dp4a) in
// slices of kMaxMatvecTokens; longer ones (prompts) as tensor-core GEMMs of f16 inputs.
// Steps of fewer tokens (decode) are replayed as CUDA graphs: the first step of a shape runs its
// ops one launch at a time, the second records them into a graph, and every later step of that
// shape launches the graph once. What changes from step to step (ids, positions, and through the
// positions the cache slots and the keys attention sees) the kernels read from device memory.
#include "model/cuda/cuda_backend.h"

#include <slm/error.h>
#include <slm/model.h>

#include "kernels/cuda/device.h"
#include "kernels/cuda/ops.h"
#include "model/model_weights.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slm::model::cuda_backend {

namespace {

constexpr size_t kAlignment = 256;
// From this many tokens a matrix product dequantizes its weights for the tensor cores rather than
// reading them once per 8 tokens (docs/cuda.md has the measurement behind the choice).
constexpr int64_t kGemmMinTokens = 16;
// Graphs kept at once (one per step shape: a server's batches come in many); past it they are all
// dropped and recorded again as their shapes come back.
constexpr size_t kMaxGraphs = 64;

void check_blas(cublasStatus_t status, const char* what) {
    if (status != CUBLAS_STATUS_SUCCESS) fail("cuBLAS: {}: {}", what, cublasGetStatusString(status));
}  // cudaMalloc's, kept for every weight inside the block

size_t aligned_size(size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

double gib(size_t bytes) { return double(bytes) / double(1ull << 30); }

// The weights of a model's GPU layers to copy, each with the name an error message gives it.
struct WeightList {
    std::vector<std::pair<const Tensor*, std::string>> matrices;  // matmul reads them
    std::vector<int> matrix_layer;                                 // each one's layer (-1: the head)
    const Tensor* embedding = nullptr;                             // get_rows reads it
    std::vector<const std::vector<float>*> vectors;                // norms, biases, rope tables
};

// The embedding, the matrices of layers [0, model.gpu_layers()) and, when that is all of them,
// the vocabulary projection; every vector (a few kilobytes: the norm after the last GPU layer is
// the next layer's).
WeightList list_weights(const Model& model) {
    const ModelWeights& w = model.weights();
    WeightList list;
    list.embedding = &w.token_embedding;
    if (size_t(model.gpu_layers()) == w.layers.size()) {
        list.matrices.push_back({&w.output, "the output projection"});
        list.matrix_layer.push_back(-1);
    }
    list.vectors = {&w.output_norm, &w.output_norm_bias, &w.output_bias, &model.rope_inv_freq(),
                    &model.rope_long_inv_freq(), &model.rope_local_inv_freq()};
    for (size_t l = 0; l < w.layers.size(); ++l) {
        const LayerWeights& lw = w.layers[l];
        const std::pair<const Tensor*, const char*> matrices[] = {
            {&lw.wq, "attention q"}, {&lw.wk, "attention k"}, {&lw.wv, "attention v"}, {&lw.wo, "attention output"},
            {&lw.w_gate, "MLP gate"}, {&lw.w_up, "MLP up"},   {&lw.w_down, "MLP down"}};
        for (const auto& [m, what] : matrices)
            if (m->data != nullptr && l < size_t(model.gpu_layers())) {
                list.matrices.push_back({m, fmt::format("layer {}'s {} projection", l, what)});
                list.matrix_layer.push_back(int(l));
            }
        for (const std::vector<float>* v : {&lw.attn_norm, &lw.ffn_norm, &lw.attn_norm_bias, &lw.attn_post_norm,
                                            &lw.ffn_post_norm, &lw.q_norm, &lw.k_norm, &lw.bq, &lw.bk, &lw.bv, &lw.bo,
                                            &lw.b_up, &lw.b_down})
            list.vectors.push_back(v);
    }
    return list;
}

class CudaBackend final : public Backend {
public:
    explicit CudaBackend(const Model& model) {
        cuda::check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "creating a stream");
        check_blas(cublasCreate(&blas_), "creating a handle");
        check_blas(cublasSetStream(blas_, stream_), "setting the stream");
        // SLM_CUDA_GRAPHS=0 runs every step op by op (to compare, or to profile kernel by kernel).
        const char* graphs = std::getenv("SLM_CUDA_GRAPHS");
        graphs_enabled_ = graphs == nullptr || std::string_view(graphs) != "0";
        upload(model);
    }
    ~CudaBackend() override {
        abandon_recording();
        for (auto& [shape, graph] : graphs_) cudaGraphExecDestroy(graph.exec);
        cublasDestroy(blas_);
        cudaStreamDestroy(stream_);
    }

    bool replays_steps() const override { return true; }

    void begin_step(std::span<const int64_t> shape) override {
        abandon_recording();  // a forward that failed half-way leaves nothing recorded
        mode_ = Mode::undecided;
        unscaled_ = {};  // an earlier step's norm output is not read again
        shape_.assign(shape.begin(), shape.end());
        replayable_ = graphs_enabled_ && !shape.empty() && shape[0] < kGemmMinTokens;
    }

    float* buffer(Slot slot, size_t n) override { return grow(buffers_[size_t(slot)], n * sizeof(float)).as<float>(); }

    const int32_t* ints(IntSlot slot, std::span<const int32_t> host) override {
        cuda::DeviceBuffer& b = grow(ints_[size_t(slot)], host.size_bytes());
        cuda::check(cudaMemcpyAsync(b.data(), host.data(), host.size_bytes(), cudaMemcpyHostToDevice, stream_),
                    "copying token ids to the GPU");
        return b.as<int32_t>();
    }

    float* result(Slot slot, float*, size_t n) override { return buffer(slot, n); }

    void end_step() override { finish_step(); }

    void to_host(const float* src, size_t n, float* host) override {
        finish_step();
        settle(src, false);
        cuda::check(cudaMemcpyAsync(host, src, n * sizeof(float), cudaMemcpyDeviceToHost, stream_),
                    "copying results from the GPU");
        cuda::check(cudaStreamSynchronize(stream_), "running the forward on the GPU");
    }

    // The selection joins the step's graph; only its keys cross (8 bytes a candidate).
    void top_k(const float* x, int64_t rows, int64_t n, int k, int32_t* ids, float* values) override {
        auto* keys = grow(top_k_keys_, size_t(rows * k) * sizeof(uint64_t)).as<uint64_t>();
        void* scratch = grow(top_k_scratch_, cuda::top_k_scratch_bytes(rows, n, k)).data();
        if (!begin_op({x})) cuda::top_k(x, rows, n, k, keys, scratch, stream_);
        finish_step();
        host_keys_.resize(size_t(rows * k));
        cuda::check(cudaMemcpyAsync(host_keys_.data(), keys, host_keys_.size() * sizeof(uint64_t),
                                    cudaMemcpyDeviceToHost, stream_),
                    "copying the top tokens from the GPU");
        cuda::check(cudaStreamSynchronize(stream_), "running the forward on the GPU");
        cuda::read_top_k(host_keys_.data(), rows * k, ids, values);
    }

    void copy(float* dst, const float* src, size_t n) override {
        if (begin_op({src}, dst)) return;
        cuda::check(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, stream_), "copying rows");
    }

    void get_rows(const Tensor& E, const int32_t* ids, int64_t T, float* out) override {
        if (begin_op({}, out)) return;
        cuda::get_rows(on_device(E), ids, T, out, stream_);
    }

    void matmul(std::span<const kernels::MatmulOut> outs, const float* x, int64_t T) override {
        const bool replay = replaying();
        const int64_t K = outs[0].W->dim(1);
        bool q8 = false, all_q8 = true;
        for (const kernels::MatmulOut& o : outs) {
            q8 = q8 || cuda::matvec_takes_q8(o.W->dtype);
            all_q8 = all_q8 && cuda::matvec_takes_q8(o.W->dtype);
        }
        // The op that wrote x may have written its 8-bit copy too (fused_q8), and may have left
        // its norm's 1/rms to these matvecs (add_rms_norm); x itself is made the norm first when
        // a float matrix or the GEMM reads it.
        const bool quantized = q8 && x == q8_of_ && q8_values_ == T * K && T < kGemmMinTokens;
        const cuda::NormScale norm = quantized ? q8_norm_ : cuda::NormScale{};
        if (!all_q8 || !quantized) settle(x, replay);
        if (replay) return;
        if (T >= kGemmMinTokens) {
            void* x_f16 = grow(x_f16_, size_t(T * K) * 2).data();
            cuda::store_f16(x, T * K, x_f16, stream_);
            void* w_f16 = grow(w_f16_, cuda::gemm_scratch_bytes(K)).data();
            for (const kernels::MatmulOut& o : outs) cuda::gemm(on_device(*o.W), x_f16, T, o.y, w_f16, blas_, stream_);
            return;
        }
        void* x_q8 = q8 ? grow(q8_, cuda::q8_activations_bytes(cuda::kMaxMatvecTokens, K)).data() : nullptr;
        for (int64_t t0 = 0; t0 < T; t0 += cuda::kMaxMatvecTokens) {
            const int64_t n = std::min<int64_t>(cuda::kMaxMatvecTokens, T - t0);
            if (q8 && !quantized) cuda::quantize_activations(x + t0 * K, n, K, x_q8, stream_);
            // Matrices of one dtype next to each other (q/k/v, gate/up; q4_k_m mixes in q6_k) go
            // in one launch.
            for (size_t i = 0; i < outs.size();) {
                std::array<kernels::MatmulOut, 4> group{};
                size_t count = 0;
                for (; i < outs.size() && count < group.size(); ++i) {
                    const Tensor& W = on_device(*outs[i].W);
                    if (count > 0 && W.dtype != group[0].W->dtype) break;
                    group[count++] = {&W, outs[i].y + t0 * W.dim(0)};
                }
                const bool reads_q8 = cuda::matvec_takes_q8(group[0].W->dtype);
                cuda::matvec(std::span(group.data(), count), x + t0 * K, x_q8, n, stream_,
                             reads_q8 ? norm : cuda::NormScale{});
            }
        }
    }

    void rms_norm(const float* x, const std::vector<float>& w, int64_t T, int64_t D, float eps, float* out) override {
        if (begin_op({x}, out)) return;
        cuda::rms_norm(x, on_device(w), T, D, eps, out, stream_, fused_q8(out, T, D));
    }

    // A decode step's norm is read only by the matvecs after it: its kernel spreads over the whole
    // GPU and leaves the 1/rms to them (cuda::rms_norm_deferred); `out` holds the norm times the
    // rms until something else reads it (settle).
    void add_rms_norm(float* x, const float* residual, const std::vector<float>& w, int64_t T, int64_t D, float eps,
                      float* out) override {
        const bool replay = begin_op({x, residual}, out);
        void* q8 = fused_q8(out, T, D);
        if (q8 != nullptr && all_q8_ && D / 32 <= cuda::kMaxNormScaleGroups) {
            auto* sums = grow(norm_sums_, size_t(cuda::norm_scale_sums(T, D)) * sizeof(float)).as<float>();
            q8_norm_ = {sums, eps};
            unscaled_ = {out, T, D, eps};
            if (!replay) cuda::rms_norm_deferred(x, residual, on_device(w), T, D, out, q8, sums, stream_);
            return;
        }
        if (!replay) cuda::add_rms_norm(x, residual, on_device(w), T, D, eps, out, stream_, q8);
    }

    void layer_norm(const float* x, const std::vector<float>& w, const std::vector<float>& b, int64_t T, int64_t D,
                    float eps, float* out) override {
        if (begin_op({x}, out)) return;
        cuda::layer_norm(x, on_device(w), b.empty() ? nullptr : on_device(b), T, D, eps, out, stream_);
    }

    void rope_angles(const int32_t* positions, int64_t T, int64_t rot_dim, const std::vector<float>& inv_freq,
                     float mscale, float* cos_sin) override {
        if (begin_op()) return;
        cuda::rope_angles(positions, T, rot_dim, on_device(inv_freq), mscale, cos_sin, stream_);
    }

    void rope(float* q, int64_t H, float* k, int64_t Hkv, int64_t T, int64_t Dh, const float* cos_sin,
              kernels::RopeMode mode, int64_t rot_dim) override {
        if (begin_op({q, k})) return;
        cuda::rope_qk(q, H, k, Hkv, T, Dh, cos_sin, mode, stream_, rot_dim);
    }

    void rope_store_kv(float* q, int64_t H, float* k, int64_t Hkv, const float* v, int64_t T, int64_t Dh,
                       const float* cos_sin, kernels::RopeMode mode, int64_t rot_dim, void* k_cache, void* v_cache,
                       const int32_t* positions, DType cache_dtype) override {
        if (begin_op({q, k, v})) return;
        cuda::rope_store_kv(q, H, k, Hkv, v, T, Dh, cos_sin, mode, k_cache, v_cache, cache_dtype, positions, stream_,
                            rot_dim);
    }

    void store_kv(const float* k, const float* v, int64_t T, int64_t n, void* k_cache, void* v_cache,
                  const int32_t* positions, DType cache_dtype) override {
        if (begin_op({k, v})) return;
        cuda::store_kv(k, v, T, n, k_cache, v_cache, cache_dtype, positions, stream_);
    }

    void attention(const float* q, std::span<const AttentionRun> runs, int64_t H, int64_t Hkv, int64_t Dh,
                   DType cache_dtype, const int32_t* q_pos, int window, float scale, float softcap,
                   float* out) override {
        if (begin_op({q}, out)) return;
        // A replayable step sizes its launch for the whole cache, so that the same launch serves
        // every position (the kernel splits each query's keys by its position alone).
        auto keys_bound = [&](const AttentionRun& run) { return replayable_ ? run.capacity : run.length; };
        const int64_t row = H * Dh, T = runs.back().end;
        int64_t bound = 1, longest = 0;
        for (const AttentionRun& run : runs) {
            bound = std::max(bound, keys_bound(run));
            longest = std::max(longest, run.end - run.begin);
        }
        const cuda::AttentionScratch scratch{
            grow(attention_scratch_, cuda::attention_scratch_bytes(T, H, Dh, bound)).data(),
            grow(attention_counts_, size_t(T * H) * sizeof(unsigned), /*zeroed=*/true).as<unsigned>()};
        if (longest >= cuda::kFlashAttentionMinQueries) {
            // A prompt among the runs: each run on its own (its prompt on the tensor cores).
            for (const AttentionRun& run : runs)
                cuda::attention(q + run.begin * row, run.end - run.begin, H, Hkv, Dh, run.keys, run.values,
                                cache_dtype, keys_bound(run), q_pos + run.begin, window, scale, out + run.begin * row,
                                scratch, stream_, softcap);
            return;
        }
        // Decode steps: every sequence's queries in one launch, which also writes the output
        // projection's 8-bit input.
        std::vector<cuda::AttentionSequence> seqs;
        for (const AttentionRun& run : runs) seqs.push_back({run.end, run.keys, run.values, keys_bound(run)});
        void* q8 = seqs.size() <= cuda::kMaxAttentionSequences && Dh % 32 == 0 ? fused_q8(out, T, row) : nullptr;
        cuda::attention(q, seqs, H, Hkv, Dh, cache_dtype, q_pos, window, scale, out, scratch, stream_, softcap, q8);
    }

    void gated(Activation act, const float* gate, const float* up, int64_t T, int64_t width, float* out) override {
        if (begin_op({gate, up}, out)) return;
        void* q8 = fused_q8(out, T, width);
        const int64_t n = T * width;
        switch (act) {
            case Activation::silu: return cuda::silu_mul(gate, up, n, out, stream_, q8);
            case Activation::gelu_tanh: return cuda::gelu_tanh_mul(gate, up, n, out, stream_, q8);
            case Activation::gelu: return cuda::gelu_mul(gate, up, n, out, stream_, q8);
        }
    }

    void activation(Activation act, const float* x, int64_t n, float* out) override {
        if (begin_op({x}, out)) return;
        switch (act) {
            case Activation::silu: fail("forward: a plain (ungated) SiLU MLP is not supported");
            case Activation::gelu_tanh: return cuda::gelu_tanh(x, n, out, stream_);
            case Activation::gelu: return cuda::gelu(x, n, out, stream_);
        }
    }

    void softcap(float* x, int64_t n, float cap) override {
        if (begin_op({x})) return;
        cuda::softcap(x, n, cap, stream_);
    }
    void multiply(float* x, int64_t n, float s) override {
        if (begin_op({x})) return;
        cuda::multiply(x, n, s, stream_);
    }
    void add(float* y, const float* x, int64_t n) override {
        if (begin_op({y, x})) return;
        cuda::add(y, x, n, stream_);
    }
    void add_bias(float* y, const std::vector<float>& b, int64_t T, int64_t D) override {
        if (begin_op({y})) return;
        cuda::add_bias(y, on_device(b), T, D, stream_);
    }

private:
    // One block for every weight: its size is checked against the GPU's free memory first, so that
    // a model that does not fit fails at once with both figures.
    void upload(const Model& model) {
        const std::string& source = model.files().path;
        const WeightList list = list_weights(model);
        for (const auto& [m, what] : list.matrices) {
            any_q8_ = any_q8_ || cuda::matvec_takes_q8(m->dtype);
            all_q8_ = all_q8_ && cuda::matvec_takes_q8(m->dtype);
        }
        for (const auto& [m, what] : list.matrices)
            if (!cuda::matvec_reads(m->dtype))
                fail("{}: {} is {}, which the GPU does not read; it reads q4_0, q8_0, q4_k, q5_k, q6_k, f16 and bf16 "
                     "matrices (slm quantize, or slm convert --dtype f16)",
                     source, what, name(m->dtype));
        std::map<std::pair<const void*, size_t>, size_t> offsets;  // host (data, bytes) -> offset in the block
        std::map<size_t, const Tensor*> matrix_at;                  // offset -> the matrix placed there
        size_t total = 0;
        auto place = [&](const void* data, size_t bytes) {
            if (bytes == 0 || offsets.contains({data, bytes})) return false;
            offsets[{data, bytes}] = total;
            total += aligned_size(bytes);
            return true;
        };
        auto place_matrix = [&](const Tensor& m) {
            if (place(m.data, m.nbytes())) matrix_at[offsets.at({m.data, m.nbytes()})] = &m;
        };
        place_matrix(*list.embedding);
        for (const auto& [m, what] : list.matrices) place_matrix(*m);
        for (const std::vector<float>* v : list.vectors) place(v->data(), v->size() * sizeof(float));

        size_t free_bytes = 0, total_bytes = 0;
        cuda::check(cudaMemGetInfo(&free_bytes, &total_bytes), "reading the GPU's memory size");
        if (total > free_bytes) {
            // How many layers would fit: the bytes of each layer's matrices, counted from the first.
            // (A model short of all its layers leaves the head to the CPU as well.)
            const int layers = model.config().num_layers;
            std::vector<size_t> layer_bytes(size_t(layers), 0);
            for (size_t i = 0; i < list.matrices.size(); ++i)
                if (const int l = list.matrix_layer[i]; l >= 0)
                    layer_bytes[size_t(l)] += aligned_size(list.matrices[i].first->nbytes());
            size_t used = aligned_size(list.embedding->nbytes());
            for (const std::vector<float>* v : list.vectors) used += aligned_size(v->size() * sizeof(float));
            int fit = 0;
            for (; fit + 1 < layers && used + layer_bytes[size_t(fit)] <= free_bytes; ++fit)
                used += layer_bytes[size_t(fit)];
            fail("{}: {} on the GPU need {:.2f} GiB of its memory and it has {:.2f} GiB free (of {:.2f} GiB); "
                 "{}--device cpu, or a smaller quantization",
                 source, model.gpu_layers() == layers ? "the weights" : fmt::format("{} layers", model.gpu_layers()),
                 gib(total), gib(free_bytes), gib(total_bytes),
                 fit > 0 ? fmt::format("run {} of the {} layers there with --gpu-layers {} (the rest on the CPU), or ",
                                       fit, layers, fit)
                         : std::string("run it with "));
        }
        weights_ = cuda::DeviceBuffer::allocate(std::max<size_t>(total, 1));
        auto* base = weights_.as<uint8_t>();
        for (const auto& [key, offset] : offsets) {
            const auto m = matrix_at.find(offset);
            if (m != matrix_at.end()) cuda::copy_weight_to_device(*m->second, base + offset);
            else cuda::copy_to_device(base + offset, key.first, key.second);
        }

        auto device_copy = [&](const Tensor& t) {
            Tensor d = t;
            d.data = base + offsets.at({t.data, t.nbytes()});
            d.device = Device::cuda;
            matrices_[t.data] = d;
        };
        device_copy(*list.embedding);
        for (const auto& [m, what] : list.matrices) device_copy(*m);
        for (const std::vector<float>* v : list.vectors)
            if (!v->empty()) vectors_[v->data()] = reinterpret_cast<const float*>(base + offsets.at({v->data(), v->size() * sizeof(float)}));
    }

    const Tensor& on_device(const Tensor& host) const {
        const auto it = matrices_.find(host.data);
        if (it == matrices_.end() || it->second.shape != host.shape)
            fail("cuda backend: a weight of shape {} was not copied to the GPU", shape_string(host.shape));
        return it->second;
    }

    const float* on_device(const std::vector<float>& host) const {
        const auto it = vectors_.find(host.data());
        if (it == vectors_.end()) fail("cuda backend: a vector of {} values was not copied to the GPU", host.size());
        return it->second;
    }

    // The buffer, grown to at least `bytes` (its old contents are not kept). A new buffer makes
    // every recorded graph stale (they hold the old addresses).
    cuda::DeviceBuffer& grow(cuda::DeviceBuffer& b, size_t bytes, bool zeroed = false) {
        if (b.size() < bytes) {
            b = cuda::DeviceBuffer();
            b = zeroed ? cuda::DeviceBuffer::allocate_zeroed(bytes) : cuda::DeviceBuffer::allocate(bytes);
            ++generation_;
        }
        return b;
    }

    // --- Fusion -------------------------------------------------------------------------------
    // Every op but matmul starts here, naming the activations it reads and the one it writes:
    // whether the step is being replayed (nothing to queue); the 8-bit copy of an op's output is
    // forgotten (this op may overwrite it); a norm output it reads is made the norm first, and one
    // it overwrites is dropped. (The bookkeeping runs in every mode, so that a replayed step
    // settles exactly what its recording did.)
    bool begin_op(std::initializer_list<const float*> reads = {}, const float* writes = nullptr) {
        q8_of_ = nullptr;
        q8_norm_ = {};
        const bool replay = replaying();
        for (const float* p : reads) settle(p, replay);
        if (writes != nullptr && writes == unscaled_.out) unscaled_ = {};
        return replay;
    }

    // x, when it is a norm output still awaiting its 1/rms (add_rms_norm), made the norm.
    void settle(const float* x, bool replay) {
        if (x == nullptr || x != unscaled_.out) return;
        if (!replay)
            cuda::apply_norm_scale(unscaled_.out, norm_sums_.as<float>(), unscaled_.T, unscaled_.D, unscaled_.eps,
                                   stream_);
        unscaled_ = {};
    }

    // Where an op writing T rows of `width` values to `out` also writes them as 8-bit activations,
    // when a matvec will read them next (up to kMaxMatvecTokens rows, for quantized weights): the
    // quantize launch it saves is one of the small launches a decode step is made of.
    void* fused_q8(const float* out, int64_t T, int64_t width) {
        if (!any_q8_ || T > cuda::kMaxMatvecTokens || width % 32 != 0) return nullptr;
        void* q8 = grow(q8_, cuda::q8_activations_bytes(cuda::kMaxMatvecTokens, width)).data();
        q8_of_ = out;
        q8_values_ = T * width;
        return q8;
    }

    // --- Graphs -------------------------------------------------------------------------------
    // Called by every op: whether it is part of a graph that will replay this step (so it is not
    // queued). The first op of a step decides how the step runs.
    bool replaying() {
        if (mode_ == Mode::undecided) decide();
        return mode_ == Mode::replay;
    }

    void decide() {
        mode_ = Mode::eager;
        if (!replayable_) return;
        if (const auto it = graphs_.find(shape_); it != graphs_.end()) {
            if (it->second.generation == generation_) {
                mode_ = Mode::replay;
                return;
            }
            cudaGraphExecDestroy(it->second.exec);
            graphs_.erase(it);
        }
        // Record the second step of a shape: the first has grown every buffer it needs.
        const auto seen = seen_.find(shape_);
        if (seen == seen_.end() || seen->second != generation_) return;
        if (graphs_.size() >= kMaxGraphs) drop_graphs();
        cuda::check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "recording a decode step");
        mode_ = Mode::record;
        recording_generation_ = generation_;
    }

    // Before the step's results are read: the recorded graph is made and launched, or the
    // replayed one launched; an eager step notes its shape and the buffers it ran on.
    void finish_step() {
        if (mode_ == Mode::record) {
            cudaGraph_t graph = nullptr;
            cuda::check(cudaStreamEndCapture(stream_, &graph), "recording a decode step");
            mode_ = Mode::eager;
            cudaGraphExec_t exec = nullptr;
            const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
            cudaGraphDestroy(graph);
            cuda::check(made, "making a decode step's graph");
            if (generation_ != recording_generation_) {
                // A buffer moved while recording: the graph would write to freed memory.
                cudaGraphExecDestroy(exec);
                fail("cuda backend: a buffer was reallocated while recording a decode step");
            }
            graphs_[shape_] = {exec, generation_};
            mode_ = Mode::replay;
        }
        if (mode_ == Mode::replay) {
            cuda::check(cudaGraphLaunch(graphs_.at(shape_).exec, stream_), "running a decode step's graph");
        } else if (mode_ == Mode::eager && replayable_) {
            seen_[shape_] = generation_;
            if (seen_.size() > 4 * kMaxGraphs) seen_.clear();
        }
        mode_ = Mode::eager;
        replayable_ = false;  // a second to_host in the same step (hidden states) runs eagerly
    }

    void abandon_recording() {
        cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
        if (stream_ != nullptr && cudaStreamIsCapturing(stream_, &status) == cudaSuccess &&
            status != cudaStreamCaptureStatusNone) {
            cudaGraph_t graph = nullptr;
            cudaStreamEndCapture(stream_, &graph);
            if (graph != nullptr) cudaGraphDestroy(graph);
            cudaGetLastError();
        }
        if (mode_ == Mode::record) mode_ = Mode::eager;
    }

    void drop_graphs() {
        for (auto& [shape, graph] : graphs_) cudaGraphExecDestroy(graph.exec);
        graphs_.clear();
    }

    cudaStream_t stream_ = nullptr;
    cublasHandle_t blas_ = nullptr;
    cuda::DeviceBuffer weights_;
    std::map<const void*, Tensor> matrices_;
    std::map<const void*, const float*> vectors_;
    std::array<cuda::DeviceBuffer, size_t(Slot::count)> buffers_;
    std::array<cuda::DeviceBuffer, size_t(IntSlot::count)> ints_;
    cuda::DeviceBuffer q8_, norm_sums_, x_f16_, w_f16_, attention_scratch_, attention_counts_;
    cuda::DeviceBuffer top_k_keys_, top_k_scratch_;
    std::vector<uint64_t> host_keys_;

    // How the current step runs: not yet known (before its first op), op by op, recorded into a
    // graph as it runs, or replayed from one.
    enum class Mode : uint8_t { undecided, eager, record, replay };
    struct Graph {
        cudaGraphExec_t exec;
        uint64_t generation;  // of the buffers it was recorded on
    };
    bool any_q8_ = false;             // some matrix reads 8-bit activations
    bool all_q8_ = true;              // ... and every one does
    const float* q8_of_ = nullptr;    // the activations q8_ holds, when an op fused their quantization
    int64_t q8_values_ = 0;           // ... and how many
    cuda::NormScale q8_norm_;         // ... and the 1/rms they still need, from norm_sums_
    // The output of add_rms_norm still awaiting its 1/rms (the norm times each row's rms).
    struct Unscaled {
        float* out = nullptr;
        int64_t T = 0, D = 0;
        float eps = 0.0f;
    } unscaled_;
    Mode mode_ = Mode::eager;
    std::vector<int64_t> shape_;
    bool graphs_enabled_ = true, replayable_ = false;
    uint64_t generation_ = 0, recording_generation_ = 0;  // counts buffer reallocations
    std::map<std::vector<int64_t>, uint64_t> seen_;      // shapes run eagerly -> their generation
    std::map<std::vector<int64_t>, Graph> graphs_;
};

}  // namespace

bool available() { return cuda::device_available(); }

std::unique_ptr<Backend> make(const Model& model) {
    if (!cuda::device_available()) fail("{}: --device cuda: no CUDA GPU is usable on this machine", model.files().path);
    return std::make_unique<CudaBackend>(model);
}

std::shared_ptr<uint8_t> allocate_zeroed(size_t bytes) {
    void* p = nullptr;
    if (cudaMalloc(&p, std::max<size_t>(bytes, 1)) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky out-of-memory status
        size_t free_bytes = 0, total_bytes = 0;
        cudaMemGetInfo(&free_bytes, &total_bytes);
        fail("KV cache: {:.2f} GiB do not fit in the GPU's {:.2f} GiB free memory; use a shorter context (--ctx-size)",
             gib(bytes), gib(free_bytes));
    }
    cuda::check(cudaMemset(p, 0, bytes), "clearing the KV cache");
    cuda::check(cudaDeviceSynchronize(), "clearing the KV cache");
    return std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [](uint8_t* q) { cudaFree(q); });
}

// The backends' streams do not wait for the legacy stream, nor it for them: the copy waits for
// every queued forward before it, and is done before the next.
void copy_bytes(void* dst, const void* src, size_t bytes) {
    if (bytes == 0) return;
    cuda::check(cudaDeviceSynchronize(), "waiting for the GPU");
    cuda::check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "copying KV cache entries");
    cuda::check(cudaDeviceSynchronize(), "copying KV cache entries");
}

}  // namespace slm::model::cuda_backend

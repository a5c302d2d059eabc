// The BERT-family encoder's forward, top to bottom: embeddings (token + position + type, then
// LayerNorm), then per layer bidirectional self-attention and a GELU feed-forward, each followed
// by a residual add and LayerNorm (post-LN, as BERT has it). Several texts run as one packed batch.
#include <slm/encoder.h>

#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/kernels.h>
#include <slm/train_ops.h>

#include "formats/json_fields.h"
#include "model/encoder_weights.h"

#include <cmath>
#include <filesystem>

namespace slm {
namespace {

using Activation = void (*)(const float*, int64_t, float*, ThreadPool*);

// BERT's hidden_act. GGUF has no key for it: llama.cpp's graph computes its tanh GELU for every
// BERT, but the models were trained with (and sentence-transformers runs) the exact one, so a GGUF
// encoder takes "gelu" too and gives the directory's vectors.
Activation encoder_activation(const std::string& act, const std::string& source) {
    if (act == "gelu") return kernels::gelu;
    if (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast") return kernels::gelu_tanh;
    fail("{}: activation '{}' is not supported for an encoder (gelu, gelu_new, gelu_pytorch_tanh, gelu_fast)", source,
         act);
}

bool is_float_dtype(DType t) { return t == DType::f32 || t == DType::f16 || t == DType::bf16; }

// y = x W^T + b over T rows. Float weights take the f32 GEMM (frozen_matmul: BERT's batches are
// hundreds of tokens, where a real GEMM beats row dots and the product stays exact f32); quantized
// ones take matmul's 8-bit-activation GEMMs, as the decoders do.
void linear(const Tensor& W, const std::vector<float>& b, const float* x, int64_t T, float* y, ThreadPool* pool) {
    if (is_float_dtype(W.dtype) && W.layout == Layout::rows) kernels::frozen_matmul(W, x, T, y, pool);
    else kernels::matmul(W, x, T, y, pool);
    kernels::add_bias(y, b.data(), T, W.rows());
}

}  // namespace

bool is_encoder_architecture(std::string_view architecture) {
    return architecture == "bert" || architecture == "roberta" || architecture == "xlm-roberta";
}

std::unique_ptr<EncoderModel> EncoderModel::load(const std::string& path, const ModelOptions& options) {
    return std::make_unique<EncoderModel>(ModelFiles::open(path), options);
}

EncoderModel::EncoderModel(ModelFiles files, const ModelOptions& options) : files_(std::move(files)) {
    const ModelConfig& c = files_.config;
    const std::string& source = files_.path;
    if (!is_encoder_architecture(c.architecture))
        fail("{}: architecture '{}' is not an encoder (bert, roberta, xlm-roberta)", source, c.architecture);
    if (c.num_kv_heads != c.num_heads || c.head_dim * c.num_heads != c.hidden_size)
        fail("{}: an encoder's heads must split hidden_size {} evenly ({} heads of {}, {} kv heads)", source,
             c.hidden_size, c.num_heads, c.head_dim, c.num_kv_heads);
    weights_ = std::make_unique<EncoderWeights>(files_);
    if (options.cpu_layouts) weights_->use_cpu_layouts(*files_.tensors);
    eps_ = float(c.rms_norm_eps);  // the parsers put layer_norm_eps / attention.layer_norm_epsilon here
    activation_ = encoder_activation(files_.naming == TensorNaming::gguf ? "gelu" : c.hidden_act, source);
    // RoBERTa and XLM-R number positions from padding_idx + 1 (transformers'
    // create_position_ids_from_input_ids); llama.cpp's converter cut those rows off the table.
    if (c.architecture != "bert" && files_.naming == TensorNaming::hf && is_directory(source)) {
        const std::string config_path = (std::filesystem::path(source) / "config.json").string();
        const nlohmann::json root = formats::parse_json_object(read_text_file(config_path), config_path);
        position_offset_ = formats::JsonFields(root, config_path).integer("pad_token_id").value_or(1) + 1;
    }
    max_tokens_ = weights_->position_embedding.rows() - position_offset_;
    if (max_tokens_ < 1)
        fail("{}: the position table has {} rows, none left past the padding offset {}", source,
             weights_->position_embedding.rows(), position_offset_);
}

EncoderModel::~EncoderModel() = default;

void EncoderModel::forward(std::span<const std::vector<int32_t>> sequences, std::vector<float>& hidden,
                           ThreadPool* pool) const {
    const ModelConfig& c = files_.config;
    const int64_t D = c.hidden_size, F = c.intermediate_size, H = c.num_heads, Dh = c.head_dim;
    int64_t N = 0, longest = 0;
    for (size_t s = 0; s < sequences.size(); ++s) {
        const int64_t n = int64_t(sequences[s].size());
        if (n < 1 || n > max_tokens_)
            fail("{}: sequence {} has {} tokens; an encoder takes 1 to {}", files_.path, s, n, max_tokens_);
        N += n, longest = std::max(longest, n);
    }
    // ids, positions: [N]; sequence s is rows [first[s], first[s + 1]).
    std::vector<int32_t> ids, positions;
    std::vector<int64_t> first{0};
    ids.reserve(size_t(N)), positions.reserve(size_t(N));
    for (const auto& seq : sequences) {
        for (size_t i = 0; i < seq.size(); ++i) {
            if (seq[i] < 0 || seq[i] >= c.vocab_size)
                fail("{}: token id {} is outside the vocabulary of {}", files_.path, seq[i], c.vocab_size);
            ids.push_back(seq[i]);
            positions.push_back(int32_t(position_offset_ + int64_t(i)));
        }
        first.push_back(first.back() + int64_t(seq.size()));
    }
    const EncoderWeights& W = *weights_;

    // x: [N, D] = LayerNorm(token + position + type embeddings)
    std::vector<float>& x = hidden;
    x.resize(size_t(N * D));
    std::vector<float> tmp(size_t(N * D));
    kernels::get_rows(W.token_embedding, ids.data(), N, x.data(), pool);
    kernels::get_rows(W.position_embedding, positions.data(), N, tmp.data(), pool);
    kernels::add(x.data(), tmp.data(), N * D);
    kernels::add_bias(x.data(), W.token_type.data(), N, D);
    kernels::layer_norm(x.data(), W.embed_norm.data(), W.embed_norm_bias.data(), N, D, eps_, x.data(), pool);

    std::vector<float> q(size_t(N * D)), k(size_t(N * D)), v(size_t(N * D)), ctx(size_t(N * D));
    std::vector<float> ffn(size_t(N * F));
    // Every query sees every key of its own sequence: attention's causal limit set past the end.
    std::vector<int32_t> see_all(static_cast<size_t>(longest));
    const float scale = 1.0f / std::sqrt(float(Dh));
    for (const EncoderLayerWeights& w : W.layers) {
        // q, k, v: [N, H, Dh]
        linear(w.wq, w.bq, x.data(), N, q.data(), pool);
        linear(w.wk, w.bk, x.data(), N, k.data(), pool);
        linear(w.wv, w.bv, x.data(), N, v.data(), pool);
        // ctx: [N, H, Dh], each sequence's softmax(q kᵀ / √Dh) v over its own rows (k, v read as a
        // one-sequence f32 cache [T, H, Dh])
        for (size_t s = 0; s + 1 < first.size(); ++s) {
            const int64_t T = first[s + 1] - first[s], at = first[s] * D;
            std::fill(see_all.begin(), see_all.begin() + T, int32_t(T - 1));
            kernels::attention(q.data() + at, T, H, H, Dh, k.data() + at, v.data() + at, DType::f32, T, see_all.data(),
                               0, scale, ctx.data() + at, pool);
        }
        // x = LayerNorm(x + ctx Woᵀ + bo)
        linear(w.wo, w.bo, ctx.data(), N, tmp.data(), pool);
        kernels::add(x.data(), tmp.data(), N * D);
        kernels::layer_norm(x.data(), w.attn_norm.data(), w.attn_norm_bias.data(), N, D, eps_, x.data(), pool);
        // x = LayerNorm(x + gelu(x Wupᵀ + bup) Wdownᵀ + bdown)
        linear(w.w_up, w.b_up, x.data(), N, ffn.data(), pool);
        activation_(ffn.data(), N * F, ffn.data(), pool);
        linear(w.w_down, w.b_down, ffn.data(), N, tmp.data(), pool);
        kernels::add(x.data(), tmp.data(), N * D);
        kernels::layer_norm(x.data(), w.out_norm.data(), w.out_norm_bias.data(), N, D, eps_, x.data(), pool);
    }
}

}  // namespace slm

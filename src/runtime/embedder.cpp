// Embedder: picks the backbone by architecture, takes the pooling, normalisation and length limit
// a sentence-transformers model declares (formats/sentence_transformers_config.h; GGUF:
// bert.pooling_type), and embeds texts in length-sorted groups.
#include <slm/embedder.h>

#include <slm/encoder.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/gguf.h>

#include "formats/sentence_transformers_config.h"
#include "runtime/embedding_backbone.h"
#include "tokenizer/pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

namespace slm {
namespace {

namespace fs = std::filesystem;

// What a sentence-transformers directory (or a GGUF's keys) says about pooling and normalisation.
struct DeclaredPipeline {
    std::optional<Pooling> pooling;
    bool normalize = false;
    int64_t max_seq_length = 0;
};

DeclaredPipeline read_directory_pipeline(const std::string& dir) {
    const formats::SentenceTransformersConfig st = formats::read_sentence_transformers_config(dir);
    DeclaredPipeline d;
    if (st.pooling) d.pooling = parse_pooling(*st.pooling);
    d.normalize = st.normalize;
    d.max_seq_length = st.max_seq_length;
    return d;
}

DeclaredPipeline read_gguf_pipeline(const GgufFile& gguf, const std::string& arch) {
    DeclaredPipeline d;
    // llama.cpp's LLAMA_POOLING_TYPE: 1 mean, 2 cls, 3 last (0 none, 4 rank: not embeddings).
    if (const auto type = gguf.get_int(arch + ".pooling_type")) {
        if (*type == 1) d.pooling = Pooling::mean;
        else if (*type == 2) d.pooling = Pooling::cls;
        else if (*type == 3) d.pooling = Pooling::last;
        else if (*type != 0) fail("{}: {}.pooling_type is {} (1 mean, 2 cls, 3 last are supported)", gguf.path(), arch, *type);
    }
    // GGUF records no Normalize module; llama.cpp's embedding tools normalise by default, and so do
    // the models packaged for retrieval (bge, e5, MiniLM).
    d.normalize = true;
    return d;
}

// 16 hex digits of FNV-1a 64 over the architecture, every tensor's name, dtype and shape (sorted
// by name), and the first and last 4 KiB of its bytes: another model, quantization or fine-tune
// changes it; a copy or a move of the files does not.
std::string weights_fingerprint(const ModelFiles& files) {
    uint64_t h = 1469598103934665603ULL;
    auto mix = [&](const void* data, size_t n) {
        for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(data)[i]) * 1099511628211ULL;
    };
    auto mix_str = [&](const std::string& s) { mix(s.data(), s.size() + 1); };
    mix_str(files.config.architecture);
    std::vector<std::string> names = files.tensors->tensor_names();
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
        const std::optional<Tensor> t = files.tensors->find_tensor(name);
        if (!t) continue;
        mix_str(name);
        mix_str(std::string(slm::name(t->dtype)));
        for (int64_t d : t->shape) mix(&d, sizeof d);
        const size_t n = t->nbytes(), head = std::min<size_t>(n, 4096), tail = std::min(n - head, size_t(4096));
        mix(t->data, head);
        mix(static_cast<const uint8_t*>(t->data) + n - tail, tail);
    }
    return fmt::format("{:016x}", h);
}

std::string display_name(const std::string& path) {
    fs::path p = fs::path(path).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    return p.filename().string();
}

}  // namespace

Pooling parse_pooling(std::string_view name) {
    if (name == "cls") return Pooling::cls;
    if (name == "mean") return Pooling::mean;
    if (name == "last" || name == "lasttoken") return Pooling::last;
    fail("pooling '{}' is not one of cls, mean, last", name);
}

std::string_view pooling_name(Pooling pooling) {
    switch (pooling) {
    case Pooling::cls: return "cls";
    case Pooling::mean: return "mean";
    case Pooling::last: return "last";
    }
    return "?";
}

void pool_hidden_states(const float* rows, int64_t T, int64_t D, Pooling pooling, float* out) {
    if (T == 0) {
        std::fill(out, out + D, 0.0f);
        return;
    }
    if (pooling == Pooling::cls || pooling == Pooling::last) {
        const float* row = rows + (pooling == Pooling::cls ? 0 : (T - 1) * D);
        std::copy(row, row + D, out);
        return;
    }
    // The mean in double: a long text's sum of hundreds of rows keeps f32's precision.
    std::vector<double> sum(size_t(D), 0.0);
    for (int64_t t = 0; t < T; ++t)
        for (int64_t d = 0; d < D; ++d) sum[size_t(d)] += rows[t * D + d];
    for (int64_t d = 0; d < D; ++d) out[d] = float(sum[size_t(d)] / double(T));
}

std::unique_ptr<Embedder> Embedder::open(const std::string& path, const EmbedderOptions& options) {
    if (options.batch_tokens < 1) fail("embedding batch of {} tokens: it must be positive", options.batch_tokens);
    if (options.max_tokens < 0) fail("max tokens {}: it must be positive (0: the model's)", options.max_tokens);
    std::unique_ptr<Embedder> e(new Embedder());
    // Which backbone: the architecture is in config.json or the GGUF header.
    ModelFiles opened = ModelFiles::open(path);
    const std::string architecture = opened.config.architecture;
    const bool encoder = is_encoder_architecture(architecture);
    e->backbone_ = encoder ? make_encoder_backbone(std::move(opened), options.threads)
                           : make_decoder_backbone(std::move(opened), options.threads);
    const ModelFiles& files = e->backbone_->files();
    e->tokenizer_ = Tokenizer::from_model_path(path);

    DeclaredPipeline declared;
    if (files.gguf) declared = read_gguf_pipeline(*files.gguf, architecture);
    else if (is_directory(path)) declared = read_directory_pipeline(path);
    if (!encoder) declared.normalize = true;  // a decoder's vectors serve cosine similarity only
    e->pooling_ = !options.pooling.empty() ? parse_pooling(options.pooling)
                                           : declared.pooling.value_or(Pooling::mean);
    e->normalize_ = options.normalize.value_or(declared.normalize);

    const int64_t limit = e->backbone_->max_tokens();
    int64_t max_tokens = options.max_tokens;
    if (max_tokens == 0) max_tokens = declared.max_seq_length > 0 ? declared.max_seq_length : encoder ? limit : 512;
    if (limit > 0) max_tokens = std::min(max_tokens, limit);
    if (options.max_tokens > 0 && limit > 0 && options.max_tokens > limit)
        fail("{}: max tokens {} is more than the model's {} positions", path, options.max_tokens, limit);
    const auto& post = e->tokenizer_->pipeline().post;
    if (max_tokens <= int64_t(post.prefix.size() + post.suffix.size()))
        fail("{}: max tokens {} leaves no room for text beside {} special tokens", path, max_tokens,
             post.prefix.size() + post.suffix.size());
    e->max_tokens_ = max_tokens;
    e->batch_tokens_ = options.batch_tokens;
    e->name_ = display_name(path);
    e->identity_ = fmt::format("{}-{}d-{} pooling={} normalize={} max_tokens={}", architecture, e->dim(),
                               weights_fingerprint(files), pooling_name(e->pooling_), e->normalize_ ? "yes" : "no",
                               e->max_tokens_);
    return e;
}

Embedder::~Embedder() = default;

int64_t Embedder::dim() const { return backbone_->dim(); }
std::string Embedder::id() const { return identity_; }
bool Embedder::is_encoder() const { return backbone_->is_encoder(); }

std::vector<int32_t> Embedder::tokens(std::string_view text) const {
    // Specials kept, the text cut (as transformers truncates with add_special_tokens): the
    // pipeline adds exactly post.prefix before and post.suffix after the text's ids.
    const auto& post = tokenizer_->pipeline().post;
    std::vector<int32_t> ids = tokenizer_->encode(text, /*add_special=*/false);
    const size_t room = size_t(max_tokens_) - post.prefix.size() - post.suffix.size();
    if (ids.size() > room) ids.resize(room);
    ids.insert(ids.begin(), post.prefix.begin(), post.prefix.end());
    ids.insert(ids.end(), post.suffix.begin(), post.suffix.end());
    return ids;
}

std::vector<std::vector<float>> Embedder::embed(std::span<const std::string> texts) {
    std::vector<std::vector<int32_t>> ids(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) ids[i] = tokens(texts[i]);
    return embed_tokens(ids);
}

std::vector<std::vector<float>> Embedder::embed_tokens(std::span<const std::vector<int32_t>> texts) {
    const int64_t D = dim();
    std::vector<std::vector<float>> out(texts.size(), std::vector<float>(size_t(D), 0.0f));
    // Longest first, in groups of count x longest <= batch_tokens: similar lengths share a forward
    // (a decoder's cache is sized by the longest) and one long text runs alone.
    std::vector<size_t> order;
    for (size_t i = 0; i < texts.size(); ++i) {
        if (int64_t(texts[i].size()) > max_tokens_)
            fail("{}: text {} has {} tokens, more than the {} this embedder takes", name_, i, texts[i].size(), max_tokens_);
        if (!texts[i].empty()) order.push_back(i);  // a decoder without specials: an empty text stays zero
    }
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return texts[a].size() > texts[b].size(); });
    std::vector<std::vector<int32_t>> group;
    std::vector<size_t> members;
    std::vector<float> pooled;
    auto flush = [&] {
        if (group.empty()) return;
        pooled.resize(group.size() * size_t(D));
        backbone_->embed(group, pooling_, pooled.data());
        for (size_t g = 0; g < group.size(); ++g)
            std::copy(pooled.begin() + int64_t(g) * D, pooled.begin() + int64_t(g + 1) * D, out[members[g]].begin());
        group.clear();
        members.clear();
    };
    for (size_t i : order) {
        const int64_t longest = group.empty() ? int64_t(texts[i].size()) : int64_t(group.front().size());
        if (!group.empty() && int64_t(group.size() + 1) * longest > batch_tokens_) flush();
        group.push_back(texts[i]);
        members.push_back(i);
    }
    flush();
    if (normalize_)
        for (auto& v : out) {
            // sentence-transformers' Normalize: x / max(‖x‖, 1e-12)
            double sq = 0;
            for (float x : v) sq += double(x) * x;
            const float inv = float(1.0 / std::max(std::sqrt(sq), 1e-12));
            for (float& x : v) x *= inv;
        }
    return out;
}

}  // namespace slm

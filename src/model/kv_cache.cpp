// KvCache: per-layer, per-sequence key/value blocks in f16 or f32 (in GPU memory for the layers
// the GPU runs), and the Batch of (token, position, sequence) entries that a forward fills them
// from.
#include <slm/error.h>
#include <slm/model.h>

#include "model/backend.h"

#include <algorithm>

namespace slm {

void Batch::add(int32_t token, int32_t position, int32_t seq_id, bool logits) {
    tokens.push_back(token);
    positions.push_back(position);
    seq_ids.push_back(seq_id);
    want_logits.push_back(logits ? 1 : 0);
}

void Batch::clear() {
    tokens.clear();
    positions.clear();
    seq_ids.clear();
    want_logits.clear();
}

size_t Batch::n_logits() const { return size_t(std::count(want_logits.begin(), want_logits.end(), uint8_t(1))); }

KvCache::KvCache(const ModelConfig& config, int n_ctx, int n_seq, DType dtype, Device device, int device_layers)
    : n_ctx_(n_ctx), n_layers_(config.num_layers), dtype_(dtype), device_(device) {
    if (dtype != DType::f16 && dtype != DType::f32) fail("KV cache: dtype {} is not f16 or f32", name(dtype));
    if (n_ctx <= 0) fail("KV cache: context size {} is not positive", n_ctx);
    if (n_seq <= 0) fail("KV cache: {} sequences requested", n_seq);
    if (device_layers < -1) fail("KV cache: {} layers on the device (expected -1 for all, or a count)", device_layers);
    device_layers_ = device == Device::cpu ? n_layers_ : std::min(device_layers < 0 ? n_layers_ : device_layers, n_layers_);
    slot_bytes_ = row_bytes(dtype, int64_t(config.num_kv_heads) * config.head_dim);
    const size_t layer_bytes = slot_bytes_ * size_t(n_ctx) * size_t(n_seq);
    const size_t on_device = layer_bytes * size_t(device_layers_), on_host = layer_bytes * size_t(n_layers_ - device_layers_);
    if (on_device > 0) {
        device_k_ = model::allocate_zeroed(device, on_device);
        device_v_ = model::allocate_zeroed(device, on_device);
    }
    if (on_host > 0) {
        host_k_ = model::allocate_zeroed(Device::cpu, on_host);
        host_v_ = model::allocate_zeroed(Device::cpu, on_host);
    }
    lengths_.assign(size_t(n_seq), 0);
}

KvCache::KvCache(const Model& model, int n_ctx, int n_seq, DType dtype)
    : KvCache(model.config(), n_ctx, n_seq, dtype, model.device(), model.gpu_layers()) {}

void KvCache::check_seq(int seq) const {
    if (seq < 0 || seq >= n_seq()) fail("KV cache: sequence {} is out of range (the cache has {})", seq, n_seq());
}

int KvCache::length(int seq) const {
    check_seq(seq);
    return lengths_[size_t(seq)];
}

void KvCache::truncate(int seq, int length) {
    check_seq(seq);
    lengths_[size_t(seq)] = std::clamp(length, 0, lengths_[size_t(seq)]);
}

void KvCache::extend(int seq, int end) {
    check_seq(seq);
    if (end > n_ctx_) fail("KV cache: position {} is past the context size {}", end - 1, n_ctx_);
    lengths_[size_t(seq)] = std::max(lengths_[size_t(seq)], end);
}

void KvCache::copy_prefix(int src, int dst, int length) {
    check_seq(src);
    check_seq(dst);
    length = std::min(length, lengths_[size_t(src)]);
    for (int l = 0; l < n_layers_; ++l) {
        model::copy_bytes(device(l), keys(l, dst), keys(l, src), slot_bytes_ * size_t(length));
        model::copy_bytes(device(l), values(l, dst), values(l, src), slot_bytes_ * size_t(length));
    }
    lengths_[size_t(dst)] = length;
}

// Within its memory's block: the device's layers count from 0, the host's from device_layers_.
size_t KvCache::block_offset(int layer, int seq) const {
    const int index = layer < device_layers_ ? layer : layer - device_layers_;
    return (size_t(index) * size_t(n_seq()) + size_t(seq)) * size_t(n_ctx_) * slot_bytes_;
}

uint8_t* KvCache::keys(int layer, int seq) {
    return (layer < device_layers_ ? device_k_ : host_k_).get() + block_offset(layer, seq);
}
uint8_t* KvCache::values(int layer, int seq) {
    return (layer < device_layers_ ? device_v_ : host_v_).get() + block_offset(layer, seq);
}

}  // namespace slm

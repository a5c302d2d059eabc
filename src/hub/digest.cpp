// SHA-256 / SHA-1 over OpenSSL's EVP interface, incremental so a download is hashed as it arrives.
#include "hub/digest.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <slm/error.h>

namespace slm::hub {

struct Digest::State {
    const EVP_MD* md = nullptr;
    EVP_MD_CTX* ctx = nullptr;
    ~State() { EVP_MD_CTX_free(ctx); }
};

Digest::Digest(const void* md) : state_(std::make_unique<State>()) {
    state_->md = static_cast<const EVP_MD*>(md);
    state_->ctx = EVP_MD_CTX_new();
    if (!state_->ctx) throw std::bad_alloc();
    reset();
}

Digest Digest::sha256() { return Digest(EVP_sha256()); }
Digest Digest::sha1() { return Digest(EVP_sha1()); }
Digest::Digest(Digest&&) noexcept = default;
Digest& Digest::operator=(Digest&&) noexcept = default;
Digest::~Digest() = default;

void Digest::reset() {
    if (EVP_DigestInit_ex(state_->ctx, state_->md, nullptr) != 1) fail("OpenSSL: cannot start a digest");
}

void Digest::update(const void* data, size_t n) {
    if (n && EVP_DigestUpdate(state_->ctx, data, n) != 1) fail("OpenSSL: digest update failed");
}

std::string Digest::hex() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(state_->ctx, out, &len) != 1) fail("OpenSSL: digest final failed");
    std::string s;
    s.reserve(len * 2);
    for (unsigned i = 0; i < len; ++i) s += fmt::format("{:02x}", out[i]);
    return s;
}

std::string sha256_hex(std::string_view data) {
    Digest d = Digest::sha256();
    d.update(data);
    return d.hex();
}

std::string git_blob_sha1(std::string_view data) {
    Digest d = Digest::sha1();
    const std::string header = fmt::format("blob {}", data.size());
    d.update(header.data(), header.size() + 1);  // with its terminating NUL
    d.update(data);
    return d.hex();
}

}  // namespace slm::hub

// Streaming SHA-256 and SHA-1 (OpenSSL EVP): LFS blobs are checked against the sha256 the Hub
// lists before they are linked; SHA-1 names git blobs (the ETag of a file kept in git, not LFS).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace slm::hub {

class Digest {
public:
    static Digest sha256();
    static Digest sha1();
    Digest(Digest&&) noexcept;
    Digest& operator=(Digest&&) noexcept;
    ~Digest();
    void update(const void* data, size_t n);
    void update(std::string_view s) { update(s.data(), s.size()); }
    std::string hex();  // finishes; call reset() before reusing
    void reset();

private:
    explicit Digest(const void* md);
    struct State;
    std::unique_ptr<State> state_;
};

std::string sha256_hex(std::string_view data);
// The git object id of a file's contents: sha1("blob <size>\0" + data).
std::string git_blob_sha1(std::string_view data);

}  // namespace slm::hub

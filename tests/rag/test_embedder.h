// Test support for tests/rag: a deterministic bag-of-words embedder (each word hashed to a few
// signed dimensions) that counts its calls, quiet index options, and helpers that write small
// document trees and PDFs.
#pragma once

#include <slm/rag.h>

#include <atomic>
#include <string>
#include <vector>

namespace slm::rag::test {

class HashingEmbedder : public TextEmbedder {
public:
    explicit HashingEmbedder(std::string id = "test-hashing-64", int dim = 64) : id_(std::move(id)), dim_(dim) {}
    std::string id() const override { return id_; }
    int dim() const override { return dim_; }
    // One token per whitespace-separated word: sizes in tests are easy to reason about.
    size_t count_tokens(std::string_view text) const override;
    std::vector<std::vector<float>> embed(std::span<const std::string> texts) override;

    std::atomic<int> calls{0};
    std::atomic<int> texts_embedded{0};
    int delay_ms = 0;  // per text: lets a test kill an index run midway

private:
    std::string id_;
    int dim_;
};

// Index options for tests: no progress bar, chunks of 64 tokens overlapping by 8.
IndexOptions quiet_index_options();

void write_file(const std::string& path, const std::string& contents);
// A minimal PDF whose pages hold the given lines of text (Helvetica, one text object per page).
std::string make_pdf(const std::vector<std::string>& pages);
// The same PDF with an /Encrypt dictionary whose user password is not empty.
std::string make_encrypted_pdf(const std::string& text);

}  // namespace slm::rag::test

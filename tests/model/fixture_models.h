// Test support for the model fixtures of tests/fixtures/models: their transformers references,
// a GGUF copy of an HF fixture written as llama.cpp's converter lays it out, and comparisons.
#pragma once

#include <slm/model.h>

#include <nlohmann/json.hpp>

#include <span>
#include <string>
#include <vector>

namespace slm::test {

// The tiny random-weight models make_fixtures.py writes.
const std::vector<std::string>& tiny_fixture_names();
std::string fixture_model_dir(const std::string& name);
nlohmann::json read_json(const std::string& path);

// Writes the HF model at `hf_dir` as a GGUF file: llama.cpp tensor names and metadata keys, q/k
// rows of llama-arch models permuted for "normal" rope as convert_hf_to_gguf.py's `permute`,
// norms in f32, matrices kept in their dtype or converted to `matrix_dtype` when given.
void write_fixture_gguf(const std::string& hf_dir, const std::string& gguf_path,
                        std::optional<DType> matrix_dtype = std::nullopt);

// max |a - b|, and max |b|.
float max_abs_diff(std::span<const float> a, std::span<const float> b);
float max_abs(std::span<const float> a);

}  // namespace slm::test

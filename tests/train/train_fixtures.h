// What the training tests share: the fixed batch of the PyTorch fixtures (made by
// tests/fixtures/make_lora_fixtures.py and make_train_fixtures.py), JSON reading, the error
// measure every comparison uses, and the check of an expected error message.
#pragma once

#include <slm/error.h>

#include "train/dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>

namespace slm::train::test_fixtures {

inline nlohmann::json read_json(const std::string& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

// A reference.json's "batch" as a Dataset, one example per sequence.
inline Dataset batch_data(const nlohmann::json& ref) {
    Dataset data;
    for (const auto& seq : ref["batch"]) {
        Example e;
        e.tokens = seq["tokens"].get<std::vector<int32_t>>();
        e.target = seq["target"].get<std::vector<uint8_t>>();
        data.examples.push_back(std::move(e));
    }
    return data;
}

// The fixtures' batch (two sequences, the first with a four-token prompt) as one micro-batch.
inline TrainBatch batch_of(const nlohmann::json& ref) { return make_batch(batch_data(ref), {{0}, {1}}); }

// max |a - b| / max |b|: relative to the tensor's scale, so that near-zero entries do not count
// for more than the tensor's numbers do.
inline double scaled_error(const float* a, const float* b, int64_t n) {
    double diff = 0, scale = 0;
    for (int64_t i = 0; i < n; ++i) {
        diff = std::max(diff, double(std::fabs(a[i] - b[i])));
        scale = std::max(scale, double(std::fabs(b[i])));
    }
    return scale > 0 ? diff / scale : diff;
}

// Runs `run`, which must throw slm::Error with `needle` in its message.
template <typename F>
void expect_error(F run, const std::string& needle) {
    try {
        run();
        ADD_FAILURE() << "expected an error containing '" << needle << "'";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), ::testing::HasSubstr(needle));
    }
}

}  // namespace slm::train::test_fixtures

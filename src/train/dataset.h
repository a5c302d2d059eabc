// Training data for fine-tuning: JSONL examples (text, prompt/completion, Alpaca, chat messages) or
// plain text, tokenized with a per-token loss mask, and the micro-batches of each epoch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slm {
class Tokenizer;
class ChatTemplate;
}  // namespace slm

namespace slm::train {

// One training example: token ids and, per token, whether it is a target of the loss (a token the
// model must predict from those before it). target[0] is always 0: nothing precedes it.
struct Example {
    std::vector<int32_t> tokens;
    std::vector<uint8_t> target;
};

struct DataOptions {
    int64_t max_seq_len = 1024;  // longer examples are truncated (counted in Dataset::truncated)
};

struct Dataset {
    std::string path;
    std::vector<Example> examples;
    std::string format;    // "text", "prompt/completion", "alpaca", "messages", "plain text" (or "mixed: …")
    size_t truncated = 0;  // examples cut to max_seq_len
    // Examples dropped because no target token was left (a prompt that fills max_seq_len, an empty
    // completion without EOS). truncated and skipped describe the file as loaded: split_dataset
    // leaves them on the train part.
    size_t skipped = 0;
    size_t target_tokens() const;
};

// Reads a .jsonl file (format detected per line) or a plain .txt file (by its extension; anything
// that is not .txt is read as JSONL). `chat` is the model's chat template (may be null: then a
// "messages" line is an error saying the model has no chat template). Throws slm::Error naming
// FILE:LINE and the field for each malformed line.
Dataset load_dataset(const std::string& path, const Tokenizer& tokenizer, const ChatTemplate* chat,
                     const DataOptions& options);

// Deterministic split of a dataset into train and eval parts (fraction of examples to eval, at
// least 1, and at least 1 left to train), by a seeded shuffle; each part keeps the file's order.
std::pair<Dataset, Dataset> split_dataset(Dataset all, double eval_fraction, uint64_t seed);

// The token rows of one micro-batch, packed end to end into one array of T tokens (no padding):
// each row is one example, or, when packing, several examples concatenated up to max_seq_len.
// Sequences never attend across example boundaries.
struct TrainBatch {
    std::vector<int32_t> tokens;  // [T]
    // [T] position within its example (restarts at 0 for each example, also inside packed rows)
    std::vector<int32_t> positions;
    std::vector<int32_t> seg_begin;  // [T] index in `tokens` of the first token of its example
    // [T] the next token when it is a target of the loss, else -1 (last token of an example: -1)
    std::vector<int32_t> labels;
    int64_t rows = 0;             // sequences (rows) in the batch
    size_t target_count() const;  // labels >= 0
};

// The order of one epoch: rows of examples (one example per row, or greedily packed rows of up to
// max_seq_len tokens when `packing`), shuffled with `seed` and `epoch`, grouped into micro-batches
// of `batch_size` rows (the last one may have fewer). Deterministic: same inputs, same batches.
// An example longer than max_seq_len is an error (load the data with the same max_seq_len).
struct EpochPlan {
    std::vector<std::vector<std::vector<size_t>>> batches;  // batch -> rows -> example indices
};
EpochPlan plan_epoch(const Dataset& data, int64_t batch_size, int64_t max_seq_len, bool packing, uint64_t seed,
                     int epoch);
TrainBatch make_batch(const Dataset& data, const std::vector<std::vector<size_t>>& rows);

// One JSONL line checked for its format and fields, before any tokenization (so that it can be
// tested and fuzzed without a model). A line's format is the first of these whose fields it has:
// "messages"; "prompt"/"completion"; "instruction"/"output" (Alpaca); "text". Other fields are
// ignored, so Alpaca files that also carry the formatted "text" train prompt-masked.
struct ExampleFields {
    enum class Format { text, prompt_completion, alpaca, messages };
    Format format = Format::text;
    std::string text;                 // text
    std::string prompt, completion;   // prompt/completion, and alpaca (prompt = alpaca_prompt(…))
    nlohmann::ordered_json messages;  // messages: a non-empty list of {role, content, …}
};
// `where` ("FILE:LINE") starts every error message.
ExampleFields parse_example_line(std::string_view line, const std::string& where);
const char* format_name(ExampleFields::Format format);

// The tokens and loss mask of one line as parse_example_line returned it, before truncation
// (load_dataset truncates to max_seq_len). `chat` may be null; a "messages" example then fails.
Example encode_example(const ExampleFields& fields, const Tokenizer& tokenizer, const ChatTemplate* chat,
                       const std::string& where);

// The Stanford Alpaca prompt: the variant with an "### Input:" section when `input` is not empty.
std::string alpaca_prompt(std::string_view instruction, std::string_view input);

}  // namespace slm::train

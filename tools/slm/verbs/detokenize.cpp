// `slm detokenize MODEL IDS... [--skip-special]`: the text of token ids, decoded with the model's
// own tokenizer (GGUF file or HF directory).
#include <CLI/CLI.hpp>
#include <slm/error.h>
#include <slm/tokenizer.h>

#include <fmt/format.h>

#include <charconv>
#include <memory>
#include <string>
#include <vector>

#include "model_arg.h"

namespace {

struct DetokenizeOptions {
    std::string model;
    std::vector<std::string> ids;
    bool skip_special = false;
};

// Ids may come as separate arguments or as one argument separated by spaces or commas.
std::vector<int32_t> parse_ids(const std::vector<std::string>& args, int32_t vocab_size) {
    std::vector<int32_t> ids;
    for (const std::string& arg : args) {
        size_t pos = 0;
        while (pos < arg.size()) {
            if (arg[pos] == ' ' || arg[pos] == ',' || arg[pos] == '\t' || arg[pos] == '\n') {
                ++pos;
                continue;
            }
            size_t end = arg.find_first_of(" ,\t\n", pos);
            if (end == std::string::npos) end = arg.size();
            std::string word = arg.substr(pos, end - pos);
            int64_t id = -1;
            auto [ptr, ec] = std::from_chars(word.data(), word.data() + word.size(), id);
            if (ec != std::errc() || ptr != word.data() + word.size())
                slm::fail("'{}' is not a token id (expected a non-negative integer)", word);
            if (id < 0 || id >= vocab_size) slm::fail("token id {} is out of range: the vocabulary has {} tokens", id, vocab_size);
            ids.push_back(static_cast<int32_t>(id));
            pos = end;
        }
    }
    return ids;
}

void run_detokenize(const DetokenizeOptions& o) {
    auto tok = slm::Tokenizer::from_model_path(o.model);
    auto ids = parse_ids(o.ids, tok->vocab_size());
    fmt::print("{}\n", tok->decode(ids, o.skip_special));
}

}  // namespace

void add_verb_detokenize(CLI::App& app) {
    auto opts = std::make_shared<DetokenizeOptions>();
    auto* cmd = app.add_subcommand("detokenize", "Turn token ids back into text (MODEL: GGUF file or HF model directory)");
    auto models = std::make_shared<slm::cli::ModelArgs>(cmd);
    models->add("MODEL", opts->model, "GGUF file or Hugging Face model directory")->required();
    cmd->add_option("IDS", opts->ids, "token ids (separate arguments, or one separated by spaces or commas)")->required();
    cmd->add_flag("--skip-special", opts->skip_special, "leave out special tokens (BOS, EOS, <|im_start|>, …)");
    cmd->callback([opts, models] {
        models->resolve();
        run_detokenize(*opts);
    });
}

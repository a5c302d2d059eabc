// `slm tokenize MODEL [TEXT | --file F] [--ids | --pieces] [--no-special] [--parse-special]`:
// the token ids of a text with the model's own tokenizer (GGUF file or HF directory).
#include <CLI/CLI.hpp>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/tokenizer.h>

#include <fmt/format.h>

#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include "model_arg.h"

namespace {

struct TokenizeOptions {
    std::string model, text, file;
    bool ids_only = false, pieces_only = false, no_special = false, parse_special = false;
};

// Control characters and backslashes escaped, so each piece stays on one line.
std::string printable(const std::string& piece) {
    std::string out;
    for (unsigned char c : piece) {
        switch (c) {
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\\': out += "\\\\"; break;
            default:
                if (c < 0x20 || c == 0x7F)
                    out += fmt::format("\\x{:02x}", c);
                else
                    out += static_cast<char>(c);
        }
    }
    return out;
}

void run_tokenize(const TokenizeOptions& o) {
    std::string text;
    if (!o.file.empty()) {
        if (!o.text.empty()) slm::fail("give the text either as an argument or with --file, not both");
        text = slm::read_text_file(o.file);
    } else if (!o.text.empty()) {
        text = o.text;
    } else {
        text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    }
    auto tok = slm::Tokenizer::from_model_path(o.model);
    auto ids = tok->encode(text, !o.no_special, o.parse_special);
    std::string out;
    if (o.ids_only) {
        for (size_t i = 0; i < ids.size(); ++i) {
            if (i) out += ' ';
            out += std::to_string(ids[i]);
        }
        out += '\n';
    } else if (o.pieces_only) {
        for (int32_t id : ids) {
            out += printable(tok->token_piece(id));
            out += '\n';
        }
    } else {
        for (int32_t id : ids) out += fmt::format("{}\t{}\n", id, printable(tok->token_piece(id)));
    }
    fmt::print("{}", out);
}

}  // namespace

void add_verb_tokenize(CLI::App& app) {
    auto opts = std::make_shared<TokenizeOptions>();
    auto* cmd = app.add_subcommand("tokenize", "Show the tokens of a text (MODEL: GGUF file or HF model directory)");
    auto models = std::make_shared<slm::cli::ModelArgs>(cmd);
    models->add("MODEL", opts->model, "GGUF file or Hugging Face model directory")->required();
    cmd->add_option("TEXT", opts->text, "text to tokenize (default: standard input)");
    cmd->add_option("--file,-f", opts->file, "read the text from this file");
    auto* ids = cmd->add_flag("--ids", opts->ids_only, "print only the ids, on one line separated by spaces");
    auto* pieces = cmd->add_flag("--pieces", opts->pieces_only, "print only the vocabulary pieces, one per line");
    ids->excludes(pieces);
    cmd->add_flag("--no-special", opts->no_special, "add no BOS/EOS or other template tokens");
    cmd->add_flag("--parse-special", opts->parse_special, "map special-token text such as <|im_start|> to its id");
    cmd->callback([opts, models] {
        models->resolve();
        run_tokenize(*opts);
    });
}

// Training data: JSONL lines and plain text to token ids with a loss mask (see dataset.h for the
// formats), the seeded train/eval split, and each epoch's shuffled, optionally packed micro-batches.
#include "train/dataset.h"

#include <slm/chat_template.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/tokenizer.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace slm::train {
namespace {

using nlohmann::ordered_json;

// Hostile lines nest arrays without end; the template renderer walks values recursively, and
// no real example nests deeper than a few levels.
constexpr int kMaxJsonDepth = 64;
// Input quoted in error messages (roles, keys, the parser's "last read" text) is cut short.
constexpr size_t kQuoteBytes = 60, kReasonBytes = 200;

// SplitMix64 (Steele, Lea and Flood, 2014): fully specified, so an epoch's order is the same with
// every standard library (std::shuffle and the std distributions are implementation-defined).
uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

struct Rng {
    uint64_t state;
    uint64_t next() { return mix(state += 0x9e3779b97f4a7c15ULL); }
    // Uniform in [0, n): draws above the largest multiple of n are rejected, so there is no bias.
    uint64_t below(uint64_t n) {
        const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % n;
        uint64_t x = next();
        while (x >= limit) x = next();
        return x % n;
    }
};

// Each use of a seed gets its own stream (the split and every epoch), not a shifted copy of one.
Rng stream(uint64_t seed, uint64_t purpose) { return Rng{mix(seed ^ mix(purpose + 0x632be59bd9b4e019ULL))}; }

std::vector<size_t> shuffled_indices(size_t n, Rng rng) {
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);  // Fisher-Yates
    return order;
}

std::string shorten(std::string_view s, size_t limit = kQuoteBytes) {
    if (s.size() <= limit) return std::string(s);
    size_t n = limit;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // not inside a UTF-8 sequence
    return std::string(s.substr(0, n)) + "…";
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool is_blank(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

ordered_json parse_json(std::string_view line, const std::string& where) {
    const auto limit_depth = [&](int depth, ordered_json::parse_event_t event, ordered_json&) {
        if (depth > kMaxJsonDepth &&
            (event == ordered_json::parse_event_t::object_start || event == ordered_json::parse_event_t::array_start))
            fail("{}: JSON nested deeper than {} levels", where, kMaxJsonDepth);
        return true;
    };
    try {
        return ordered_json::parse(line.begin(), line.end(), limit_depth);
    } catch (const ordered_json::parse_error& e) {
        // nlohmann's text is "[json.exception.parse_error.101] parse error at line 1, column 5: <reason>";
        // the line is ours to name, the column is e.byte.
        std::string_view reason = e.what();
        if (const size_t at = reason.find("column "); at != std::string_view::npos) {
            if (const size_t colon = reason.find(": ", at); colon != std::string_view::npos)
                reason.remove_prefix(colon + 2);
        }
        fail("{}:{}: invalid JSON: {}", where, e.byte, shorten(reason, kReasonBytes));
    } catch (const ordered_json::exception& e) {
        // Also a malformed line: a number beyond double's range ("1e999") is out_of_range.406.
        std::string_view reason = e.what();
        if (const size_t bracket = reason.find("] "); bracket != std::string_view::npos)
            reason.remove_prefix(bracket + 2);
        fail("{}: invalid JSON: {}", where, shorten(reason, kReasonBytes));
    }
}

// A string field; an optional one may be absent or null (then "").
std::string string_field(const ordered_json& object, const char* key, const std::string& where, bool required) {
    const auto it = object.find(key);
    if (it == object.end() || (!required && it->is_null())) {
        if (required) fail("{}: missing field \"{}\"", where, key);
        return "";
    }
    if (!it->is_string()) fail("{}: field \"{}\" must be a string (found {})", where, key, it->type_name());
    return it->get<std::string>();
}

ordered_json checked_messages(const ordered_json& value, const std::string& where) {
    if (!value.is_array())
        fail("{}: field \"messages\" must be a list of {{\"role\", \"content\"}} objects (found {})", where,
             value.type_name());
    if (value.empty()) fail("{}: field \"messages\" is an empty list", where);
    bool has_assistant = false;
    for (size_t i = 0; i < value.size(); ++i) {
        const ordered_json& m = value[i];
        if (!m.is_object()) fail("{}: field \"messages[{}]\" must be an object (found {})", where, i, m.type_name());
        const auto role = m.find("role");
        if (role == m.end()) fail("{}: missing field \"messages[{}].role\"", where, i);
        if (!role->is_string())
            fail("{}: field \"messages[{}].role\" must be a string (found {})", where, i, role->type_name());
        const std::string& r = role->get_ref<const std::string&>();
        if (r != "system" && r != "user" && r != "assistant" && r != "tool")
            fail("{}: field \"messages[{}].role\" must be system, user, assistant or tool (found \"{}\")", where, i,
                 shorten(r));
        has_assistant = has_assistant || r == "assistant";
        const auto content = m.find("content");
        if (content == m.end()) fail("{}: missing field \"messages[{}].content\"", where, i);
        if (!content->is_string())
            fail("{}: field \"messages[{}].content\" must be a string (found {})", where, i, content->type_name());
    }
    if (!has_assistant) fail("{}: field \"messages\" has no assistant message (nothing to learn)", where);
    return value;
}

std::string key_list(const ordered_json& object) {
    if (object.empty()) return "no fields";
    std::string keys;
    size_t n = 0;
    for (const auto& item : object.items()) {
        if (n == 5) return keys + ", …";
        keys += (n++ ? ", \"" : "\"") + shorten(item.key()) + "\"";
    }
    return keys;
}

// --- tokenization --------------------------------------------------------------------------

// Ends a sequence with the tokenizer's EOS unless its post-processor already put it there; a
// tokenizer without EOS leaves it as is.
void end_with_eos(std::vector<int32_t>& ids, const Tokenizer& tokenizer) {
    const std::vector<int32_t> eos = tokenizer.eos_ids();
    if (!eos.empty() && (ids.empty() || ids.back() != eos.front())) ids.push_back(eos.front());
}

Example from_text(const std::string& text, const Tokenizer& tokenizer) {
    Example ex;
    ex.tokens = tokenizer.encode(text, /*add_special=*/true);
    end_with_eos(ex.tokens, tokenizer);
    ex.target.assign(ex.tokens.size(), 1);
    if (!ex.target.empty()) ex.target[0] = 0;  // the BOS, or a first token nothing predicts
    return ex;
}

// TRL's completion-only loss: the prompt (with BOS) is context, the completion and EOS are targets.
Example from_prompt_completion(const std::string& prompt, const std::string& completion, const Tokenizer& tokenizer) {
    Example ex;
    ex.tokens = tokenizer.encode(prompt, /*add_special=*/true);
    const std::vector<int32_t> eos = tokenizer.eos_ids();
    // A tokenizer that appends EOS would end the prompt with it; the sequence goes on.
    if (tokenizer.add_eos() && !eos.empty() && !ex.tokens.empty() && ex.tokens.back() == eos.front())
        ex.tokens.pop_back();
    ex.target.assign(ex.tokens.size(), 0);
    std::vector<int32_t> answer = tokenizer.encode(completion, /*add_special=*/false);
    end_with_eos(answer, tokenizer);
    ex.tokens.insert(ex.tokens.end(), answer.begin(), answer.end());
    ex.target.resize(ex.tokens.size(), 1);
    if (!ex.target.empty()) ex.target[0] = 0;
    return ex;
}

bool is_whitespace_token(const Tokenizer& tokenizer, int32_t id) {
    const std::string bytes = tokenizer.token_bytes(id);
    return !bytes.empty() && is_blank(bytes);
}

// A chat conversation rendered with the model's template; the loss is on the assistant messages.
// The text is cut where each assistant message starts (the conversation before it, rendered with
// the generation prompt: what the model is given at inference) and ends (the conversation through
// it). The whole text is tokenized once, as inference tokenizes a prompt, and each cut is placed
// in the tokens where the tokens of the text before it stop matching the whole's (a token that
// straddles a cut goes to the later part). Messages after the last assistant one carry no target
// and are left out.
Example from_messages(const ordered_json& messages, const Tokenizer& tokenizer, const ChatTemplate& chat,
                      const std::string& where) {
    const auto render = [&](size_t count, bool generation_prompt) {
        ordered_json head = ordered_json::array();
        for (size_t i = 0; i < count; ++i) head.push_back(messages[i]);
        ChatRenderOptions options;
        options.add_generation_prompt = generation_prompt;
        try {
            return chat.render(head, options);
        } catch (const Error& e) {
            fail("{}: the chat template failed on the first {} messages: {}", where, count, e.what());
        }
    };
    struct Cut {
        size_t end;  // text offset where this part ends
        bool assistant;
    };
    std::vector<Cut> cuts;
    std::string text;  // the conversation through the last assistant message so far
    for (size_t i = 0; i < messages.size(); ++i) {
        if (messages[i]["role"] != "assistant") continue;
        const std::string prompt = render(i, true);
        const std::string through = render(i + 1, false);
        if (!starts_with(prompt, text) || !starts_with(through, prompt))
            fail(
                "{}: the chat template is not incremental: the conversation before messages[{}] (with the generation "
                "prompt) does not render as the start of the conversation through it, so its assistant text cannot "
                "be told apart",
                where, i);
        cuts.push_back({prompt.size(), false});
        cuts.push_back({through.size(), true});
        text = through;
    }

    Example ex;
    ex.tokens = tokenizer.encode(text, /*add_special=*/false, /*parse_special=*/true);
    // Templates of models that want a BOS write it themselves; add it only where they do not.
    const std::optional<int32_t> bos = tokenizer.bos_id();
    const size_t lead = tokenizer.add_bos() && bos && (ex.tokens.empty() || ex.tokens.front() != *bos) ? 1 : 0;
    if (lead) ex.tokens.insert(ex.tokens.begin(), *bos);
    ex.target.assign(ex.tokens.size(), 0);

    size_t begin = lead;
    for (size_t k = 0; k < cuts.size(); ++k) {
        size_t end = ex.tokens.size();
        if (k + 1 < cuts.size()) {
            const std::vector<int32_t> part =
                tokenizer.encode(std::string_view(text).substr(0, cuts[k].end), false, /*parse_special=*/true);
            const size_t n = std::min(part.size(), ex.tokens.size() - lead);
            end = lead +
                  size_t(std::mismatch(part.begin(), part.begin() + long(n), ex.tokens.begin() + long(lead)).first -
                         part.begin());
            end = std::max(end, begin);
        }
        if (cuts[k].assistant) {
            // The template's end-of-turn token (<|im_end|>, <|eot_id|>, </s>…) is a target: it is how
            // the model learns to stop. Whitespace the template writes after it is not: generation
            // stops at that token, so the model never produces what follows.
            size_t last = end;
            for (size_t j = end; j > begin; --j) {
                if (tokenizer.is_special(ex.tokens[j - 1])) {
                    bool blank_after = true;
                    for (size_t t = j; t < end; ++t)
                        blank_after = blank_after && is_whitespace_token(tokenizer, ex.tokens[t]);
                    if (blank_after) last = j;
                    break;
                }
            }
            std::fill(ex.target.begin() + long(begin), ex.target.begin() + long(last), 1);
        }
        begin = end;
    }
    if (!ex.target.empty()) ex.target[0] = 0;
    return ex;
}

// Collects examples, truncating and dropping as DataOptions says, and names the formats seen.
struct DatasetBuilder {
    Dataset data;
    int64_t max_seq_len;
    std::vector<std::string> formats;

    void add(Example ex, const std::string& format) {
        if (int64_t(ex.tokens.size()) > max_seq_len) {
            ex.tokens.resize(size_t(max_seq_len));
            ex.target.resize(size_t(max_seq_len));
            ++data.truncated;
        }
        if (std::find(ex.target.begin(), ex.target.end(), 1) == ex.target.end()) {
            ++data.skipped;
            return;
        }
        data.examples.push_back(std::move(ex));
        if (std::find(formats.begin(), formats.end(), format) == formats.end()) formats.push_back(format);
    }

    Dataset finish(size_t pieces, const char* what) && {
        if (data.examples.empty())
            fail("{}: no usable example ({} {}; {} without a target token within max_seq_len {})", data.path, pieces,
                 what, data.skipped, max_seq_len);
        if (formats.size() == 1) {
            data.format = formats.front();
        } else {
            data.format = "mixed: ";
            for (size_t i = 0; i < formats.size(); ++i) data.format += (i ? ", " : "") + formats[i];
        }
        return std::move(data);
    }
};

Dataset load_jsonl(const std::string& path, std::string_view contents, const Tokenizer& tokenizer,
                   const ChatTemplate* chat, DatasetBuilder builder) {
    if (starts_with(contents, "\xEF\xBB\xBF")) contents.remove_prefix(3);  // a UTF-8 byte-order mark
    size_t line_number = 0, examples = 0;
    while (!contents.empty()) {
        const size_t eol = contents.find('\n');
        std::string_view line = contents.substr(0, eol);
        contents.remove_prefix(eol == std::string_view::npos ? contents.size() : eol + 1);
        ++line_number;
        if (is_blank(line)) continue;
        const std::string where = fmt::format("{}:{}", path, line_number);
        const ExampleFields fields = parse_example_line(line, where);
        ++examples;
        builder.add(encode_example(fields, tokenizer, chat, where), format_name(fields.format));
    }
    if (examples == 0) fail("{}: no examples (the file is empty or blank)", path);
    return std::move(builder).finish(examples, examples == 1 ? "example" : "examples");
}

// A plain text file is one document: tokenized once, then cut into max_seq_len pieces.
Dataset load_plain_text(std::string_view contents, const Tokenizer& tokenizer, DatasetBuilder builder) {
    if (is_blank(contents)) fail("{}: the file is empty or blank", builder.data.path);
    const Example whole = from_text(std::string(contents), tokenizer);
    const size_t step = size_t(builder.max_seq_len);
    size_t pieces = 0;
    for (size_t begin = 0; begin < whole.tokens.size(); begin += step, ++pieces) {
        const size_t end = std::min(whole.tokens.size(), begin + step);
        Example piece{{whole.tokens.begin() + long(begin), whole.tokens.begin() + long(end)},
                      std::vector<uint8_t>(end - begin, 1)};
        piece.target[0] = 0;
        builder.add(std::move(piece), "plain text");
    }
    return std::move(builder).finish(pieces, "pieces");
}

}  // namespace

const char* format_name(ExampleFields::Format format) {
    switch (format) {
        case ExampleFields::Format::text:
            return "text";
        case ExampleFields::Format::prompt_completion:
            return "prompt/completion";
        case ExampleFields::Format::alpaca:
            return "alpaca";
        case ExampleFields::Format::messages:
            return "messages";
    }
    return "?";
}

// Stanford Alpaca's two prompt templates (tatsu-lab/stanford_alpaca, train.py PROMPT_DICT).
std::string alpaca_prompt(std::string_view instruction, std::string_view input) {
    if (input.empty())
        return fmt::format(
            "Below is an instruction that describes a task. Write a response that appropriately completes the "
            "request.\n\n### Instruction:\n{}\n\n### Response:\n",
            instruction);
    return fmt::format(
        "Below is an instruction that describes a task, paired with an input that provides further context. Write a "
        "response that appropriately completes the request.\n\n### Instruction:\n{}\n\n### Input:\n{}\n\n### "
        "Response:\n",
        instruction, input);
}

ExampleFields parse_example_line(std::string_view line, const std::string& where) {
    const ordered_json object = parse_json(line, where);
    if (!object.is_object()) fail("{}: expected a JSON object, found {}", where, object.type_name());
    ExampleFields fields;
    if (const auto messages = object.find("messages"); messages != object.end()) {
        fields.format = ExampleFields::Format::messages;
        fields.messages = checked_messages(*messages, where);
    } else if (object.contains("prompt") || object.contains("completion")) {
        fields.format = ExampleFields::Format::prompt_completion;
        fields.prompt = string_field(object, "prompt", where, true);
        fields.completion = string_field(object, "completion", where, true);
    } else if (object.contains("instruction") || object.contains("output")) {
        fields.format = ExampleFields::Format::alpaca;
        const std::string instruction = string_field(object, "instruction", where, true);
        const std::string input = string_field(object, "input", where, false);
        fields.prompt = alpaca_prompt(instruction, input);
        fields.completion = string_field(object, "output", where, true);
    } else if (object.contains("text")) {
        fields.format = ExampleFields::Format::text;
        fields.text = string_field(object, "text", where, true);
    } else {
        fail(
            "{}: no example fields: expected \"text\", \"prompt\" and \"completion\", \"instruction\" and \"output\", "
            "or \"messages\" (found {})",
            where, key_list(object));
    }
    return fields;
}

Example encode_example(const ExampleFields& fields, const Tokenizer& tokenizer, const ChatTemplate* chat,
                       const std::string& where) {
    switch (fields.format) {
        case ExampleFields::Format::text:
            return from_text(fields.text, tokenizer);
        case ExampleFields::Format::prompt_completion:
        case ExampleFields::Format::alpaca:
            return from_prompt_completion(fields.prompt, fields.completion, tokenizer);
        case ExampleFields::Format::messages:
            if (!chat)
                fail(
                    "{}: \"messages\" examples are rendered with the model's chat template, and the model has no chat "
                    "template",
                    where);
            return from_messages(fields.messages, tokenizer, *chat, where);
    }
    fail("{}: unknown example format", where);
}

size_t Dataset::target_tokens() const {
    size_t n = 0;
    for (const Example& ex : examples) n += size_t(std::count(ex.target.begin(), ex.target.end(), 1));
    return n;
}

Dataset load_dataset(const std::string& path, const Tokenizer& tokenizer, const ChatTemplate* chat,
                     const DataOptions& options) {
    if (options.max_seq_len < 2) fail("max_seq_len must be at least 2 (found {})", options.max_seq_len);
    DatasetBuilder builder{Dataset{}, options.max_seq_len, {}};
    builder.data.path = path;
    const std::string contents = read_text_file(path);
    const bool plain = path.size() >= 4 && path.compare(path.size() - 4, 4, ".txt") == 0;
    return plain ? load_plain_text(contents, tokenizer, std::move(builder))
                 : load_jsonl(path, contents, tokenizer, chat, std::move(builder));
}

std::pair<Dataset, Dataset> split_dataset(Dataset all, double eval_fraction, uint64_t seed) {
    if (!(eval_fraction > 0 && eval_fraction < 1))
        fail("the eval fraction must be between 0 and 1 (found {})", eval_fraction);
    const size_t n = all.examples.size();
    if (n < 2) fail("{}: {} example(s) cannot be split into train and eval parts", all.path, n);
    const size_t n_eval = std::clamp<size_t>(size_t(std::llround(double(n) * eval_fraction)), 1, n - 1);
    std::vector<uint8_t> to_eval(n, 0);
    const std::vector<size_t> order = shuffled_indices(n, stream(seed, 0x73706c6974 /* "split" */));
    for (size_t i = 0; i < n_eval; ++i) to_eval[order[i]] = 1;

    Dataset train{all.path, {}, all.format, all.truncated, all.skipped};
    Dataset eval{all.path, {}, all.format, 0, 0};
    for (size_t i = 0; i < n; ++i) (to_eval[i] ? eval : train).examples.push_back(std::move(all.examples[i]));
    return {std::move(train), std::move(eval)};
}

size_t TrainBatch::target_count() const {
    return size_t(std::count_if(labels.begin(), labels.end(), [](int32_t l) { return l >= 0; }));
}

EpochPlan plan_epoch(const Dataset& data, int64_t batch_size, int64_t max_seq_len, bool packing, uint64_t seed,
                     int epoch) {
    if (batch_size < 1) fail("the batch size must be at least 1 (found {})", batch_size);
    if (max_seq_len < 1) fail("max_seq_len must be at least 1 (found {})", max_seq_len);
    const std::vector<size_t> order = shuffled_indices(data.examples.size(), stream(seed, uint64_t(epoch)));

    // Packing fills rows in the shuffled order, starting a new row when the next example does not
    // fit (next fit): rows stay a random mix, and the plan is linear in the number of examples.
    std::vector<std::vector<size_t>> rows;
    int64_t row_tokens = 0;
    for (const size_t i : order) {
        const int64_t n = int64_t(data.examples[i].tokens.size());
        if (n > max_seq_len)
            fail("{}: example {} has {} tokens, more than max_seq_len {}", data.path, i, n, max_seq_len);
        if (!packing || rows.empty() || row_tokens + n > max_seq_len) {
            rows.emplace_back();
            row_tokens = 0;
        }
        rows.back().push_back(i);
        row_tokens += n;
    }

    EpochPlan plan;
    for (size_t r = 0; r < rows.size(); r += size_t(batch_size)) {
        const size_t end = std::min(rows.size(), r + size_t(batch_size));
        plan.batches.emplace_back(std::make_move_iterator(rows.begin() + long(r)),
                                  std::make_move_iterator(rows.begin() + long(end)));
    }
    return plan;
}

TrainBatch make_batch(const Dataset& data, const std::vector<std::vector<size_t>>& rows) {
    TrainBatch batch;
    batch.rows = int64_t(rows.size());
    for (const auto& row : rows) {
        for (const size_t i : row) {
            if (i >= data.examples.size())
                fail("{}: example index {} out of range ({} examples)", data.path, i, data.examples.size());
            const Example& ex = data.examples[i];
            if (batch.tokens.size() + ex.tokens.size() > size_t(std::numeric_limits<int32_t>::max()))
                fail("{}: a batch of more than 2^31 tokens", data.path);
            const int32_t first = int32_t(batch.tokens.size());
            for (size_t t = 0; t < ex.tokens.size(); ++t) {
                batch.tokens.push_back(ex.tokens[t]);
                batch.positions.push_back(int32_t(t));
                batch.seg_begin.push_back(first);
                const bool next_is_target = t + 1 < ex.tokens.size() && ex.target[t + 1];
                batch.labels.push_back(next_is_target ? ex.tokens[t + 1] : -1);
            }
        }
    }
    return batch;
}

}  // namespace slm::train

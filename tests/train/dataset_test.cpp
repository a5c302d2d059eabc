// Training data: each JSONL format's tokens and loss mask (on a one-token-per-byte tokenizer, so
// the expected ids are the bytes), each malformed line's FILE:LINE and field, truncation, plain
// text, the train/eval split and the epoch plan and batches; then the shared models and SQuAD chat.
#include "train/dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <slm/chat_template.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/model_config.h>
#include <slm/tokenizer.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "testing/testing.h"
#include "tokenizer/unicode_text.h"

namespace slm::train {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

constexpr int32_t kEos = 256, kImStart = 257, kImEnd = 258, kBos = 259;

// Byte-level BPE without merges: every byte is one token whose id is the byte, plus ChatML specials.
std::unique_ptr<Tokenizer> byte_tokenizer(bool add_bos) {
    nlohmann::json vocab = nlohmann::json::object();
    for (int b = 0; b < 256; ++b) vocab[tok::byte_to_unicode(uint8_t(b))] = b;
    const nlohmann::json spec = {
        {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::json::array()}}},
        {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
        {"decoder", {{"type", "ByteLevel"}}},
        {"added_tokens",
         {{{"id", kEos}, {"content", "<|endoftext|>"}, {"special", true}},
          {{"id", kImStart}, {"content", "<|im_start|>"}, {"special", true}},
          {{"id", kImEnd}, {"content", "<|im_end|>"}, {"special", true}},
          {{"id", kBos}, {"content", "<s>"}, {"special", true}}}}};
    nlohmann::json config = {{"eos_token", "<|endoftext|>"}};
    if (add_bos) config.update({{"bos_token", "<s>"}, {"add_bos_token", true}});
    return Tokenizer::from_hf_json(spec.dump(), config.dump(), "bytes");
}

std::vector<int32_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::vector<int32_t> cat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// The ChatML template of Qwen models (tinyqwen2-bpe-11m's chat_template.jinja).
const char* kChatMl =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
    "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

std::string write(const std::string& name, const std::string& contents) {
    const std::string path = test::temp_dir() + "/" + name;
    write_file_atomic(path, contents);
    return path;
}

void expect_error(const std::function<void()>& f, const std::vector<std::string>& needles) {
    try {
        f();
        ADD_FAILURE() << "no error; expected one mentioning " << needles.front();
    } catch (const Error& e) {
        for (const auto& n : needles) EXPECT_THAT(e.what(), HasSubstr(n));
    }
}

class DatasetTest : public ::testing::Test {
protected:
    std::unique_ptr<Tokenizer> tok = byte_tokenizer(false);
    ChatTemplate chatml{kChatMl};

    Dataset load(const std::string& contents, int64_t max_seq_len = 1024, const std::string& name = "train.jsonl") {
        return load_dataset(write(name, contents), *tok, &chatml, DataOptions{max_seq_len});
    }
};

TEST_F(DatasetTest, TextIsAllTargetsWithEosAppended) {
    const Dataset d = load(R"({"text": "abc"})");
    ASSERT_EQ(d.examples.size(), 1u);
    EXPECT_EQ(d.format, "text");
    EXPECT_THAT(d.examples[0].tokens, ElementsAre('a', 'b', 'c', kEos));
    EXPECT_THAT(d.examples[0].target, ElementsAre(0, 1, 1, 1));  // the first token has nothing before it
    EXPECT_EQ(d.target_tokens(), 3u);
}

TEST_F(DatasetTest, TextLeadingBosIsNotATarget) {
    tok = byte_tokenizer(true);
    const Dataset d = load(R"({"text": "abc"})");
    EXPECT_THAT(d.examples[0].tokens, ElementsAre(kBos, 'a', 'b', 'c', kEos));
    EXPECT_THAT(d.examples[0].target, ElementsAre(0, 1, 1, 1, 1));
}

TEST_F(DatasetTest, PromptCompletionTargetsCompletionAndEosOnly) {
    const Dataset d = load(R"({"prompt": "Q?", "completion": "ok"})");
    EXPECT_EQ(d.format, "prompt/completion");
    EXPECT_THAT(d.examples[0].tokens, ElementsAre('Q', '?', 'o', 'k', kEos));
    EXPECT_THAT(d.examples[0].target, ElementsAre(0, 0, 1, 1, 1));

    tok = byte_tokenizer(true);
    const Dataset b = load(R"({"prompt": "Q?", "completion": "ok"})");
    EXPECT_THAT(b.examples[0].tokens, ElementsAre(kBos, 'Q', '?', 'o', 'k', kEos));  // BOS before the prompt only
    EXPECT_THAT(b.examples[0].target, ElementsAre(0, 0, 0, 1, 1, 1));
}

TEST_F(DatasetTest, AlpacaPromptsAreStanfordAlpacas) {
    EXPECT_EQ(alpaca_prompt("Add.", ""),
              "Below is an instruction that describes a task. Write a response that appropriately completes the "
              "request.\n\n### Instruction:\nAdd.\n\n### Response:\n");
    EXPECT_EQ(alpaca_prompt("Add.", "1 2"),
              "Below is an instruction that describes a task, paired with an input that provides further context. "
              "Write a response that appropriately completes the request.\n\n### Instruction:\nAdd.\n\n### "
              "Input:\n1 2\n\n### Response:\n");
}

TEST_F(DatasetTest, AlpacaIsPromptMaskedWithOrWithoutInput) {
    // tatsu-lab/alpaca rows also carry the formatted "text": the fields win, so the prompt is masked.
    const Dataset d = load(R"({"instruction": "Add.", "input": "1 2", "output": "3", "text": "ignored"}
{"instruction": "Add.", "output": "3"}
{"instruction": "Add.", "input": null, "output": "3"})");
    EXPECT_EQ(d.format, "alpaca");
    ASSERT_EQ(d.examples.size(), 3u);
    EXPECT_EQ(d.examples[0].tokens, cat(bytes(alpaca_prompt("Add.", "1 2")), {'3', kEos}));
    EXPECT_EQ(d.examples[1].tokens, cat(bytes(alpaca_prompt("Add.", "")), {'3', kEos}));
    EXPECT_EQ(d.examples[2].tokens, d.examples[1].tokens);
    for (const Example& ex : d.examples) EXPECT_EQ(std::count(ex.target.begin(), ex.target.end(), 1), 2);
}

TEST_F(DatasetTest, MessagesTargetAssistantTextAndEndOfTurnOnly) {
    const Dataset d = load(
        R"({"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U1"}, {"role": "assistant", "content": "A1"},)"
        R"( {"role": "user", "content": "U2"}, {"role": "assistant", "content": "A2"}, {"role": "user", "content": "unanswered"}]})");
    EXPECT_EQ(d.format, "messages");
    const Example& ex = d.examples.at(0);
    // Rendered: <|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n…
    std::vector<int32_t> want;
    std::vector<uint8_t> target;
    const auto add = [&](const std::vector<int32_t>& ids, bool is_target) {
        want.insert(want.end(), ids.begin(), ids.end());
        target.insert(target.end(), ids.size(), is_target);
    };
    for (const auto& [role, content] :
         {std::pair{"system", "S"}, {"user", "U1"}, {"assistant", "A1"}, {"user", "U2"}, {"assistant", "A2"}}) {
        add(cat({kImStart}, bytes(std::string(role) + "\n")), false);
        const bool assistant = std::string(role) == "assistant";
        add(cat(bytes(content), {kImEnd}), assistant);  // the answer and the end-of-turn token that stops it
        add({'\n'}, false);                             // what the template writes after <|im_end|> is never generated
    }
    // The unanswered user message after the last answer carries no target and is left out.
    EXPECT_EQ(ex.tokens, want);
    EXPECT_EQ(ex.target, target);
}

TEST_F(DatasetTest, MessagesGetBosOnlyWhenTheTemplateLacksIt) {
    tok = byte_tokenizer(true);
    const std::string line =
        R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})";
    const Dataset plain = load(line);
    EXPECT_EQ(plain.examples[0].tokens.front(), kBos);
    EXPECT_EQ(plain.examples[0].tokens[1], kImStart);

    chatml = ChatTemplate(std::string("{{ bos_token }}") + kChatMl, {{"bos_token", "<s>"}});
    const Dataset with_bos = load(line);
    EXPECT_EQ(with_bos.examples[0].tokens, plain.examples[0].tokens);  // one BOS, not two
    EXPECT_EQ(with_bos.examples[0].target, plain.examples[0].target);
}

TEST_F(DatasetTest, MixedFormatsAreNamed) {
    const Dataset d = load("{\"text\": \"a b\"}\n{\"prompt\": \"p\", \"completion\": \"c\"}\n{\"text\": \"c\"}\n");
    EXPECT_EQ(d.examples.size(), 3u);
    EXPECT_EQ(d.format, "mixed: text, prompt/completion");
}

TEST_F(DatasetTest, BlankLinesCrlfAndByteOrderMarkAreFine) {
    const Dataset d = load("\xEF\xBB\xBF{\"text\": \"ab\"}\r\n\r\n   \n{\"text\": \"cd\"}\r\n");
    ASSERT_EQ(d.examples.size(), 2u);
    EXPECT_THAT(d.examples[1].tokens, ElementsAre('c', 'd', kEos));
}

TEST_F(DatasetTest, VeryLongLineLoads) {
    const std::string text(300'000, 'x');
    const Dataset d = load("{\"text\": \"" + text + "\"}", 512);
    EXPECT_EQ(d.examples[0].tokens.size(), 512u);
    EXPECT_EQ(d.truncated, 1u);
}

TEST_F(DatasetTest, TruncatesAndSkipsExamplesWithoutTargets) {
    const Dataset d = load(R"({"text": "abcdefgh"}
{"prompt": "a very long prompt", "completion": "answer"}
{"text": "ab"})",
                           4);
    ASSERT_EQ(d.examples.size(), 2u);
    EXPECT_THAT(d.examples[0].tokens, ElementsAre('a', 'b', 'c', 'd'));
    EXPECT_EQ(d.truncated, 2u);  // the text and the prompt
    EXPECT_EQ(d.skipped, 1u);    // the prompt filled all 4 tokens: nothing left to learn
    expect_error([&] { load(R"({"prompt": "a very long prompt", "completion": "answer"})", 4); },
                 {"train.jsonl", "no usable example", "1 without a target token within max_seq_len 4"});
}

TEST_F(DatasetTest, PlainTextIsOneDocumentCutIntoPieces) {
    const Dataset d = load("abcdefghij", 4, "book.txt");
    EXPECT_EQ(d.format, "plain text");
    ASSERT_EQ(d.examples.size(), 3u);  // 10 bytes + EOS = 4 + 4 + 3
    EXPECT_THAT(d.examples[0].tokens, ElementsAre('a', 'b', 'c', 'd'));
    EXPECT_THAT(d.examples[2].tokens, ElementsAre('i', 'j', kEos));
    for (const Example& ex : d.examples) EXPECT_EQ(std::count(ex.target.begin(), ex.target.end(), 0), 1);
    EXPECT_EQ(d.truncated, 0u);
    expect_error([&] { load(" \n\n", 4, "blank.txt"); }, {"blank.txt", "empty"});
}

// Each malformed line is reported with FILE:LINE and the field; the bad line is the third, after
// a good line and a blank one, so the count includes blank lines.
struct BadLine {
    std::string line;
    std::vector<std::string> needles;
};

TEST_F(DatasetTest, MalformedLinesNameFileLineAndField) {
    const std::vector<BadLine> cases = {
        {R"({"prompt": "a", "completion": 3})", {R"(field "completion" must be a string (found number))"}},
        {R"({"prompt": "a"})", {R"(missing field "completion")"}},
        {R"({"completion": "a", "prompt": null})", {R"(field "prompt" must be a string (found null))"}},
        {R"({"text": ["a"]})", {R"(field "text" must be a string (found array))"}},
        {R"({"instruction": "x"})", {R"(missing field "output")"}},
        {R"({"instruction": "x", "input": 5, "output": "y"})", {R"(field "input" must be a string (found number))"}},
        {R"({"foo": 1, "bar": 2})", {"no example fields", R"("foo", "bar")"}},
        {R"({})", {"no example fields", "no fields"}},
        {R"([1, 2])", {"expected a JSON object, found array"}},
        {R"("text")", {"expected a JSON object, found string"}},
        {R"({"text": "a")", {"train.jsonl:3:13: invalid JSON"}},
        {R"({"text": tru})", {"train.jsonl:3:", "invalid JSON", "invalid literal"}},
        {"{\"text\": \"\xff\"}", {"invalid JSON", "UTF-8"}},
        {R"({"text": "a", "n": 1e999})", {"invalid JSON", "number overflow"}},
        {R"({"messages": "hi"})", {R"(field "messages" must be a list)", "found string"}},
        {R"({"messages": []})", {R"(field "messages" is an empty list)"}},
        {R"({"messages": [1]})", {R"(field "messages[0]" must be an object (found number))"}},
        {R"({"messages": [{"content": "x"}]})", {R"(missing field "messages[0].role")"}},
        {R"({"messages": [{"role": "user", "content": "x"}, {"role": 1, "content": "x"}]})",
         {R"(field "messages[1].role" must be a string (found number))"}},
        {R"({"messages": [{"role": "bot", "content": "x"}]})",
         {R"(field "messages[0].role" must be system, user, assistant or tool (found "bot"))"}},
        {R"({"messages": [{"role": "assistant", "content": null}]})",
         {R"(field "messages[0].content" must be a string (found null))"}},
        {R"({"messages": [{"role": "assistant"}]})", {R"(missing field "messages[0].content")"}},
        {R"({"messages": [{"role": "user", "content": "x"}]})", {"no assistant message"}},
        {std::string(100'000, '[') + std::string(100'000, ']'), {"nested deeper than 64 levels"}},
    };
    for (const BadLine& c : cases) {
        SCOPED_TRACE(c.line.substr(0, 80));
        std::vector<std::string> needles = c.needles;
        needles.push_back("train.jsonl:3:");
        expect_error([&] { load("{\"text\": \"fine\"}\n\n" + c.line + "\n{\"text\": \"fine\"}\n"); }, needles);
    }
}

TEST_F(DatasetTest, EmptyFileIsAnError) {
    expect_error([&] { load(""); }, {"train.jsonl", "no examples"});
    expect_error([&] { load("\n  \n\r\n"); }, {"train.jsonl", "no examples"});
    expect_error([&] { load_dataset(test::temp_dir() + "/absent.jsonl", *tok, nullptr, {}); }, {"absent.jsonl"});
    expect_error([&] { load(R"({"text": "a"})", 1); }, {"max_seq_len must be at least 2"});
}

TEST_F(DatasetTest, MessagesNeedAChatTemplate) {
    const std::string path = write("chat.jsonl", R"({"text": "a"}
{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})");
    expect_error([&] { load_dataset(path, *tok, nullptr, {}); }, {"chat.jsonl:2:", "no chat template"});
}

TEST_F(DatasetTest, NonIncrementalTemplateIsAnError) {
    // The generation prompt is not a prefix of the rendered answer: the assistant text cannot be located.
    chatml = ChatTemplate(
        "{% for m in messages %}{{ m.content }}|{% endfor %}{% if add_generation_prompt %}GO{% else %}END{% endif %}");
    expect_error(
        [&] { load(R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})"); },
        {"train.jsonl:1:", "not incremental", "messages[1]"});
}

TEST_F(DatasetTest, TemplateErrorsNameTheLine) {
    chatml = ChatTemplate("{% if messages[0].role != 'system' %}{{ raise_exception('system first') }}{% endif %}x");
    expect_error(
        [&] {
            load(
                "\n"
                R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})");
        },
        {"train.jsonl:2:", "system first"});
}

TEST(DatasetParse, LineParserNeedsNoTokenizer) {
    const ExampleFields f = parse_example_line(R"({"messages": [{"role": "user", "content": "x"}, )"
                                               R"({"role": "assistant", "content": "y", "name": "bot"}], "id": 7})",
                                               "f:1");
    EXPECT_EQ(f.format, ExampleFields::Format::messages);
    EXPECT_EQ(f.messages[1]["name"], "bot");  // other fields reach the template
    EXPECT_STREQ(format_name(f.format), "messages");
    const ExampleFields p = parse_example_line(R"({"prompt": "", "completion": "c", "text": "t"})", "f:2");
    EXPECT_EQ(p.format, ExampleFields::Format::prompt_completion);
    EXPECT_EQ(p.completion, "c");
}

// --- split, epoch plan, batches --------------------------------------------------------------

// Examples of the given lengths, each all targets but the first token; token ids are unique.
Dataset synthetic(const std::vector<size_t>& lengths) {
    Dataset d;
    d.path = "synthetic";
    int32_t id = 0;
    for (const size_t n : lengths) {
        Example ex;
        for (size_t t = 0; t < n; ++t) ex.tokens.push_back(id++);
        ex.target.assign(n, 1);
        ex.target[0] = 0;
        d.examples.push_back(ex);
    }
    return d;
}

std::vector<size_t> lengths(size_t n, size_t seed) {
    std::vector<size_t> out;
    for (size_t i = 0; i < n; ++i) out.push_back(2 + (i * 7919 + seed * 104729) % 60);
    return out;
}

TEST(DatasetSplit, IsDeterministicAndKeepsEveryExampleOnce) {
    const Dataset all = synthetic(lengths(50, 1));
    const auto [train, eval] = split_dataset(all, 0.1, 42);
    EXPECT_EQ(eval.examples.size(), 5u);
    EXPECT_EQ(train.examples.size(), 45u);
    std::multiset<int32_t> firsts;
    for (const Dataset* part : {&train, &eval})
        for (const Example& ex : part->examples) firsts.insert(ex.tokens[0]);
    std::multiset<int32_t> want;
    for (const Example& ex : all.examples) want.insert(ex.tokens[0]);
    EXPECT_EQ(firsts, want);

    const auto again = split_dataset(all, 0.1, 42);
    EXPECT_EQ(again.second.examples.size(), eval.examples.size());
    for (size_t i = 0; i < eval.examples.size(); ++i)
        EXPECT_EQ(again.second.examples[i].tokens, eval.examples[i].tokens);
    const auto other = split_dataset(all, 0.1, 43);
    bool differs = false;
    for (size_t i = 0; i < eval.examples.size(); ++i)
        differs |= other.second.examples[i].tokens != eval.examples[i].tokens;
    EXPECT_TRUE(differs);
}

TEST(DatasetSplit, HoldsOutAtLeastOneAndRefusesTooFew) {
    const auto [train, eval] = split_dataset(synthetic({3, 4, 5}), 0.01, 1);
    EXPECT_EQ(eval.examples.size(), 1u);
    EXPECT_EQ(train.examples.size(), 2u);
    EXPECT_EQ(split_dataset(synthetic({3, 4}), 0.99, 1).first.examples.size(), 1u);  // and leaves one to train
    expect_error([] { split_dataset(synthetic({3}), 0.5, 1); }, {"synthetic", "cannot be split"});
    expect_error([] { split_dataset(synthetic({3, 4}), 0, 1); }, {"between 0 and 1"});
    expect_error([] { split_dataset(synthetic({3, 4}), 1.5, 1); }, {"between 0 and 1"});
}

void expect_each_example_once(const EpochPlan& plan, size_t n) {
    std::vector<int> seen(n, 0);
    for (const auto& batch : plan.batches)
        for (const auto& row : batch)
            for (const size_t i : row) ++seen.at(i);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), long(n));
}

TEST(DatasetPlan, OneExamplePerRowShuffledPerEpoch) {
    const Dataset d = synthetic(lengths(23, 2));
    const EpochPlan plan = plan_epoch(d, 4, 64, false, 7, 0);
    ASSERT_EQ(plan.batches.size(), 6u);  // 5 batches of 4 rows and one of 3
    EXPECT_EQ(plan.batches.back().size(), 3u);
    for (const auto& batch : plan.batches)
        for (const auto& row : batch) EXPECT_EQ(row.size(), 1u);
    expect_each_example_once(plan, d.examples.size());

    EXPECT_EQ(plan_epoch(d, 4, 64, false, 7, 0).batches, plan.batches);  // deterministic
    EXPECT_NE(plan_epoch(d, 4, 64, false, 7, 1).batches, plan.batches);  // another epoch, another order
    EXPECT_NE(plan_epoch(d, 4, 64, false, 8, 0).batches, plan.batches);  // another seed too
}

TEST(DatasetPlan, PackingFillsRowsUpToMaxSeqLen) {
    const Dataset d = synthetic(lengths(200, 3));
    const int64_t max_seq_len = 128;
    const EpochPlan plan = plan_epoch(d, 3, max_seq_len, true, 11, 2);
    expect_each_example_once(plan, d.examples.size());
    size_t rows = 0;
    for (const auto& batch : plan.batches) {
        EXPECT_LE(batch.size(), 3u);
        for (const auto& row : batch) {
            ++rows;
            size_t n = 0;
            for (const size_t i : row) n += d.examples[i].tokens.size();
            EXPECT_LE(n, size_t(max_seq_len));
        }
    }
    EXPECT_LT(rows, d.examples.size() / 2);  // packed: examples average ~32 tokens
    EXPECT_EQ(plan_epoch(d, 3, max_seq_len, true, 11, 2).batches, plan.batches);
    expect_error([&] { plan_epoch(d, 3, 40, true, 11, 2); }, {"synthetic", "more than max_seq_len 40"});
    expect_error([&] { plan_epoch(d, 0, 40, true, 11, 2); }, {"batch size"});
}

TEST(DatasetBatch, PackedRowsRestartPositionsAndMaskExampleEnds) {
    Dataset d = synthetic({3, 4, 2});
    d.examples[1].target = {0, 0, 1, 1};  // a two-token prompt
    const TrainBatch b = make_batch(d, {{0, 1}, {2}});
    EXPECT_EQ(b.rows, 2);
    EXPECT_THAT(b.tokens, ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 8));
    EXPECT_THAT(b.positions, ElementsAre(0, 1, 2, 0, 1, 2, 3, 0, 1));
    EXPECT_THAT(b.seg_begin, ElementsAre(0, 0, 0, 3, 3, 3, 3, 7, 7));
    // Label t is token t+1 when that one is a target; never across an example's end.
    EXPECT_THAT(b.labels, ElementsAre(1, 2, -1, -1, 5, 6, -1, 8, -1));
    EXPECT_EQ(b.target_count(), 5u);
    EXPECT_EQ(b.target_count(), d.target_tokens());
    expect_error([&] { make_batch(d, {{3}}); }, {"example index 3 out of range"});
}

TEST(DatasetBatch, EpochBatchesCoverEveryTarget) {
    const Dataset d = synthetic(lengths(40, 4));
    size_t targets = 0;
    for (const auto& rows : plan_epoch(d, 2, 100, true, 5, 0).batches) {
        const TrainBatch b = make_batch(d, rows);
        ASSERT_EQ(b.tokens.size(), b.labels.size());
        ASSERT_EQ(b.tokens.size(), b.positions.size());
        ASSERT_EQ(b.tokens.size(), b.seg_begin.size());
        for (size_t t = 0; t < b.tokens.size(); ++t) EXPECT_EQ(b.seg_begin[t] + b.positions[t], int32_t(t));
        targets += b.target_count();
    }
    EXPECT_EQ(targets, d.target_tokens());
}

// --- the shared models and data ----------------------------------------------------------------

// The first n lines of a file, each without its newline.
std::vector<std::string> head_lines(const std::string& path, size_t n) {
    const std::string all = read_text_file(path);
    std::vector<std::string> lines;
    for (size_t begin = 0; lines.size() < n && begin < all.size();) {
        const size_t end = std::min(all.find('\n', begin), all.size());
        lines.push_back(all.substr(begin, end - begin));
        begin = end + 1;
    }
    return lines;
}

TEST(DatasetShared, SquadChatTargetsAreTheAnswerAndImEnd) {
    SLM_REQUIRE_SHARED(shared);
    const std::string model = shared + "/models/tinyqwen2-bpe-11m";
    const auto tok = Tokenizer::from_model_path(model);
    const ChatTemplate chat = ChatTemplate::from_model(ModelFiles::open(model));
    const std::vector<std::string> lines = head_lines(shared + "/datasets/squad-v1.1/chat-train.jsonl", 40);
    std::string file;
    for (const std::string& line : lines) file += line + "\n";
    const Dataset d = load_dataset(write("squad.jsonl", file), *tok, &chat, {});
    ASSERT_EQ(d.examples.size(), lines.size());
    EXPECT_EQ(d.format, "messages");
    const int32_t im_end = tok->token_id("<|im_end|>").value();
    for (size_t i = 0; i < lines.size(); ++i) {
        const Example& ex = d.examples[i];
        const auto messages = nlohmann::ordered_json::parse(lines[i])["messages"];
        ASSERT_EQ(messages.size(), 3u);  // system, user, assistant
        std::vector<int32_t> targets, context;
        for (size_t t = 0; t < ex.tokens.size(); ++t) (ex.target[t] ? targets : context).push_back(ex.tokens[t]);
        std::vector<int32_t> want = tok->encode(messages[2]["content"].get<std::string>(), false);
        want.push_back(im_end);  // the template's "\n" after it is not a target
        EXPECT_EQ(targets, want) << "line " << i + 1;
        const std::string prompt = tok->decode(context);
        EXPECT_THAT(prompt, HasSubstr(messages[0]["content"].get<std::string>()));
        EXPECT_THAT(prompt, HasSubstr(messages[1]["content"].get<std::string>()));
        EXPECT_EQ(tok->decode(ex.tokens), chat.render(messages));  // one tokenization of the whole text
        EXPECT_EQ(ex.tokens, tok->encode(chat.render(messages), false, true));
    }
}

TEST(DatasetShared, SentencePieceModelWithBosAndNoTemplate) {
    SLM_REQUIRE_SHARED(shared);
    const auto tok = Tokenizer::from_model_path(shared + "/models/tinyllama-spm-13m");
    const int32_t bos = tok->bos_id().value(), eos = tok->eos_ids().at(0);
    const Dataset d = load_dataset(write("spm.jsonl", R"({"text": "Hello world"}
{"prompt": "The capital of France is", "completion": " Paris."})"),
                                   *tok, nullptr, {});
    ASSERT_EQ(d.examples.size(), 2u);
    EXPECT_EQ(d.format, "mixed: text, prompt/completion");
    for (const Example& ex : d.examples) {
        EXPECT_EQ(ex.tokens.front(), bos);
        EXPECT_EQ(ex.tokens.back(), eos);
        EXPECT_EQ(ex.target.front(), 0);
        EXPECT_EQ(ex.target.back(), 1);
    }
    const Example& pc = d.examples[1];
    const std::vector<int32_t> prompt = tok->encode("The capital of France is", true);
    EXPECT_EQ(std::vector<int32_t>(pc.tokens.begin(), pc.tokens.begin() + long(prompt.size())), prompt);
    EXPECT_EQ(std::count(pc.target.begin(), pc.target.end(), 1), long(pc.tokens.size() - prompt.size()));
    expect_error(
        [&] {
            load_dataset(
                write("spm-chat.jsonl",
                      R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})"),
                *tok, nullptr, {});
        },
        {"spm-chat.jsonl:1:", "no chat template"});
}

TEST(DatasetShared, ShakespeareAsPlainText) {
    SLM_REQUIRE_SHARED(shared);
    const auto tok = Tokenizer::from_model_path(shared + "/models/tinyllama-spm-13m");
    const std::string text = read_text_file(shared + "/datasets/tinyshakespeare/input.txt").substr(0, 20'000);
    const Dataset d = load_dataset(write("shakespeare.txt", text), *tok, nullptr, {256});
    EXPECT_EQ(d.format, "plain text");
    ASSERT_GT(d.examples.size(), 4u);
    size_t tokens = 0;
    for (const Example& ex : d.examples) {
        EXPECT_LE(ex.tokens.size(), 256u);
        tokens += ex.tokens.size();
    }
    EXPECT_EQ(d.examples[0].tokens.front(), tok->bos_id().value());
    EXPECT_EQ(tokens, tok->encode(text, true).size() + 1);  // + EOS
}

}  // namespace
}  // namespace slm::train

// `slm eval bleu|chrf|rouge|squad|classify|task ...`: scores that equal the reference tools
// (sacrebleu, rouge-score, the official SQuAD v1.1 script, scikit-learn), on line files or JSONL,
// and task runs that generate with a model and score the outputs (src/eval/tasks).
#include <CLI/CLI.hpp>
#include <slm/error.h>
#include <slm/eval/bleu.h>
#include <slm/eval/chrf.h>
#include <slm/eval/classify.h>
#include <slm/eval/rouge.h>
#include <slm/eval/segments.h>
#include <slm/eval/squad.h>
#include <slm/eval/tasks.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "device_option.h"
#include "lora_option.h"
#include "model_arg.h"

namespace {

using namespace slm;
using Json = nlohmann::ordered_json;

// Where the segments come from: --hyps/--refs line files, or --jsonl with two fields.
struct SegmentInput {
    std::string hyps, jsonl, hyp_field = "hyp", ref_field = "refs";
    std::vector<std::string> refs;
    bool json = false;

    void add_to(CLI::App* cmd) {
        cmd->add_option("--hyps", hyps, "Hypotheses (system outputs), one segment per line");
        cmd->add_option("--refs", refs, "Reference file(s), one segment per line; several give several references")
            ->expected(1, -1);
        cmd->add_option("--jsonl", jsonl, "JSONL file with a hypothesis and a reference field per line instead");
        cmd->add_option("--hyp-field", hyp_field, "JSONL field of the hypothesis")->capture_default_str();
        cmd->add_option("--ref-field", ref_field, "JSONL field of the reference(s): a string or a list")
            ->capture_default_str();
        cmd->add_flag("--json", json, "Print one JSON object");
    }

    eval::Segments read() const {
        if (!jsonl.empty()) {
            if (!hyps.empty() || !refs.empty()) fail("give either --jsonl or --hyps/--refs, not both");
            return eval::read_segments_jsonl(jsonl, hyp_field, ref_field);
        }
        if (hyps.empty()) fail("no hypotheses: give --hyps FILE --refs FILE... or --jsonl FILE");
        return eval::read_segment_files(hyps, refs);
    }
};

// Python's float repr as json.dumps prints it (an integral value keeps its ".0").
std::string py_float(double x) {
    std::string s = fmt::format("{}", x);
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
}

void print_json(const Json& j) { fmt::print("{}\n", j.dump(1)); }

void add_bleu(CLI::App* eval) {
    struct Options : SegmentInput {
        std::string tokenize = "13a", smooth_method = "exp";
        double smooth_value = 0;
        bool lowercase = false;
        CLI::Option* smooth_value_opt = nullptr;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = eval->add_subcommand("bleu", "Corpus BLEU exactly as sacrebleu computes it");
    o->add_to(cmd);
    cmd->add_option("--tokenize", o->tokenize, "Tokenizer: 13a, intl, zh, char, none")->capture_default_str();
    cmd->add_flag("--lowercase", o->lowercase, "Lowercase hypotheses and references");
    cmd->add_option("--smooth-method", o->smooth_method, "Smoothing: exp, floor, add-k, none")->capture_default_str();
    o->smooth_value_opt = cmd->add_option("--smooth-value", o->smooth_value, "Value for floor (0.1) and add-k (1)");
    cmd->callback([o] {
        eval::BleuOptions options;
        options.tokenizer = eval::parse_bleu_tokenizer(o->tokenize);
        options.smoothing = eval::parse_bleu_smoothing(o->smooth_method);
        options.lowercase = o->lowercase;
        if (o->smooth_value_opt->count()) options.smooth_value = o->smooth_value;
        auto seg = o->read();
        auto s = eval::corpus_bleu(seg.hyps, seg.refs, options);
        if (o->json) {
            print_json({{"bleu", {{"score", s.score}, {"precisions", s.precisions}, {"bp", s.bp},
                                  {"sys_len", s.sys_len}, {"ref_len", s.ref_len}, {"signature", s.signature}}}});
            return;
        }
        std::string precisions;
        for (double p : s.precisions) precisions += (precisions.empty() ? "" : "/") + fmt::format("{:.1f}", p);
        const double ratio = s.ref_len ? double(s.sys_len) / double(s.ref_len) : 0.0;
        fmt::print("BLEU|{} = {:.2f} {} (BP = {:.3f} ratio = {:.3f} hyp_len = {} ref_len = {})\n", s.signature, s.score,
                   precisions, s.bp, ratio, s.sys_len, s.ref_len);
    });
}

void add_chrf(CLI::App* eval) {
    struct Options : SegmentInput {
        eval::ChrfOptions chrf;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = eval->add_subcommand("chrf", "Corpus chrF / chrF++ exactly as sacrebleu computes it");
    o->add_to(cmd);
    cmd->add_option("--char-order", o->chrf.char_order, "Character n-gram order")->capture_default_str();
    cmd->add_option("--word-order", o->chrf.word_order, "Word n-gram order (2 is chrF++)")->capture_default_str();
    cmd->add_option("--beta", o->chrf.beta, "Weight of recall over precision")->capture_default_str();
    cmd->add_flag("--lowercase", o->chrf.lowercase, "Lowercase hypotheses and references");
    cmd->add_flag("--whitespace", o->chrf.whitespace, "Keep whitespace in character n-grams");
    cmd->add_flag("--eps-smoothing", o->chrf.eps_smoothing, "chrF++.py-style epsilon smoothing");
    cmd->callback([o] {
        auto seg = o->read();
        auto s = eval::corpus_chrf(seg.hyps, seg.refs, o->chrf);
        if (o->json)
            print_json({{"chrf", {{"score", s.score}, {"name", s.name}, {"signature", s.signature}}}});
        else
            fmt::print("{}|{} = {:.2f}\n", s.name, s.signature, s.score);
    });
}

Json score_json(const eval::RougeScore& s) {
    return {{"precision", s.precision}, {"recall", s.recall}, {"fmeasure", s.fmeasure}};
}

void add_rouge(CLI::App* eval) {
    struct Options : SegmentInput {
        std::vector<std::string> types{"rouge1", "rouge2", "rougeL", "rougeLsum"};
        bool stemmer = false;
        int bootstrap = 0;
        uint32_t seed = 0;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = eval->add_subcommand(
        "rouge", "ROUGE exactly as rouge-score: mean over segments (best reference each), or bootstrap intervals");
    o->add_to(cmd);
    cmd->add_option("--rouge-types", o->types, "rouge1..rouge9, rougeL, rougeLsum (Lsum splits summaries at newlines)")
        ->capture_default_str();
    cmd->add_flag("--stemmer,--use-stemmer", o->stemmer, "Porter-stem words longer than 3 characters");
    cmd->add_option("--bootstrap", o->bootstrap,
                    "Aggregate as rouge-score's BootstrapAggregator with this many samples (prints low/mid/high)");
    cmd->add_option("--seed", o->seed, "numpy.random.seed value for --bootstrap")->capture_default_str();
    cmd->callback([o] {
        auto seg = o->read();
        eval::RougeScorer scorer(o->types, o->stemmer);
        std::vector<eval::RougeScores> per_segment;
        for (size_t i = 0; i < seg.hyps.size(); ++i) {
            std::vector<std::string> targets;
            for (auto& stream : seg.refs) targets.push_back(stream[i]);
            per_segment.push_back(scorer.score_multi(targets, seg.hyps[i]));
        }
        Json out;
        if (o->bootstrap > 0) {
            auto agg = eval::bootstrap_aggregate(per_segment, o->types, o->bootstrap, 0.95, o->seed);
            for (auto& t : o->types)
                out[t] = {{"low", score_json(agg[t].low)}, {"mid", score_json(agg[t].mid)}, {"high", score_json(agg[t].high)}};
        } else {
            for (auto& t : o->types) {
                eval::RougeScore mean;
                for (auto& s : per_segment) {
                    mean.precision += s[t].precision;
                    mean.recall += s[t].recall;
                    mean.fmeasure += s[t].fmeasure;
                }
                const double n = double(per_segment.size());
                out[t] = score_json({mean.precision / n, mean.recall / n, mean.fmeasure / n});
            }
        }
        if (o->json) return print_json(out);
        for (auto& t : o->types) {
            const Json& v = o->bootstrap > 0 ? out[t]["mid"] : out[t];
            fmt::print("{:<10} P = {:.4f}  R = {:.4f}  F = {:.4f}\n", t, v["precision"].get<double>(),
                       v["recall"].get<double>(), v["fmeasure"].get<double>());
        }
    });
}

void add_squad(CLI::App* eval) {
    struct Options : SegmentInput {
        std::string data, predictions;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = eval->add_subcommand(
        "squad", "SQuAD v1.1 exact match and F1 as the official script: --data DEV.json --predictions PRED.json, "
                 "or predictions/answers as lines");
    o->add_to(cmd);
    cmd->add_option("--data", o->data, "SQuAD dataset JSON (as evaluate-v1.1.py's dataset_file)");
    cmd->add_option("--predictions", o->predictions, "Predictions JSON {id: answer} (as its prediction_file)");
    cmd->callback([o] {
        if (!o->data.empty() || !o->predictions.empty()) {
            if (o->data.empty() || o->predictions.empty()) fail("give both --data and --predictions");
            auto dataset = eval::load_squad_dataset(o->data);
            if (dataset.version != "1.1")
                fmt::print(stderr, "Evaluation expects v-1.1, but got dataset with v-{}\n", dataset.version);
            auto result = eval::evaluate_squad(dataset, eval::load_squad_predictions(o->predictions));
            for (size_t i = 0; i < result.unanswered.size() && i < 5; ++i)
                fmt::print(stderr, "Unanswered question {} will receive score 0.\n", result.unanswered[i]);
            if (result.unanswered.size() > 5)
                fmt::print(stderr, "... and {} more unanswered questions\n", result.unanswered.size() - 5);
            fmt::print("{{\"exact_match\": {}, \"f1\": {}}}\n", py_float(result.exact_match), py_float(result.f1));
            return;
        }
        auto seg = o->read();
        double em = 0, f1 = 0;
        for (size_t i = 0; i < seg.hyps.size(); ++i) {
            std::vector<std::string> truths;
            for (auto& stream : seg.refs) truths.push_back(stream[i]);
            auto s = eval::squad_score(seg.hyps[i], truths);
            em += s.exact_match;
            f1 += s.f1;
        }
        const double n = double(std::max<size_t>(seg.hyps.size(), 1));
        if (o->json)
            print_json({{"exact_match", 100.0 * em / n}, {"f1", 100.0 * f1 / n}});
        else
            fmt::print("{{\"exact_match\": {}, \"f1\": {}}}\n", py_float(100.0 * em / n), py_float(100.0 * f1 / n));
    });
}

void add_classify(CLI::App* eval) {
    auto o = std::make_shared<SegmentInput>();
    auto* cmd = eval->add_subcommand("classify", "Accuracy and macro-F1 of predicted labels (as scikit-learn)");
    o->add_to(cmd);
    cmd->callback([o] {
        auto seg = o->read();
        if (seg.refs.size() != 1) fail("classification takes exactly one gold label per example");
        auto s = eval::classification_scores(seg.refs[0], seg.hyps);
        if (o->json)
            print_json({{"accuracy", s.accuracy}, {"macro_f1", s.macro_f1}, {"examples", s.examples}, {"labels", s.labels}});
        else
            fmt::print("accuracy = {:.4f}  macro_f1 = {:.4f}  ({} examples, {} labels)\n", s.accuracy, s.macro_f1,
                       s.examples, s.labels);
    });
}

void add_task(CLI::App* eval) {
    auto* task = eval->add_subcommand("task", "Generate with a model on a dataset and score the outputs");
    task->require_subcommand(1);
    struct Names {
        const char* name;
        const char* help;
        eval::TaskKind kind;
    };
    for (const Names& n : {Names{"squad", "Extractive QA on SQuAD v1.1 JSON: EM/F1", eval::TaskKind::squad},
                           Names{"summarize", "Summaries of a JSONL {document, summary}: ROUGE", eval::TaskKind::summarize},
                           Names{"mc", "Multiple choice JSONL {question, choices, answer}: acc, acc_norm",
                                 eval::TaskKind::multiple_choice}}) {
        auto o = std::make_shared<eval::TaskOptions>();
        o->kind = n.kind;
        auto* cmd = task->add_subcommand(n.name, n.help);
        auto models = std::make_shared<cli::ModelArgs>(cmd);
        models->add("model", o->model_path, "Model: HF directory or GGUF file")->required();
        cmd->add_option("--data", o->data_path, "Dataset file")->required();
        cmd->add_option("--limit", o->limit, "Score only the first N examples (0: all)")->capture_default_str();
        if (n.kind != eval::TaskKind::multiple_choice)
            cmd->add_option("--shots", o->shots, "Solved examples put before each question")->capture_default_str();
        if (n.kind != eval::TaskKind::multiple_choice)
            cmd->add_option("--max-tokens", o->max_tokens, "Tokens to generate per example")->capture_default_str();
        cmd->add_option("--output,-o", o->output_dir, "Directory for results.json and prompts.jsonl")
            ->capture_default_str();
        cmd->add_option("--ctx-size,-c", o->n_ctx, "Context length (0: the model's)")->capture_default_str();
        cmd->add_option("--threads,-t", o->threads, "Threads (0: all cores)")->capture_default_str();
        auto lora = std::make_shared<std::vector<std::string>>();
        cli::add_lora_option(cmd, *lora);
        o->device = "auto";
        cli::add_device_option(cmd, o->device, o->gpu_layers);
        if (n.kind != eval::TaskKind::multiple_choice) {
            cmd->add_flag("--chat", o->chat,
                          "Send each prompt as a user message through the model's chat template; the answer is the "
                          "assistant's");
            cmd->add_option("--system", o->system, "With --chat: a system message before each prompt");
        }
        cmd->callback([o, lora, models] {
            models->resolve();
            o->lora = cli::parse_lora_specs(*lora);
            if (!o->system.empty() && !o->chat) fail("eval task: --system needs --chat");
            Json result = Json::parse(eval::run_task(*o));
            fmt::print("{}\n", result.dump(1));
        });
    }
}

}  // namespace

void add_verb_eval(CLI::App& app) {
    auto* eval = app.add_subcommand("eval", "Score outputs with BLEU, chrF, ROUGE, SQuAD EM/F1, accuracy; run eval tasks");
    eval->require_subcommand(1);
    add_bleu(eval);
    add_chrf(eval);
    add_rouge(eval);
    add_squad(eval);
    add_classify(eval);
    add_task(eval);
}

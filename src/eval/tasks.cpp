// The task runners behind `slm eval task`: prompt construction (with k shots and left truncation
// to the context), greedy generation, log-likelihood scoring of choices as lm-evaluation-harness,
// and the results/prompts files.
#include <slm/chat_template.h>
#include <slm/error.h>
#include <slm/eval/rouge.h>
#include <slm/eval/segments.h>
#include <slm/eval/squad.h>
#include <slm/eval/tasks.h>
#include <slm/file_io.h>
#include <slm/generator.h>
#include <slm/lora_files.h>
#include <slm/model.h>
#include <slm/progress.h>
#include <slm/sampler.h>
#include <slm/session.h>
#include <slm/tokenizer.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "eval/python_text.h"

namespace slm::eval {
namespace {

using Json = nlohmann::ordered_json;

// One example as the runners see it: the text before the answer, the reference answer(s).
struct Example {
    std::string id, context_block;  // context_block: everything of the prompt but the answer cue
    std::vector<std::string> answers;
    std::vector<std::string> choices;  // multiple choice only
    int gold = -1;                     // multiple choice only
};

std::string trim(const std::string& s) { return py::encode(py::strip(py::decode(s))); }

// Loaded model, tokenizer and session, plus the greedy generator the generation tasks use.
struct Runtime {
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tokenizer;
    std::unique_ptr<Session> session;
    std::unique_ptr<ChatTemplate> chat;  // --chat: prompts go through the model's template
    std::string system;
    std::vector<int32_t> eos_ids;

    explicit Runtime(const TaskOptions& o) {
        ModelOptions mo;
        mo.device = device_from_name(o.device);
        mo.gpu_layers = o.gpu_layers;
        model = Model::load(o.model_path, mo);
        tokenizer = Tokenizer::from_model_path(o.model_path);
        SessionOptions so;
        so.n_ctx = o.n_ctx;
        so.threads = o.threads;
        so.adapters = load_lora_stack(*model, o.lora);
        session = std::make_unique<Session>(*model, so);
        if (o.chat) chat = std::make_unique<ChatTemplate>(ChatTemplate::from_model(model->files()));
        system = o.system;
        for (int id : model->config().eos_token_ids)
            if (id >= 0) eos_ids.push_back(id);
        for (int id : tokenizer->eos_ids())
            if (std::find(eos_ids.begin(), eos_ids.end(), id) == eos_ids.end()) eos_ids.push_back(id);
    }

    // The prompt's tokens, cut from the left (after BOS) so that `reserve` more tokens fit.
    std::vector<int32_t> fit(const std::string& prompt, int reserve, bool& truncated) const {
        auto ids = encode(prompt);
        const size_t room = static_cast<size_t>(std::max(1, session->n_ctx() - reserve));
        truncated = ids.size() > room;
        if (truncated) {
            const bool bos = tokenizer->bos_id() && !ids.empty() && ids[0] == *tokenizer->bos_id();
            std::vector<int32_t> kept;
            if (bos) kept.push_back(ids[0]);
            kept.insert(kept.end(), ids.end() - static_cast<std::ptrdiff_t>(room - kept.size()), ids.end());
            ids = std::move(kept);
        }
        return ids;
    }

    // --chat: the prompt as the user's message of a chat (after the system message), rendered with
    // the template's generation prompt.
    std::string render(const std::string& prompt) const {
        nlohmann::ordered_json messages = nlohmann::ordered_json::array();
        if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
        messages.push_back({{"role", "user"}, {"content", prompt}});
        ChatRenderOptions options;
        options.add_generation_prompt = true;
        return chat->render(messages, options);
    }

    // The prompt's tokens; a rendered chat carries its special tokens as text, as the template wrote them.
    std::vector<int32_t> encode(const std::string& prompt) const {
        if (!chat) return tokenizer->encode(prompt, true);
        return tokenizer->encode(render(prompt), /*add_special=*/false, /*parse_special=*/true);
    }

    std::string generate(const std::vector<int32_t>& prompt, int max_tokens) {
        Generator generator(*session, *tokenizer, eos_ids);
        SamplerParams params;
        params.temperature = 0;
        SamplerChain sampler(params);
        GenerationOptions go;
        go.max_tokens = max_tokens;
        go.stop_strings = {"\n"};
        return generator.generate(prompt, sampler, go).text;
    }

    // Sum of log P(continuation | context) over the continuation's tokens, with the pair encoded
    // as lm-evaluation-harness does (trailing context spaces move to the continuation; the
    // continuation's tokens are those of context+continuation after the context's own tokens).
    double loglikelihood(std::string context, std::string continuation) {
        size_t keep = context.find_last_not_of(' ');
        keep = keep == std::string::npos ? 0 : keep + 1;
        continuation = context.substr(keep) + continuation;
        context.resize(keep);
        auto context_ids = tokenizer->encode(context, true);
        auto whole = tokenizer->encode(context + continuation, true);
        if (whole.size() <= context_ids.size()) fail("choice '{}' adds no tokens to its question", continuation);
        std::vector<int32_t> cont(whole.begin() + static_cast<std::ptrdiff_t>(context_ids.size()), whole.end());
        if (context_ids.size() + cont.size() > static_cast<size_t>(session->n_ctx()))
            fail("question and choice need {} tokens, more than the context of {}", context_ids.size() + cont.size(),
                 session->n_ctx());
        double total = 0;
        std::span<const float> logits = session->prompt(context_ids);
        for (size_t j = 0; j < cont.size(); ++j) {
            float max = *std::max_element(logits.begin(), logits.end());
            double sum = 0;
            for (float l : logits) sum += std::exp(double(l) - max);
            total += double(logits[static_cast<size_t>(cont[j])]) - max - std::log(sum);
            if (j + 1 < cont.size()) logits = session->decode(cont[j]);
        }
        return total;
    }
};

// A question as a completion prompt, or (chat) as the user message of SQuAD's usual chat form,
// "Context: …\n\nQuestion: …", the form fine-tuning data for extractive QA takes (the
// chat-train split of ../shared, for one), with the answer left to the assistant's turn.
std::string squad_prompt(const SquadQuestion& q, bool chat) {
    if (chat) return "Context: " + q.context + "\n\nQuestion: " + q.question;
    return "Title: " + q.title + "\nBackground: " + q.context + "\nQuestion: " + q.question + "\nAnswer:";
}

std::vector<Example> squad_examples(const std::string& path, bool chat, std::vector<Example>& shot_pool) {
    auto ds = load_squad_dataset(path);
    std::vector<Example> out;
    for (const auto& q : ds.questions) out.push_back({q.id, squad_prompt(q, chat), q.answers, {}, -1});
    // Shots come from the end of the file, one per paragraph, shortest contexts first.
    std::vector<const SquadQuestion*> tail;
    std::string last_context;
    for (size_t i = ds.questions.size(); i-- > 0 && tail.size() < 64;)
        if (ds.questions[i].context != last_context) {
            tail.push_back(&ds.questions[i]);
            last_context = ds.questions[i].context;
        }
    std::stable_sort(tail.begin(), tail.end(), [](auto* a, auto* b) { return a->context.size() < b->context.size(); });
    for (auto* q : tail) shot_pool.push_back({q->id, squad_prompt(*q, chat), q->answers, {}, -1});
    return out;
}

std::vector<Json> jsonl_objects(const std::string& path) {
    std::vector<Json> out;
    size_t line_no = 0;
    for (const auto& line : read_lines(path)) {
        ++line_no;
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        try {
            out.push_back(Json::parse(line));
        } catch (const Json::exception& e) {
            fail("{}:{}: not valid JSON: {}", path, line_no, e.what());
        }
        if (!out.back().is_object()) fail("{}:{}: not a JSON object", path, line_no);
    }
    if (out.empty()) fail("{}: no examples", path);
    return out;
}

std::string string_field(const Json& obj, std::initializer_list<const char*> names, const std::string& where) {
    for (const char* name : names)
        if (obj.contains(name) && obj[name].is_string()) return obj[name].get<std::string>();
    std::string list;
    for (const char* name : names) list += (list.empty() ? "'" : ", '") + std::string(name) + "'";
    fail("{}: no string field {}", where, list);
}

std::vector<Example> summarize_examples(const std::string& path) {
    std::vector<Example> out;
    size_t n = 0;
    for (const auto& obj : jsonl_objects(path)) {
        std::string where = path + ": example " + std::to_string(++n);
        out.push_back({obj.contains("id") ? obj["id"].dump() : std::to_string(n),
                       string_field(obj, {"document", "article", "text"}, where) + "\n\nTL;DR:",
                       {string_field(obj, {"summary", "highlights"}, where)}, {}, -1});
    }
    return out;
}

std::vector<Example> mc_examples(const std::string& path) {
    std::vector<Example> out;
    size_t n = 0;
    for (const auto& obj : jsonl_objects(path)) {
        std::string where = path + ": example " + std::to_string(++n);
        Example e{obj.contains("id") ? obj["id"].dump() : std::to_string(n),
                  "Question: " + string_field(obj, {"question", "query"}, where) + "\nAnswer:", {}, {}, -1};
        if (!obj.contains("choices") || !obj["choices"].is_array() || obj["choices"].size() < 2)
            fail("{}: 'choices' must be a list of at least two strings", where);
        for (const auto& c : obj["choices"]) {
            if (!c.is_string()) fail("{}: every choice must be a string", where);
            e.choices.push_back(c.get<std::string>());
        }
        if (!obj.contains("answer")) fail("{}: no 'answer' (index of the right choice, or its text)", where);
        const auto& a = obj["answer"];
        if (a.is_number_integer()) e.gold = a.get<int>();
        if (a.is_string())
            for (size_t k = 0; k < e.choices.size(); ++k)
                if (e.choices[k] == a.get<std::string>()) e.gold = static_cast<int>(k);
        if (e.gold < 0 || e.gold >= static_cast<int>(e.choices.size()))
            fail("{}: answer {} is not one of the {} choices", where, a.dump(), e.choices.size());
        out.push_back(std::move(e));
    }
    return out;
}

// The prompt for `target`: up to `shots` solved examples (not the target itself), then the target;
// shots are dropped one by one while the prompt does not fit.
std::vector<int32_t> build_prompt(Runtime& rt, const Example& target, const std::vector<Example>& pool, int shots,
                                  int reserve, std::string& prompt, bool& truncated) {
    std::vector<const Example*> chosen;
    for (const auto& e : pool)
        if (static_cast<int>(chosen.size()) < shots && e.id != target.id) chosen.push_back(&e);
    for (;;) {
        prompt.clear();
        for (const Example* e : chosen) prompt += e->context_block + " " + e->answers.front() + "\n\n";
        prompt += target.context_block;
        auto ids = rt.fit(prompt, reserve, truncated);
        if (!truncated || chosen.empty()) return ids;
        chosen.pop_back();
    }
}

double mean(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

}  // namespace

std::string run_task(const TaskOptions& o) {
    const char* task_name = o.kind == TaskKind::squad ? "squad" : o.kind == TaskKind::summarize ? "summarize" : "mc";
    std::vector<Example> examples, pool;
    if (o.kind == TaskKind::squad) examples = squad_examples(o.data_path, o.chat, pool);
    if (o.kind == TaskKind::summarize) {
        examples = summarize_examples(o.data_path);
        pool.assign(examples.rbegin(), examples.rend());  // shots from the end of the file
    }
    if (o.kind == TaskKind::multiple_choice) examples = mc_examples(o.data_path);
    if (o.limit > 0 && static_cast<size_t>(o.limit) < examples.size()) examples.resize(static_cast<size_t>(o.limit));
    const int max_tokens = o.max_tokens > 0 ? o.max_tokens : o.kind == TaskKind::summarize ? 64 : 32;

    auto start = std::chrono::steady_clock::now();
    Runtime rt(o);
    std::filesystem::create_directories(o.output_dir);
    std::string prompts_jsonl;
    Progress progress(std::string("eval ") + task_name, examples.size(), "examples");
    std::vector<double> em, f1, acc, acc_norm;
    std::vector<RougeScores> rouge;
    RougeScorer scorer({"rouge1", "rouge2", "rougeL", "rougeLsum"}, true);
    size_t truncated_count = 0;
    for (const auto& ex : examples) {
        Json record{{"id", ex.id}};
        if (o.kind == TaskKind::multiple_choice) {
            std::vector<double> ll;
            int best = 0, best_norm = 0;
            for (size_t k = 0; k < ex.choices.size(); ++k) {
                ll.push_back(rt.loglikelihood(ex.context_block, " " + ex.choices[k]));
                // acc_norm divides by the continuation's length in characters, as lm-evaluation-harness.
                const double norm = ll.back() / static_cast<double>(py::decode(" " + ex.choices[k]).size());
                const double best_norm_value =
                    ll[static_cast<size_t>(best_norm)] / static_cast<double>(py::decode(" " + ex.choices[static_cast<size_t>(best_norm)]).size());
                if (ll.back() > ll[static_cast<size_t>(best)]) best = static_cast<int>(k);
                if (norm > best_norm_value) best_norm = static_cast<int>(k);
            }
            acc.push_back(best == ex.gold ? 1.0 : 0.0);
            acc_norm.push_back(best_norm == ex.gold ? 1.0 : 0.0);
            record["prompt"] = ex.context_block;
            record["choices"] = ex.choices;
            record["loglikelihoods"] = ll;
            record["gold"] = ex.gold;
            record["prediction"] = best;
            record["prediction_norm"] = best_norm;
        } else {
            std::string prompt;
            bool truncated = false;
            auto ids = build_prompt(rt, ex, pool, o.shots, max_tokens, prompt, truncated);
            truncated_count += truncated;
            std::string output = trim(rt.generate(ids, max_tokens));
            record["prompt"] = prompt;
            if (rt.chat) record["chat_prompt"] = rt.render(prompt);
            record["prompt_tokens"] = ids.size();
            if (truncated) record["truncated"] = true;
            record["output"] = output;
            record["references"] = ex.answers;
            if (o.kind == TaskKind::squad) {
                auto s = squad_score(output, ex.answers);
                em.push_back(s.exact_match);
                f1.push_back(s.f1);
                record["exact_match"] = s.exact_match;
                record["f1"] = s.f1;
            } else {
                rouge.push_back(scorer.score(ex.answers.front(), output));
                for (auto& [type, s] : rouge.back()) record[type] = s.fmeasure;
            }
        }
        prompts_jsonl += record.dump() + "\n";
        progress.advance();
    }
    progress.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    Json result{{"task", task_name}, {"model", o.model_path}, {"data", o.data_path}, {"examples", examples.size()}};
    if (!o.lora.empty()) {
        result["lora"] = Json::array();
        for (const LoraSpec& s : o.lora) result["lora"].push_back({{"path", s.path}, {"scale", s.scale}});
    }
    if (o.chat) result["chat"] = o.system.empty() ? Json(true) : Json{{"system", o.system}};
    if (o.kind == TaskKind::squad) {
        result["shots"] = o.shots;
        result["max_tokens"] = max_tokens;
        result["exact_match"] = 100.0 * mean(em);
        result["f1"] = 100.0 * mean(f1);
    } else if (o.kind == TaskKind::summarize) {
        result["shots"] = o.shots;
        result["max_tokens"] = max_tokens;
        for (const char* type : {"rouge1", "rouge2", "rougeL", "rougeLsum"}) {
            std::vector<double> p, r, f;
            for (auto& s : rouge) {
                p.push_back(s[type].precision);
                r.push_back(s[type].recall);
                f.push_back(s[type].fmeasure);
            }
            result[type] = {{"precision", mean(p)}, {"recall", mean(r)}, {"fmeasure", mean(f)}};
        }
    } else {
        result["acc"] = mean(acc);
        result["acc_norm"] = mean(acc_norm);
    }
    if (truncated_count) result["truncated_prompts"] = truncated_count;
    result["seconds"] = seconds;
    const std::string dir = o.output_dir;
    result["prompts"] = dir + "/prompts.jsonl";
    write_file_atomic(dir + "/prompts.jsonl", prompts_jsonl);
    std::string text = result.dump(1);
    write_file_atomic(dir + "/results.json", text + "\n");
    return text;
}

}  // namespace slm::eval

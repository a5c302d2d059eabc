// `slm rag index|query|chat|ls|rm`: a local knowledge base of documents (one SQLite file, an
// hnswlib index beside it) searched by BM25, vectors or both, and answers grounded in it that
// cite their passages as file:page:lines.
#include <fmt/format.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/grounded_prompt.h>
#include <slm/model.h>
#include <slm/rag.h>
#include <slm/reranker.h>
#include <slm/thread_pool.h>
#include <slm/tokenizer.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "grounded_chat.h"
#include "line_input.h"
#include "model_arg.h"

namespace {

using namespace slm;
using nlohmann::ordered_json;

struct RagOptions {
    std::string kb, embed, question, queries_file, mode = "hybrid", fusion, pooling;
    std::vector<std::string> paths;
    int chunk_tokens = 256, overlap = 32, k = 5, threads = 0;
    int rerank = -1;  // -1: no rerank; 0: rag::rerank_candidates' default count; else that many candidates
    std::string rerank_model;  // search --rerank: the model that scores (query and chat use --model)
    bool reembed = false, json = false, no_progress = false;
    cli::GroundedChatOptions chat;
    CLI::Option* chunk_opt = nullptr;
};

// How many passages to retrieve: k, or the candidates a rerank narrows down to k.
int retrieval_depth(const RagOptions& o) { return o.rerank < 0 ? o.k : rag::rerank_candidates(o.k, o.rerank); }

// --fusion, or the library's default.
rag::Fusion fusion_of(const RagOptions& o) { return o.fusion.empty() ? rag::Fusion{} : rag::parse_fusion(o.fusion); }

// The KB's own embedding model (with the pooling it recorded) unless --embed names one; vector
// and hybrid queries need it.
std::unique_ptr<rag::TextEmbedder> query_embedder(const RagOptions& o, const rag::KnowledgeBase& kb,
                                                  rag::RetrievalMode mode) {
    if (mode == rag::RetrievalMode::bm25) return nullptr;
    return rag::open_kb_embedder(kb, o.embed, o.threads);
}

ordered_json passage_json(const rag::Passage& p, size_t number) {
    return {{"number", number},
            {"chunk_id", p.chunk_id},
            {"source", rag::source_label(p)},
            {"path", p.path},
            {"page", p.page},
            {"line_begin", p.line_begin},
            {"line_end", p.line_end},
            {"score", p.score},
            {"bm25_score", p.bm25_score},
            {"bm25_rank", p.bm25_rank},
            {"vector_score", p.vector_score},
            {"vector_rank", p.vector_rank},
            {"rerank_score", p.rerank_score ? ordered_json(*p.rerank_score) : ordered_json(nullptr)},
            {"text", p.text}};
}

void print_citations(const cli::GroundedAnswer& a) {
    const auto cited = rag::cited_passages(a.text, a.passages);
    if (cited.empty()) {
        std::printf("\nNo passage cited. Retrieved:\n");
        for (size_t i = 0; i < a.passages.size(); ++i)
            std::printf("  [%zu] %s\n", i + 1, rag::source_label(a.passages[i]).c_str());
    } else {
        std::printf("\nSources:\n");
        for (const auto& c : cited) std::printf("  [%d] %s\n", c.number, c.label.c_str());
    }
    std::fflush(stdout);
}

void index(const RagOptions& o) {
    auto embedder = rag::open_model_embedder(o.embed, o.threads, o.pooling);
    rag::IndexOptions options;
    options.chunking = {o.chunk_tokens, o.overlap};
    // Without --chunk-tokens, a model with a short window (all-MiniLM: 256 with its specials) gets chunks that fit it.
    if (!o.chunk_opt->count() && embedder->max_tokens() > 0)
        options.chunking.chunk_tokens = int(std::min<size_t>(size_t(o.chunk_tokens), embedder->max_tokens()));
    options.reembed = o.reembed;
    options.progress = !o.no_progress;
    auto kb = rag::KnowledgeBase::open(o.kb, rag::KnowledgeBase::Access::write);
    const rag::IndexReport r = kb.index(o.paths, *embedder, o.embed, options);
    for (const auto& bad : r.rejected) std::fprintf(stderr, "skipped %s: %s\n", bad.path.c_str(), bad.reason.c_str());
    const rag::KnowledgeBaseInfo info = kb.info();
    std::printf(
        "%s: %d files seen, %d indexed (%lld chunks embedded), %d unchanged, %d removed, %zu rejected in %.1f s; "
        "%lld sources, %lld chunks, %s search\n",
        o.kb.c_str(), r.files_seen, r.files_indexed, static_cast<long long>(r.chunks_embedded), r.files_unchanged,
        r.files_removed, r.rejected.size(), r.seconds, static_cast<long long>(info.sources),
        static_cast<long long>(info.chunks), info.ann_index ? "hnsw" : "exact");
}

void query(const RagOptions& o) {
    const rag::RetrievalMode mode = rag::parse_retrieval_mode(o.mode);
    auto kb = rag::KnowledgeBase::open(o.kb, rag::KnowledgeBase::Access::read);
    if (o.question.find_first_not_of(" \t\r\n") == std::string::npos) fail("empty query: ask a question");
    auto embedder = query_embedder(o, kb, mode);
    std::vector<rag::Passage> passages =
        kb.retrieve(o.question, retrieval_depth(o), mode, embedder.get(), fusion_of(o));
    embedder.reset();  // the generator's memory, not the embedder's, is needed from here
    cli::GroundedChat chat(o.chat);
    if (o.rerank >= 0) passages = chat.rerank(o.question, std::move(passages), o.k);
    const bool stream = !o.json;
    const cli::GroundedAnswer a = chat.ask(o.question, passages, [&](std::string_view piece) {
        if (!stream) return;
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
    });
    if (!o.json) {
        std::printf("\n");
        print_citations(a);
        return;
    }
    ordered_json out = {{"question", o.question}, {"mode", o.mode}};
    if (mode == rag::RetrievalMode::hybrid) out["fusion"] = rag::fusion_name(fusion_of(o));
    if (o.rerank >= 0) out["rerank_candidates"] = retrieval_depth(o);
    out["answer"] = a.text;
    ordered_json citations = ordered_json::array();
    for (const auto& c : rag::cited_passages(a.text, a.passages))
        citations.push_back({{"number", c.number},
                             {"source", c.label},
                             {"path", a.passages[c.passage].path},
                             {"page", a.passages[c.passage].page},
                             {"line_begin", a.passages[c.passage].line_begin},
                             {"line_end", a.passages[c.passage].line_end}});
    out["citations"] = citations;
    ordered_json retrieved = ordered_json::array();
    for (size_t i = 0; i < passages.size(); ++i) {
        ordered_json p = passage_json(passages[i], i + 1);
        p["in_prompt"] = i < a.passages.size();
        retrieved.push_back(std::move(p));
    }
    out["retrieved"] = retrieved;
    out["timings"] = {{"prompt_tokens", a.result.timings.prompt_tokens},
                      {"generated_tokens", a.result.timings.generated_tokens},
                      {"prompt_ms", a.result.timings.prompt_ms},
                      {"generation_ms", a.result.timings.generation_ms}};
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

// The start of a passage on one line: newlines as spaces, cut at a UTF-8 character boundary.
std::string preview(const std::string& text, size_t bytes = 160) {
    size_t end = std::min(bytes, text.size());
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    std::string out = text.substr(0, end);
    std::replace(out.begin(), out.end(), '\n', ' ');
    return end < text.size() ? out + "…" : out;
}

// Retrieval alone, for one query or a file of them (one per line): what evaluations and scripts use.
void search(const RagOptions& o) {
    const rag::RetrievalMode mode = rag::parse_retrieval_mode(o.mode);
    auto kb = rag::KnowledgeBase::open(o.kb, rag::KnowledgeBase::Access::read);
    auto embedder = query_embedder(o, kb, mode);
    const rag::Fusion fusion = fusion_of(o);
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tokenizer;
    std::unique_ptr<ThreadPool> pool;
    std::unique_ptr<rag::Reranker> reranker;
    if (o.rerank < 0 && !o.rerank_model.empty())
        fail("search --model {}: the model only scores for --rerank", o.rerank_model);
    if (o.rerank >= 0) {
        if (o.rerank_model.empty()) fail("search --rerank: name the model that scores the passages with --model");
        model = Model::load(o.rerank_model);
        tokenizer = Tokenizer::from_model_path(o.rerank_model);
        pool = std::make_unique<ThreadPool>(o.threads);
        reranker = std::make_unique<rag::Reranker>(*model, *tokenizer, *pool);
    }
    std::vector<std::string> queries;
    if (!o.question.empty()) queries.push_back(o.question);
    if (!o.queries_file.empty()) {
        std::istringstream lines(read_text_file(o.queries_file));
        for (std::string line; std::getline(lines, line);)
            if (line.find_first_not_of(" \t\r") != std::string::npos) queries.push_back(line);
    }
    if (queries.empty()) fail("search: give a query, or --file with one query per line");
    for (size_t qi = 0; qi < queries.size(); ++qi) {
        auto passages = kb.retrieve(queries[qi], retrieval_depth(o), mode, embedder.get(), fusion);
        if (reranker) passages = reranker->rerank(queries[qi], std::move(passages), o.k);
        if (o.json) {
            ordered_json results = ordered_json::array();
            for (size_t i = 0; i < passages.size(); ++i) results.push_back(passage_json(passages[i], i + 1));
            ordered_json line = {{"query", queries[qi]}, {"mode", o.mode}};
            if (mode == rag::RetrievalMode::hybrid) line["fusion"] = rag::fusion_name(fusion);
            if (reranker) line["rerank_candidates"] = retrieval_depth(o);
            line["results"] = std::move(results);
            std::printf("%s\n", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
            continue;
        }
        if (queries.size() > 1) std::printf("%s%s\n", qi ? "\n" : "", queries[qi].c_str());
        for (size_t i = 0; i < passages.size(); ++i)
            std::printf("[%zu] %.4f  %s\n    %s\n", i + 1, passages[i].rerank_score.value_or(passages[i].score),
                        rag::source_label(passages[i]).c_str(),
                        preview(passages[i].text).c_str());
    }
}

void chat(const RagOptions& o) {
    const rag::RetrievalMode mode = rag::parse_retrieval_mode(o.mode);
    auto kb = rag::KnowledgeBase::open(o.kb, rag::KnowledgeBase::Access::read);
    auto embedder = query_embedder(o, kb, mode);
    const rag::Fusion fusion = fusion_of(o);
    cli::GroundedChat chat(o.chat);
    const bool terminal = isatty(STDIN_FILENO);
    if (terminal) std::printf("Ask about %s (/clear forgets the conversation, /bye or Ctrl-D leaves).\n", o.kb.c_str());
    std::string line;
    while (cli::read_input_line(terminal, "?> ", line)) {
        if (line.find_first_not_of(" \t\r\n") == std::string::npos) continue;
        if (line == "/bye") break;
        if (line == "/clear") {
            chat.clear();
            std::printf("Cleared the conversation.\n");
            continue;
        }
        try {
            auto passages = kb.retrieve(line, retrieval_depth(o), mode, embedder.get(), fusion);
            if (o.rerank >= 0) passages = chat.rerank(line, std::move(passages), o.k);
            const auto a = chat.ask(line, std::move(passages), [](std::string_view piece) {
                std::fwrite(piece.data(), 1, piece.size(), stdout);
                std::fflush(stdout);
            });
            std::printf("\n");
            print_citations(a);
            std::printf("\n");
        } catch (const Error& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
        }
    }
}

void ls(const RagOptions& o) {
    auto kb = rag::KnowledgeBase::open(o.kb, rag::KnowledgeBase::Access::read);
    const rag::KnowledgeBaseInfo info = kb.info();
    const auto sources = kb.sources();
    if (o.json) {
        ordered_json list = ordered_json::array();
        for (const auto& s : sources)
            list.push_back(
                {{"path", s.path}, {"chunks", s.chunks}, {"pages", s.pages}, {"size", s.size}, {"sha256", s.hash}});
        ordered_json out = {{"kb", o.kb},
                            {"embed_model", info.embed_model_id},
                            {"embed_model_path", info.embed_model_path},
                            {"dim", info.dim},
                            {"chunk_tokens", info.chunking.chunk_tokens},
                            {"overlap_tokens", info.chunking.overlap_tokens},
                            {"chunks", info.chunks},
                            {"search", info.ann_index ? "hnsw" : "exact"},
                            {"sources", list}};
        std::printf("%s\n", out.dump(2).c_str());
        return;
    }
    std::printf(
        "%s: %lld sources, %lld chunks (%d tokens, overlap %d), %s search\nembedding model: %s (%d dims)\n  %s\n",
        o.kb.c_str(), static_cast<long long>(info.sources), static_cast<long long>(info.chunks),
        info.chunking.chunk_tokens, info.chunking.overlap_tokens, info.ann_index ? "hnsw" : "exact",
        info.embed_model_path.c_str(), info.dim, info.embed_model_id.c_str());
    for (const auto& s : sources)
        std::printf("%6d chunks %s%10lld bytes  %s\n", s.chunks,
                    s.pages > 1 ? fmt::format("{:4} pages ", s.pages).c_str() : "", static_cast<long long>(s.size),
                    s.path.c_str());
}

void rm(const RagOptions& o) {
    auto kb = rag::KnowledgeBase::open(o.kb, rag::KnowledgeBase::Access::write);
    const int removed = kb.remove(o.paths);
    std::printf("%s: removed %d source%s\n", o.kb.c_str(), removed, removed == 1 ? "" : "s");
}

void add_fusion_option(CLI::App* cmd, RagOptions& o) {
    const std::string help =
        "How hybrid merges BM25 and vectors: relative or rrf, optionally :BM25_WEIGHT,VECTOR_WEIGHT "
        "(default " +
        rag::fusion_name(rag::Fusion{}) + "; docs/rag.md)";
    cmd->add_option("--fusion", o.fusion, help);
}

void add_rerank_option(CLI::App* cmd, RagOptions& o) {
    cmd->add_option("--rerank", o.rerank,
                    "Rerank: score the best N retrieved passages with the model (query likelihood) and keep the k "
                    "best (N default 4 x k, at least 20)")
        ->expected(0, 1)
        ->default_str("0");
}

void add_generation_options(CLI::App* cmd, RagOptions& o) {
    cmd->add_option("-n,--n-predict", o.chat.max_tokens, "Tokens to generate at most")->capture_default_str();
    cmd->add_option("--temp", o.chat.temperature, "Temperature (0: greedy)")->capture_default_str();
    cmd->add_option("--seed,-s", o.chat.seed, "Random seed for sampling");
    cmd->add_option("--ctx,-c", o.chat.n_ctx, "Context size in tokens (default: the model's, at most 4096)");
    cmd->add_option("--k", o.k, "Passages to retrieve")->capture_default_str();
    cmd->add_option("--mode", o.mode, "Retrieval: hybrid (BM25 and vectors fused), bm25 or vector")
        ->check(CLI::IsMember({"hybrid", "bm25", "vector"}))
        ->capture_default_str();
    add_fusion_option(cmd, o);
    add_rerank_option(cmd, o);
}

}  // namespace

void add_verb_rag(CLI::App& app) {
    auto* rag_cmd =
        app.add_subcommand("rag", "Index documents into a knowledge base; answer questions from it with citations");
    rag_cmd->require_subcommand(1);
    auto o = std::make_shared<RagOptions>();

    auto* idx = rag_cmd->add_subcommand("index", "Add or update documents (.txt .md .html .pdf, folders recursively)");
    auto idx_models = std::make_shared<cli::ModelArgs>(idx);
    idx->add_option("kb", o->kb, "Knowledge base file (made when missing)")->required();
    idx->add_option("docs", o->paths, "Files and folders to index")->required();
    idx_models->add("--embed", o->embed, "Embedding model: an encoder (bge, e5, MiniLM) or a decoder in embedding mode")
        ->required();
    o->chunk_opt = idx->add_option("--chunk-tokens", o->chunk_tokens, "Tokens per chunk (the embedding model's tokens)")
                       ->capture_default_str();
    idx->add_option("--overlap", o->overlap, "Tokens shared by consecutive chunks")->capture_default_str();
    idx->add_option("--pooling", o->pooling, "Embedding pooling: cls, mean or last (default: the model's own)")
        ->check(CLI::IsMember({"cls", "mean", "last"}));
    idx->add_flag("--reembed", o->reembed, "Rebuild every chunk and vector (another model or chunking)");
    idx->add_option("--threads,-t", o->threads, "Worker threads (default: one per CPU)");
    idx->add_flag("--no-progress", o->no_progress, "No progress bar");
    idx->callback([o, idx_models] {
        idx_models->resolve();
        index(*o);
    });

    auto* q = rag_cmd->add_subcommand("query", "Answer a question from the knowledge base, citing its passages");
    auto q_models = std::make_shared<cli::ModelArgs>(q);
    q->add_option("kb", o->kb, "Knowledge base file")->required()->check(CLI::ExistingFile);
    q->add_option("question", o->question, "The question")->required();
    q_models->add("--model,-m", o->chat.model, "Model that writes the answer (HF directory or GGUF)")->required();
    q_models->add("--embed", o->embed, "Embedding model (default: the one the KB was built with)");
    add_generation_options(q, *o);
    q->add_option("--threads,-t", o->threads, "Worker threads (default: one per CPU)");
    q->add_flag("--json", o->json, "One JSON object: answer, citations, retrieved chunks with scores");
    q->callback([o, q_models] {
        q_models->resolve();
        o->chat.threads = o->threads;
        query(*o);
    });

    auto* c = rag_cmd->add_subcommand("chat", "A conversation grounded in the knowledge base");
    auto c_models = std::make_shared<cli::ModelArgs>(c);
    c->add_option("kb", o->kb, "Knowledge base file")->required()->check(CLI::ExistingFile);
    c_models->add("--model,-m", o->chat.model, "Model that writes the answers")->required();
    c_models->add("--embed", o->embed, "Embedding model (default: the one the KB was built with)");
    add_generation_options(c, *o);
    c->add_option("--threads,-t", o->threads, "Worker threads (default: one per CPU)");
    c->callback([o, c_models] {
        c_models->resolve();
        o->chat.threads = o->threads;
        chat(*o);
    });

    auto* se = rag_cmd->add_subcommand("search", "Retrieve passages without generating an answer");
    auto se_models = std::make_shared<cli::ModelArgs>(se);
    se->add_option("kb", o->kb, "Knowledge base file")->required()->check(CLI::ExistingFile);
    se->add_option("query", o->question, "The query");
    se->add_option("--file,-f", o->queries_file, "Queries, one per line")->check(CLI::ExistingFile);
    se_models->add("--embed", o->embed, "Embedding model (default: the one the KB was built with)");
    se->add_option("--k", o->k, "Passages to retrieve")->capture_default_str();
    se->add_option("--mode", o->mode, "Retrieval: hybrid, bm25 or vector")
        ->check(CLI::IsMember({"hybrid", "bm25", "vector"}))
        ->capture_default_str();
    add_fusion_option(se, *o);
    add_rerank_option(se, *o);
    se_models->add("--model,-m", o->rerank_model, "Model that scores the passages for --rerank");
    se->add_option("--threads,-t", o->threads, "Worker threads (default: one per CPU)");
    se->add_flag("--json", o->json, "One JSON line per query: the passages with their scores and ranks");
    se->callback([o, se_models] {
        se_models->resolve();
        search(*o);
    });

    auto* l = rag_cmd->add_subcommand("ls", "List the sources, chunks and embedding model of a knowledge base");
    l->add_option("kb", o->kb, "Knowledge base file")->required()->check(CLI::ExistingFile);
    l->add_flag("--json", o->json, "JSON output");
    l->callback([o] { ls(*o); });

    auto* r = rag_cmd->add_subcommand("rm", "Remove sources (files, or everything under a folder)");
    r->add_option("kb", o->kb, "Knowledge base file")->required()->check(CLI::ExistingFile);
    r->add_option("paths", o->paths, "Source files or folders")->required();
    r->callback([o] { rm(*o); });
}

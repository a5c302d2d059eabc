// Which embedding model a knowledge base's queries are embedded with, and opening it: the model
// path and pooling the KB recorded, so the CLI and the server embed queries as the chunks were.
#include <slm/error.h>
#include <slm/rag.h>

#include <filesystem>

namespace slm::rag {
namespace {

// The pooling a recorded model id names ("qwen2-320d-… pooling=last normalize=yes …", as
// slm::Embedder::id writes it); "" when it names none.
std::string recorded_pooling(const std::string& model_id) {
    const std::string key = " pooling=";
    const size_t at = model_id.find(key);
    if (at == std::string::npos) return "";
    const size_t begin = at + key.size();
    return model_id.substr(begin, model_id.find(' ', begin) - begin);
}

}  // namespace

KbEmbedderChoice kb_embedder_choice(const KnowledgeBase& kb, const std::string& override_path) {
    const KnowledgeBaseInfo info = kb.info();
    KbEmbedderChoice choice{override_path.empty() ? info.embed_model_path : override_path,
                            recorded_pooling(info.embed_model_id)};
    if (choice.path.empty()) fail("{}: the KB does not record its embedding model's path; name the model", info.path);
    if (override_path.empty() && !std::filesystem::exists(choice.path))
        fail(
            "{}: its embedding model {} is gone; give the same model from its new place, re-index the KB with "
            "--reembed, or retrieve with BM25 alone",
            info.path, choice.path);
    return choice;
}

std::unique_ptr<TextEmbedder> open_kb_embedder(const KnowledgeBase& kb, const std::string& override_path, int threads) {
    const KbEmbedderChoice choice = kb_embedder_choice(kb, override_path);
    std::unique_ptr<TextEmbedder> embedder;
    try {
        embedder = open_model_embedder(choice.path, threads, choice.pooling);
    } catch (const Error& e) {
        fail("{}: its embedding model cannot be loaded: {}", kb.info().path, e.what());
    }
    check_kb_embedder(kb, *embedder);
    return embedder;
}

void check_kb_embedder(const KnowledgeBase& kb, const TextEmbedder& embedder) {
    const KnowledgeBaseInfo info = kb.info();
    if (embedder.id() != info.embed_model_id)
        fail(
            "{}: built with embedding model '{}', but the query's model is '{}'; use the model it was built with or "
            "re-index it with --reembed",
            info.path, info.embed_model_id, embedder.id());
}

}  // namespace slm::rag

// chunk_document: a document's pages cut into chunks of at most `chunk_tokens` tokens (as the
// embedding model counts them), consecutive chunks sharing about `overlap_tokens`, cut at a
// heading or paragraph boundary when one is near. Each chunk is a verbatim slice of its page.
#pragma once

#include <slm/rag.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace slm::rag {

struct Chunk {
    int page = 0;                      // DocumentPage::number
    int line_begin = 0, line_end = 0;  // 1-based, inclusive, within the page
    std::string text;
};

struct Document;
using TokenCounter = std::function<size_t(std::string_view)>;

std::vector<Chunk> chunk_document(const Document& doc, const TokenCounter& count_tokens,
                                  const ChunkingOptions& options);

}  // namespace slm::rag

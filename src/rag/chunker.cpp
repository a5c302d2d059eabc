// Chunker: a page becomes pieces (sentences, or word runs of long sentences) that know their
// line and whether they open a paragraph or heading; pieces are packed greedily into chunks,
// cutting early at a block boundary once a chunk is half full, and the next chunk restarts a few
// pieces back for the overlap. A chunk's token count is re-checked on its own text.
#include "rag/chunker.h"

#include <slm/error.h>

#include <algorithm>

#include "rag/document.h"

namespace slm::rag {
namespace {

struct Piece {
    size_t begin = 0, end = 0;  // byte offsets in the page text
    int line_begin = 0, line_end = 0;
    int boundary = 0;  // a cut before this piece is: 0 mid-paragraph, 1 between paragraphs, 2 before a heading
    size_t tokens = 0;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

bool is_heading_line(std::string_view line) {
    size_t i = 0;
    while (i < line.size() && line[i] == '#') ++i;
    return i >= 1 && i <= 6 && i < line.size() && line[i] == ' ';
}

// Sentence ends: '.', '!' or '?' followed by a space (inside one line).
std::vector<std::pair<size_t, size_t>> sentences(std::string_view line) {
    std::vector<std::pair<size_t, size_t>> out;
    size_t start = 0;
    while (start < line.size() && is_space(line[start])) ++start;
    for (size_t i = start; i < line.size(); ++i) {
        const char c = line[i];
        if ((c == '.' || c == '!' || c == '?') && i + 1 < line.size() && is_space(line[i + 1])) {
            out.push_back({start, i + 1});
            start = i + 1;
            while (start < line.size() && is_space(line[start])) ++start;
            i = start - 1;
        }
    }
    size_t end = line.size();
    while (end > start && is_space(line[end - 1])) --end;
    if (end > start) out.push_back({start, end});
    return out;
}

class PieceBuilder {
public:
    PieceBuilder(const TokenCounter& count, size_t limit) : count_(count), limit_(std::max<size_t>(1, limit)) {}

    std::vector<Piece> build(std::string_view text) {
        pieces_.clear();
        int line = 0;
        bool after_blank = true;
        size_t pos = 0;
        while (pos <= text.size()) {
            size_t nl = text.find('\n', pos);
            if (nl == std::string_view::npos) nl = text.size();
            ++line;
            const std::string_view content = text.substr(pos, nl - pos);
            const bool blank = std::all_of(content.begin(), content.end(), is_space);
            if (blank) {
                after_blank = true;
            } else {
                const bool heading = is_heading_line(content);
                bool first = true;
                for (const auto& [b, e] : sentences(content)) {
                    add_span(pos + b, pos + e, text, line, !first ? 0 : heading ? 2 : after_blank ? 1 : 0);
                    first = false;
                }
                after_blank = false;  // the text under a heading stays with it
            }
            if (nl == text.size()) break;
            pos = nl + 1;
        }
        return std::move(pieces_);
    }

private:
    // A sentence too long for one piece is cut into runs of words (a single huge word by bytes).
    void add_span(size_t begin, size_t end, std::string_view text, int line, int boundary) {
        const std::string_view span = text.substr(begin, end - begin);
        const size_t tokens = count_(span);
        if (tokens <= limit_) {
            pieces_.push_back({begin, end, line, line, boundary, tokens});
            return;
        }
        size_t run_begin = begin, run_tokens = 0, i = begin;
        while (i < end) {
            size_t word_end = i;
            while (word_end < end && is_space(text[word_end])) ++word_end;
            while (word_end < end && !is_space(text[word_end])) ++word_end;
            size_t word_tokens = count_(text.substr(i, word_end - i));
            if (word_tokens > limit_) {  // one word longer than a piece: cut it at UTF-8 boundaries
                if (i > run_begin) flush(run_begin, i, text, line, boundary, run_tokens);
                size_t cut = i;
                while (cut < word_end) {
                    size_t next = std::min(word_end, cut + limit_);
                    while (next < word_end && (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80) ++next;
                    flush(cut, next, text, line, boundary, count_(text.substr(cut, next - cut)));
                    cut = next;
                }
                run_begin = i = word_end;
                run_tokens = 0;
                continue;
            }
            if (run_tokens + word_tokens > limit_ && i > run_begin) {
                flush(run_begin, i, text, line, boundary, run_tokens);
                run_begin = i;
                while (run_begin < end && is_space(text[run_begin])) ++run_begin;
                run_tokens = 0;
                word_tokens = count_(text.substr(run_begin, word_end - run_begin));
            }
            run_tokens += word_tokens;
            i = word_end;
        }
        if (end > run_begin) flush(run_begin, end, text, line, boundary, run_tokens);
    }

    void flush(size_t begin, size_t end, std::string_view, int line, int& boundary, size_t tokens) {
        pieces_.push_back({begin, end, line, line, boundary, tokens});
        boundary = 0;
    }

    const TokenCounter& count_;
    size_t limit_;
    std::vector<Piece> pieces_;
};

size_t tokens_between(const std::vector<Piece>& p, size_t a, size_t b) {
    size_t n = 0;
    for (size_t i = a; i < b; ++i) n += p[i].tokens;
    return n;
}

}  // namespace

std::vector<Chunk> chunk_document(const Document& doc, const TokenCounter& count_tokens,
                                  const ChunkingOptions& options) {
    if (options.chunk_tokens < 8) fail("chunk size {} tokens: at least 8 needed", options.chunk_tokens);
    if (options.overlap_tokens < 0 || options.overlap_tokens * 2 > options.chunk_tokens)
        fail("overlap {} tokens: must be between 0 and half the chunk size ({})", options.overlap_tokens,
             options.chunk_tokens / 2);
    const size_t max_tokens = size_t(options.chunk_tokens);
    const size_t overlap = size_t(options.overlap_tokens);
    // Pieces small enough that the overlap can be made of whole pieces.
    const size_t piece_limit = std::max<size_t>(4, overlap > 0 ? std::min(overlap, max_tokens / 4) : max_tokens / 4);
    std::vector<Chunk> chunks;
    for (const DocumentPage& page : doc.pages) {
        PieceBuilder builder(count_tokens, piece_limit);
        const std::vector<Piece> p = builder.build(page.text);
        size_t start = 0;
        while (start < p.size()) {
            size_t end = start, tokens = 0;
            size_t best_break[3] = {0, 0, 0};  // the last cut of each strength
            while (end < p.size() && (end == start || tokens + p[end].tokens <= max_tokens)) {
                if (end > start) best_break[p[end].boundary] = end;
                tokens += p[end].tokens;
                ++end;
            }
            // Prefer a heading, then a paragraph boundary, when the chunk would still be half full.
            if (end < p.size())
                for (int strength : {2, 1}) {
                    const size_t cut = best_break[strength];
                    if (cut > start && tokens_between(p, start, cut) * 2 >= max_tokens) {
                        end = cut;
                        break;
                    }
                }
            // The sum of pieces approximates the chunk's count; the chunk's own text decides.
            auto text_of = [&](size_t e) { return page.text.substr(p[start].begin, p[e - 1].end - p[start].begin); };
            std::string text = text_of(end);
            while (end > start + 1 && count_tokens(text) > max_tokens) text = text_of(--end);
            chunks.push_back({page.number, p[start].line_begin, p[end - 1].line_end, std::move(text)});
            if (end == p.size()) break;
            size_t next = end, carried = 0;
            while (next > start + 1 && carried + p[next - 1].tokens <= overlap) carried += p[--next].tokens;
            start = next;
        }
    }
    return chunks;
}

}  // namespace slm::rag

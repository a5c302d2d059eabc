// read_document: picks the reader by extension and refuses binary content before any text
// reaches the chunker, so the index never holds garbage from a stray image or archive.
#include "rag/document.h"

#include <slm/error.h>
#include <slm/file_io.h>

#include <algorithm>
#include <filesystem>

namespace slm::rag {
namespace {

std::string lower_extension(const std::string& path) {
    std::string ext = std::filesystem::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return ext;
}

// Offset of the first byte that is not valid UTF-8 (or a NUL), or npos.
size_t first_binary_byte(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == 0) return i;
        const int extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
        if (extra < 0 || i + size_t(extra) >= s.size()) return i;
        for (int k = 1; k <= extra; ++k)
            if ((static_cast<unsigned char>(s[i + size_t(k)]) & 0xC0) != 0x80) return i;
        i += size_t(extra) + 1;
    }
    return std::string_view::npos;
}

}  // namespace

bool is_document_file(const std::string& path) {
    const std::string ext = lower_extension(path);
    return ext == ".txt" || ext == ".md" || ext == ".markdown" || ext == ".html" || ext == ".htm" || ext == ".pdf";
}

Document read_document(const std::string& path) {
    Document doc{path, {}};
    const std::string ext = lower_extension(path);
    if (ext == ".pdf") {
        doc.pages = read_pdf_pages(path);
        return doc;
    }
    std::string text = read_text_file(path);
    if (text.compare(0, 5, "%PDF-") == 0) fail("{}: is a PDF without the .pdf extension; rename it to index it", path);
    if (const size_t bad = first_binary_byte(text); bad != std::string_view::npos)
        fail("{}: binary file (byte {} is not UTF-8 text); only .txt, .md, .html and .pdf documents are indexed", path,
             bad);
    if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);  // a UTF-8 byte order mark
    if (ext == ".html" || ext == ".htm") text = html_to_text(text);
    doc.pages.push_back({0, std::move(text)});
    return doc;
}

}  // namespace slm::rag

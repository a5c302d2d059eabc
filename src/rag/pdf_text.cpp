// read_pdf_pages: text of each page through poppler's C++ library, page numbers kept for
// citations. Encrypted and damaged files are refused by name rather than indexed empty.
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>
#include <slm/error.h>
#include <slm/file_io.h>

#include <memory>

#include "rag/document.h"

namespace slm::rag {
namespace {

// Poppler reports damage it works around on stderr; our own error names the file instead.
void quiet_poppler(const std::string&, void*) {}

}  // namespace

std::vector<DocumentPage> read_pdf_pages(const std::string& path) {
    poppler::set_debug_error_function(quiet_poppler, nullptr);
    if (!file_exists(path)) fail("{}: no such file", path);
    const std::string bytes = read_text_file(path);
    if (bytes.compare(0, 5, "%PDF-") != 0) fail("{}: not a PDF (no %PDF- header)", path);
    std::unique_ptr<poppler::document> doc(poppler::document::load_from_raw_data(bytes.data(), int(bytes.size())));
    if (!doc) fail("{}: unreadable PDF (corrupt, or encrypted with a password)", path);
    if (doc->is_locked()) fail("{}: encrypted PDF (password protected); decrypt it to index it", path);
    std::vector<DocumentPage> pages;
    const int n = doc->pages();
    if (n <= 0) fail("{}: unreadable PDF (no pages)", path);
    for (int i = 0; i < n; ++i) {
        std::unique_ptr<poppler::page> page(doc->create_page(i));
        if (!page) fail("{}: page {} cannot be read", path, i + 1);
        const poppler::byte_array utf8 = page->text().to_utf8();
        pages.push_back({i + 1, std::string(utf8.begin(), utf8.end())});
    }
    return pages;
}

}  // namespace slm::rag

// Document: the text of one source file, page by page (one page for anything but a PDF), read
// from .txt, .md, .html or .pdf; binary, unreadable or encrypted files are refused by name.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace slm::rag {

struct DocumentPage {
    int number = 0;  // 1-based for a PDF; 0 for a document without pages
    std::string text;
};

struct Document {
    std::string path;
    std::vector<DocumentPage> pages;
};

// Whether a folder walk picks this file up: .txt .md .markdown .html .htm .pdf (any case).
bool is_document_file(const std::string& path);

// Reads a document; throws slm::Error naming the file when it is binary (NUL bytes or invalid
// UTF-8), unreadable, or a PDF that is corrupt or encrypted. A file named explicitly with
// another extension is read as text.
Document read_document(const std::string& path);

// The visible text of an HTML page: scripts, styles and comments dropped, block elements on their
// own lines, headings kept as Markdown headings ("## Title"), character references decoded.
std::string html_to_text(std::string_view html);

// The text of each page of a PDF (poppler); throws naming the file when it cannot be read.
std::vector<DocumentPage> read_pdf_pages(const std::string& path);

}  // namespace slm::rag

// HashingEmbedder and the PDF writer used by the rag tests.
#include "rag/test_embedder.h"

#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace slm::rag::test {

size_t HashingEmbedder::count_tokens(std::string_view text) const {
    size_t n = 0;
    bool in_word = false;
    for (char c : text) {
        const bool space = std::isspace(static_cast<unsigned char>(c));
        if (!space && !in_word) ++n;
        in_word = !space;
    }
    return n;
}

std::vector<std::vector<float>> HashingEmbedder::embed(std::span<const std::string> texts) {
    ++calls;
    std::vector<std::vector<float>> out;
    for (const std::string& text : texts) {
        if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        std::vector<float> v(size_t(dim_), 0.0f);
        std::string word;
        auto flush = [&] {
            if (word.empty()) return;
            uint64_t h = 1469598103934665603ull;  // FNV-1a
            for (char c : word) h = (h ^ uint8_t(c)) * 1099511628211ull;
            for (int k = 0; k < 3; ++k, h >>= 16) v[size_t(h % uint64_t(dim_))] += (h & 0x8000) ? 1.0f : -1.0f;
            word.clear();
        };
        for (char c : text) {
            if (std::isalnum(static_cast<unsigned char>(c)))
                word += char(std::tolower(static_cast<unsigned char>(c)));
            else
                flush();
        }
        flush();
        out.push_back(std::move(v));
        ++texts_embedded;
    }
    return out;
}

IndexOptions quiet_index_options() {
    IndexOptions o;
    o.progress = false;
    o.chunking = {64, 8};
    return o;
}

void write_file(const std::string& path, const std::string& contents) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << contents;
}

namespace {

// Objects 1..n as given; offsets into the xref table computed as they are written.
std::string assemble_pdf(const std::vector<std::string>& objects, const std::string& trailer_extra) {
    std::string pdf = "%PDF-1.4\n";
    std::vector<size_t> offsets;
    for (size_t i = 0; i < objects.size(); ++i) {
        offsets.push_back(pdf.size());
        pdf += fmt::format("{} 0 obj\n{}\nendobj\n", i + 1, objects[i]);
    }
    const size_t xref = pdf.size();
    pdf += fmt::format("xref\n0 {}\n0000000000 65535 f \n", objects.size() + 1);
    for (size_t off : offsets) pdf += fmt::format("{:010} 00000 n \n", off);
    pdf += fmt::format("trailer\n<< /Size {} /Root 1 0 R {}>>\nstartxref\n{}\n%%EOF\n", objects.size() + 1,
                       trailer_extra, xref);
    return pdf;
}

std::vector<std::string> page_objects(const std::vector<std::string>& pages) {
    // 1: catalog, 2: pages, 3: font, then a page and its content stream per page.
    std::string kids;
    for (size_t i = 0; i < pages.size(); ++i) kids += fmt::format("{} 0 R ", 4 + 2 * i);
    std::vector<std::string> objects = {
        "<< /Type /Catalog /Pages 2 0 R >>",
        fmt::format("<< /Type /Pages /Kids [{}] /Count {} >>", kids, pages.size()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    };
    for (size_t i = 0; i < pages.size(); ++i) {
        std::string stream = "BT /F1 12 Tf 72 720 Td 14 TL\n";
        size_t begin = 0;
        while (begin <= pages[i].size()) {
            size_t end = pages[i].find('\n', begin);
            if (end == std::string::npos) end = pages[i].size();
            stream += fmt::format("({}) Tj T*\n", pages[i].substr(begin, end - begin));
            begin = end + 1;
        }
        stream += "ET";
        objects.push_back(
            fmt::format("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                        "/Contents {} 0 R >>",
                        5 + 2 * i));
        objects.push_back(fmt::format("<< /Length {} >>\nstream\n{}\nendstream", stream.size(), stream));
    }
    return objects;
}

}  // namespace

std::string make_pdf(const std::vector<std::string>& pages) { return assemble_pdf(page_objects(pages), ""); }

std::string make_encrypted_pdf(const std::string& text) {
    std::vector<std::string> objects = page_objects({text});
    // Standard security handler, revision 2, with /O and /U that no empty password matches.
    const std::string o(64, 'A'), u(64, 'B');
    objects.push_back(fmt::format("<< /Filter /Standard /V 1 /R 2 /Length 40 /P -4 /O <{}> /U <{}> >>", o, u));
    return assemble_pdf(
        objects,
        fmt::format("/Encrypt {} 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>] ",
                    objects.size()));
}

}  // namespace slm::rag::test

// Build-time tool: turns the web chat page's files (web/src and its vendor files) into a C++ source
// of byte arrays with content types, ETags and precomputed gzip and brotli bodies (cmake/webui.cmake).
// Usage: slm-webui-embed OUT.cpp [URL_PATH=FILE]…
#include <brotli/encode.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Asset {
    std::string path, file, type, body, gzip, brotli;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot be read");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string ends_with_type(const std::string& file) {
    static const std::pair<const char*, const char*> types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".json", "application/json"},
        {".webmanifest", "application/manifest+json"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
    };
    for (const auto& [ext, type] : types) {
        const std::string e = ext;
        if (file.size() >= e.size() && file.compare(file.size() - e.size(), e.size(), e) == 0) return type;
    }
    throw std::runtime_error(file + ": no content type is known for this file name");
}

// Vendor files end with a source-map comment; the map is not embedded, and a browser (or
// Lighthouse) asking for it would only get a 404.
std::string without_source_map(std::string text) {
    const size_t at = text.rfind("//# sourceMappingURL=");
    if (at != std::string::npos && text.find('\n', at) == std::string::npos) text.erase(at);
    return text;
}

std::string gzip(const std::string& in) {
    z_stream z{};
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("zlib init");
    std::string out(deflateBound(&z, uLong(in.size())) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = uInt(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = uInt(out.size());
    const int rc = deflate(&z, Z_FINISH);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) throw std::runtime_error("gzip failed");
    out.resize(z.total_out);
    return out;
}

std::string brotli(const std::string& in) {
    size_t size = BrotliEncoderMaxCompressedSize(in.size());
    std::string out(size, '\0');
    if (!BrotliEncoderCompress(BROTLI_MAX_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, in.size(),
                               reinterpret_cast<const uint8_t*>(in.data()), &size,
                               reinterpret_cast<uint8_t*>(out.data())))
        throw std::runtime_error("brotli failed");
    out.resize(size);
    return out;
}

// FNV-1a, enough to tell versions of a file apart for If-None-Match.
std::string etag(const std::string& body) {
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : body) h = (h ^ c) * 1099511628211ULL;
    char text[24];
    std::snprintf(text, sizeof text, "\"%016llx\"", static_cast<unsigned long long>(h));
    return text;
}

// A string literal of any bytes: octal escapes, split into lines the compiler reads quickly.
std::string literal(const std::string& bytes) {
    std::string out = "\n    \"";
    size_t line = 0;
    for (unsigned char c : bytes) {
        char esc[8];
        std::snprintf(esc, sizeof esc, "\\%03o", c);
        out += esc;
        if (++line == 40) {
            out += "\"\n    \"";
            line = 0;
        }
    }
    return out + "\"";
}

std::string escaped(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) try {
    if (argc < 2) throw std::runtime_error("usage: slm-webui-embed OUT.cpp [URL_PATH=FILE]...");
    std::vector<Asset> assets;
    for (int i = 2; i < argc; ++i) {
        const std::string arg = argv[i];
        const size_t eq = arg.find('=');
        if (eq == std::string::npos) throw std::runtime_error(arg + ": expected URL_PATH=FILE");
        Asset a;
        a.path = arg.substr(0, eq);
        a.file = arg.substr(eq + 1);
        a.type = ends_with_type(a.file);
        a.body = read_file(a.file);
        if (a.type.rfind("text/", 0) == 0) a.body = without_source_map(std::move(a.body));
        // Compressed bodies are kept only where they save something (not for PNGs).
        a.gzip = gzip(a.body);
        a.brotli = brotli(a.body);
        if (a.gzip.size() >= a.body.size()) a.gzip.clear();
        if (a.brotli.size() >= a.body.size()) a.brotli.clear();
        assets.push_back(std::move(a));
    }
    std::ostringstream out;
    out << "// Generated at build time by tools/webui_embed from web/ (cmake/webui.cmake); do not edit.\n"
           "// The web chat page's files: URL path, content type, ETag, body, gzip and brotli bodies.\n"
           "#include \"server/webui_assets.h\"\n\nnamespace slm::server {\nnamespace {\n\n"
           "using namespace std::string_view_literals;\n\n";
    out << "const WebAsset assets[] = {\n";
    for (const auto& a : assets) {
        out << "{\"" << escaped(a.path) << "\"sv, \"" << a.type << "\"sv, \"" << escaped(etag(a.body)) << "\"sv,"
            << literal(a.body) << "sv,\n"
            << literal(a.gzip) << "sv,\n"
            << literal(a.brotli) << "sv},\n";
    }
    if (assets.empty()) out << "{},\n";  // C++ has no empty arrays; webui_assets() leaves it out
    out << "};\n\n}  // namespace\n\nstd::span<const WebAsset> webui_assets() {\n"
        << "    return std::span<const WebAsset>(assets, " << assets.size() << ");\n}\n\n}  // namespace slm::server\n";
    const std::string text = out.str();
    // Rewritten only when it changes, so an unchanged page recompiles nothing.
    std::ifstream old(argv[1], std::ios::binary);
    if (old && std::string(std::istreambuf_iterator<char>(old), std::istreambuf_iterator<char>()) == text) return 0;
    std::ofstream file(argv[1], std::ios::binary);
    file << text;
    if (!file) throw std::runtime_error(std::string(argv[1]) + ": cannot be written");
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "slm-webui-embed: %s\n", e.what());
    return 1;
}

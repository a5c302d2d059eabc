// The web chat page at / and its files under /assets/ (docs/webui.md): served from the bytes
// compiled into the binary, precompressed, behind a Content-Security-Policy that allows no inline
// script and no other origin, so model output can never run script in the page.
#include "server/routes.h"
#include "server/webui_assets.h"

#include <httplib.h>

#include <cstdlib>
#include <string>

namespace slm::server {

namespace {

// Scripts, styles, fetches and images from this server only; no inline script or style
// attributes (the page sets none), no plugins, no framing, no <base> rewriting.
constexpr const char* content_security_policy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

// Whether Accept-Encoding lists `coding` without q=0 ("gzip, deflate, br;q=1.0").
bool accepts(const std::string& accept_encoding, std::string_view coding) {
    size_t begin = 0;
    while (begin < accept_encoding.size()) {
        size_t end = accept_encoding.find(',', begin);
        if (end == std::string::npos) end = accept_encoding.size();
        std::string_view item(accept_encoding.data() + begin, end - begin);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        const size_t semi = item.find(';');
        std::string_view name = item.substr(0, semi);
        while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
        if (name == coding) {
            if (semi == std::string_view::npos) return true;
            std::string_view params = item.substr(semi + 1);
            const size_t q = params.find("q=");
            return q == std::string_view::npos || std::strtod(std::string(params.substr(q + 2)).c_str(), nullptr) > 0.0;
        }
        begin = end + 1;
    }
    return false;
}

void serve_asset(const WebAsset& asset, const httplib::Request& req, httplib::Response& res) {
    res.set_header("Content-Security-Policy", content_security_policy);
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("Cache-Control", "no-cache");  // revalidated by ETag: a new binary's page is seen at once
    res.set_header("ETag", std::string(asset.etag));
    res.set_header("Vary", "Accept-Encoding");
    if (req.get_header_value("If-None-Match") == asset.etag) {
        res.status = 304;
        return;
    }
    const std::string accept = req.get_header_value("Accept-Encoding");
    std::string_view body = asset.body;
    if (!asset.brotli.empty() && accepts(accept, "br")) {
        body = asset.brotli;
        res.set_header("Content-Encoding", "br");
    } else if (!asset.gzip.empty() && accepts(accept, "gzip")) {
        body = asset.gzip;
        res.set_header("Content-Encoding", "gzip");
    }
    // A provider of known length: cpp-httplib sends it as is (it compresses only plain bodies
    // and chunked providers), so the precompressed bytes are not compressed again.
    res.set_content_provider(body.size(), std::string(asset.content_type),
                             [body](size_t offset, size_t length, httplib::DataSink& sink) {
                                 return sink.write(body.data() + offset, length);
                             });
}

}  // namespace

bool is_webui_path(const std::string& path) {
    for (const WebAsset& asset : webui_assets())
        if (asset.path == path) return true;
    return false;
}

void add_webui_routes(httplib::Server& http, RouteContext& /*context*/) {
    for (const WebAsset& asset : webui_assets()) {
        // Paths are literal file names; the route pattern is a regex, so its dots are escaped.
        std::string pattern;
        for (char c : asset.path) {
            if (c == '.' || c == '+' || c == '(' || c == ')' || c == '[' || c == ']') pattern += '\\';
            pattern += c;
        }
        http.Get(pattern,
                 [&asset](const httplib::Request& req, httplib::Response& res) { serve_asset(asset, req, res); });
    }
}

}  // namespace slm::server

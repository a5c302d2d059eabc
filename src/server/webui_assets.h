// The web chat page's files (web/), compiled into the binary at build time by tools/webui_embed
// (cmake/webui.cmake): each with its content type, ETag, and its body as is, gzip and brotli.
#pragma once

#include <span>
#include <string_view>

namespace slm::server {

struct WebAsset {
    std::string_view path;  // URL path: "/" for the page, "/assets/…" for the rest
    std::string_view content_type;
    std::string_view etag;  // quoted, as sent in ETag and compared with If-None-Match
    std::string_view body;
    std::string_view gzip, brotli;  // empty where compressing saves nothing
};

// Every embedded file; empty in a build configured with -DSLM_WEBUI=OFF.
std::span<const WebAsset> webui_assets();

}  // namespace slm::server

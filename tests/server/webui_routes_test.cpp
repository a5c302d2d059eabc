// The web chat page's routes without a browser: security headers, every embedded file served with
// its type, the modules' imports all embedded, brotli/gzip negotiation and ETags, the page public
// under --api-key while the API is not, and --no-webui. The browser tests are tests/webui.
#include "server/server_test_support.h"
#include "server/webui_assets.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace slm::server::test {
namespace {

class WebuiRoutes : public ::testing::Test {
protected:
    void SetUp() override {
        if (webui_assets().empty()) GTEST_SKIP() << "built with -DSLM_WEBUI=OFF: no page is embedded";
    }
};

const WebAsset& asset(const std::string& path) {
    for (const WebAsset& a : webui_assets())
        if (a.path == path) return a;
    throw std::runtime_error(path + " is not embedded");
}

TEST_F(WebuiRoutes, PageComesWithAContentSecurityPolicyForbiddingInlineScriptAndOtherOrigins) {
    auto s = start_server({}, nullptr);
    auto r = s.client().Get("/");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
    const std::string csp = r->get_header_value("Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("script-src 'self';"), std::string::npos) << csp;
    EXPECT_NE(csp.find("object-src 'none'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-"), std::string::npos) << csp;
    EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
    EXPECT_NE(r->body.find("<script type=\"module\" src=\"/assets/app.js\"></script>"), std::string::npos);
    // No inline script: every <script> has a src.
    EXPECT_FALSE(std::regex_search(r->body, std::regex("<script(?![^>]*\\bsrc=)[^>]*>")));
}

TEST_F(WebuiRoutes, EveryEmbeddedFileIsServedWithItsType) {
    auto s = start_server({}, nullptr);
    auto c = s.client();
    for (const WebAsset& a : webui_assets()) {
        auto r = c.Get(std::string(a.path));
        ASSERT_TRUE(r) << a.path;
        EXPECT_EQ(r->status, 200) << a.path;
        EXPECT_EQ(r->get_header_value("Content-Type"), a.content_type) << a.path;
        EXPECT_EQ(r->body, a.body) << a.path;  // the client undoes the Content-Encoding it asked for
    }
    auto missing = c.Get("/assets/not-there.js");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);
}

// A module importing a file that the build did not embed would fail only in the browser.
TEST_F(WebuiRoutes, EveryModuleImportAndPageReferenceIsEmbedded) {
    std::set<std::string> paths;
    for (const WebAsset& a : webui_assets()) paths.insert(std::string(a.path));
    const std::regex import(R"(\bfrom\s*['"](\.{1,2}/[^'"]+)['"])");
    const std::regex reference(R"((?:src|href)="(/assets/[^"]+)\")");
    size_t checked = 0;
    for (const WebAsset& a : webui_assets()) {
        const std::string body(a.body);
        const std::string dir = std::string(a.path.substr(0, a.path.rfind('/') + 1));
        for (std::sregex_iterator it(body.begin(), body.end(), import), end; it != end; ++it) {
            std::string target = (*it)[1];
            std::string base = dir;
            while (target.rfind("../", 0) == 0) {
                base = base.substr(0, base.rfind('/', base.size() - 2) + 1);
                target = target.substr(3);
            }
            if (target.rfind("./", 0) == 0) target = target.substr(2);
            EXPECT_TRUE(paths.count(base + target)) << a.path << " imports " << (*it)[1];
            ++checked;
        }
        for (std::sregex_iterator it(body.begin(), body.end(), reference), end; it != end; ++it, ++checked)
            EXPECT_TRUE(paths.count((*it)[1])) << a.path << " refers to " << (*it)[1];
    }
    EXPECT_GT(checked, 20u);
}

TEST_F(WebuiRoutes, PrecompressedBodiesFollowAcceptEncodingAndEtagsRevalidate) {
    auto s = start_server({}, nullptr);
    auto c = s.client();
    c.set_decompress(false);
    const WebAsset& app = asset("/assets/app.js");
    struct Case {
        const char* accept;
        const char* encoding;
        std::string_view body;
    };
    for (const Case& k : {Case{"gzip, deflate, br", "br", app.brotli}, Case{"gzip", "gzip", app.gzip},
                          Case{"br;q=0, gzip", "gzip", app.gzip}, Case{"identity", "", app.body}}) {
        auto r = c.Get("/assets/app.js", {{"Accept-Encoding", k.accept}});
        ASSERT_TRUE(r) << k.accept;
        EXPECT_EQ(r->get_header_value("Content-Encoding"), k.encoding) << k.accept;
        EXPECT_EQ(r->body, k.body) << k.accept;
        EXPECT_EQ(r->get_header_value("Vary"), "Accept-Encoding");
    }
    EXPECT_LT(app.brotli.size(), app.body.size() / 2);
    auto again = c.Get("/assets/app.js", {{"If-None-Match", std::string(app.etag)}});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 304);
    EXPECT_TRUE(again->body.empty());
}

TEST_F(WebuiRoutes, FirstLoadIsUnder150KiloBytesCompressed) {
    size_t total = 0;
    for (const WebAsset& a : webui_assets()) total += a.brotli.empty() ? a.body.size() : a.brotli.size();
    EXPECT_LT(total, 150u * 1000u) << "every embedded file, brotli-compressed";
}

TEST_F(WebuiRoutes, WithAnApiKeyThePageLoadsButTheApiAsksForTheKey) {
    ServerOptions options;
    options.api_key = "page-key";
    auto s = start_server(options, nullptr);
    auto c = s.client();
    auto page = c.Get("/");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
    auto script = c.Get("/assets/app.js");
    ASSERT_TRUE(script);
    EXPECT_EQ(script->status, 200);
    expect_openai_error(c.Get("/v1/models"), 401, "");
    // Only GETs of the page's files are exempt.
    auto post = c.Post("/", "{}", "application/json");
    ASSERT_TRUE(post);
    EXPECT_EQ(post->status, 401);
}

TEST_F(WebuiRoutes, NoWebuiServesNoPage) {
    ServerOptions options;
    options.webui = false;
    auto s = start_server(options, nullptr);
    auto r = s.client().Get("/");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    auto script = s.client().Get("/assets/app.js");
    ASSERT_TRUE(script);
    EXPECT_EQ(script->status, 404);
}

// The page shows the server's decoding speed: llama.cpp's `timings` beside the stream's usage.
TEST(WebuiRoutesWithModel, UsageChunkCarriesTheTimingsThePageShows) {
    ServerOptions options;
    options.model_path = tiny_model_path();
    if (options.model_path.empty()) GTEST_SKIP() << "../shared/models/tinyqwen2-bpe-11m not found";
    options.threads = 2;
    auto s = start_server(options, load_model_engine(options));
    const nlohmann::json body = {{"model", "tinyqwen2-bpe-11m"},
                                 {"messages", {{{"role", "user"}, {"content", "Hello"}}}},
                                 {"max_tokens", 8},
                                 {"logit_bias", {{"0", -100}}},  // no end-of-text: exactly 8 tokens
                                 {"stream", true},
                                 {"stream_options", {{"include_usage", true}}}};
    auto r = s.client().Post("/v1/chat/completions", body.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const auto sse = parse_sse(r->body);
    ASSERT_TRUE(sse.done);
    const auto& last = sse.events.back();
    ASSERT_TRUE(last.contains("timings")) << last.dump();
    const auto& t = last["timings"];
    EXPECT_EQ(t["predicted_n"], last["usage"]["completion_tokens"]);
    EXPECT_EQ(t["predicted_n"], 8);
    EXPECT_EQ(t["prompt_n"], last["usage"]["prompt_tokens"]);  // a fresh server reuses no cache
    EXPECT_GT(t["predicted_ms"].get<double>(), 0.0);
    EXPECT_GT(t["prompt_ms"].get<double>(), 0.0);
    EXPECT_NEAR(t["predicted_per_second"].get<double>(), 7 * 1000.0 / t["predicted_ms"].get<double>(), 1e-6);
}

}  // namespace
}  // namespace slm::server::test

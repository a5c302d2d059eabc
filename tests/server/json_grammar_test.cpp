// JsonGrammar / JsonMatcher: valid JSON (of the schema) is accepted byte by byte, anything else
// is refused at the first byte that makes it invalid; the token mask keeps exactly the tokens
// that continue valid output.
#include "server/api_error.h"
#include "server/json_grammar.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

namespace slm::server {
namespace {

using nlohmann::json;

std::shared_ptr<const TokenVocabulary> vocab_of(std::vector<std::string> pieces) {
    auto v = std::make_shared<TokenVocabulary>();
    v->bytes = std::move(pieces);
    v->bytes.push_back("");  // the end id
    v->end_ids = {int32_t(v->bytes.size() - 1)};
    return v;
}

bool accepts(const std::shared_ptr<const JsonGrammar>& g, const std::string& text) {
    JsonMatcher m(g);
    return m.feed(text) && m.can_end();
}

TEST(JsonGrammar, AnyObjectAcceptsValidObjects) {
    auto g = JsonGrammar::any_object(vocab_of({}));
    for (const char* ok : {R"({})", R"({"a": 1})", R"({"a":[1,2.5e-3,-0.5,true,false,null],"b":{"c":"d\"\u00e9"}})",
                           "{\n\"k\": \"v\"\n}", R"({"x": "caf\u00e9 ☕"})", R"({"n": 0})"}) {
        EXPECT_TRUE(accepts(g, ok)) << ok;
    }
}

TEST(JsonGrammar, AnyObjectRefusesInvalidText) {
    auto g = JsonGrammar::any_object(vocab_of({}));
    for (const char* bad : {R"([1])", R"("s")", R"({"a" 1})", R"({"a": 01})", R"({a: 1})", R"({"a": tru})",
                            R"({"a": 1,})", R"({"a": 1}})", R"({"a": "\x"})", "{\"a\": \"line\nbreak\"}",
                            R"({"a": 1.})", R"({"a": -})", R"({"a": [1,]})"}) {
        EXPECT_FALSE(accepts(g, bad)) << bad;
    }
    // Incomplete is not accepted as an end, but is a valid prefix.
    JsonMatcher m(g);
    EXPECT_TRUE(m.feed(R"({"a": [1, 2)"));
    EXPECT_FALSE(m.can_end());
    EXPECT_FALSE(m.complete());
}

TEST(JsonGrammar, LongWhitespaceRunsAreRefused) {
    auto g = JsonGrammar::any_object(vocab_of({}));
    EXPECT_TRUE(accepts(g, "{ \"a\": 1 }"));
    EXPECT_FALSE(accepts(g, "{  \"a\": 1}"));
}

TEST(JsonGrammar, SchemaFixesKeysTypesAndRequired) {
    const json schema = {{"type", "object"},
                         {"properties",
                          {{"name", {{"type", "string"}}},
                           {"age", {{"type", "integer"}}},
                           {"score", {{"type", "number"}}},
                           {"tags", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                           {"color", {{"enum", {"red", "green"}}}},
                           {"ok", {{"type", "boolean"}}}}},
                         {"required", {"name", "age"}}};
    auto g = JsonGrammar::from_schema(schema, "response_format.json_schema.schema", vocab_of({}));
    EXPECT_TRUE(accepts(g, R"({"name": "Ann", "age": 31})"));
    EXPECT_TRUE(accepts(g, R"({"age": 31, "name": "Ann", "tags": ["a", "b"], "color": "red", "ok": true, "score": 1.5})"));
    EXPECT_FALSE(accepts(g, R"({"name": "Ann"})"));                 // age missing
    EXPECT_FALSE(accepts(g, R"({"name": "Ann", "age": 31.5})"));    // not an integer
    EXPECT_FALSE(accepts(g, R"({"name": 5, "age": 31})"));          // not a string
    EXPECT_FALSE(accepts(g, R"({"name": "A", "age": 1, "x": 1})"));  // unknown key
    EXPECT_FALSE(accepts(g, R"({"name": "A", "age": 1, "name": "B"})"));  // key twice
    EXPECT_FALSE(accepts(g, R"({"name": "A", "age": 1, "color": "blue"})"));
    EXPECT_FALSE(accepts(g, R"({"name": "A", "age": 1, "tags": [1]})"));
}

TEST(JsonGrammar, UnsupportedSchemaIsA400NamingThePath) {
    const json schema = {{"type", "object"}, {"properties", {{"a", {{"anyOf", json::array()}}}}}};
    try {
        JsonGrammar::from_schema(schema, "response_format.json_schema.schema", vocab_of({}));
        FAIL();
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status(), 400);
        EXPECT_EQ(e.param(), "response_format.json_schema.schema");
        EXPECT_NE(std::string(e.what()).find("/properties/a"), std::string::npos) << e.what();
    }
}

TEST(JsonGrammar, MaskKeepsExactlyTheTokensThatContinueValidOutput) {
    auto vocab = vocab_of({"{", "}", "\"", "a", ":", " ", "1", "{\"", "\":", "x}", "]"});
    auto g = JsonGrammar::any_object(vocab);
    const int end = vocab->end_ids[0];
    auto allowed = [&](const JsonMatcher& m) {
        std::vector<float> logits(vocab->bytes.size(), 0.0f);
        m.mask(logits);
        std::vector<int> ids;
        for (size_t i = 0; i < logits.size(); ++i)
            if (logits[i] != -std::numeric_limits<float>::infinity()) ids.push_back(int(i));
        return ids;
    };
    JsonMatcher m(g);
    EXPECT_EQ(allowed(m), (std::vector<int>{0, 5, 7}));  // "{", " ", "{\""
    m.accept(7);                                          // {"
    // Inside a key every piece fits (a lone quote closes an empty key); only the end does not.
    EXPECT_EQ(allowed(m), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
    m.accept(3);                                                          // {"a
    m.accept(8);                                                          // {"a":
    m.accept(6);                                                          // {"a":1
    auto after_number = allowed(m);
    EXPECT_NE(std::find(after_number.begin(), after_number.end(), 1), after_number.end());  // }
    EXPECT_EQ(std::find(after_number.begin(), after_number.end(), end), after_number.end());
    m.accept(1);
    EXPECT_TRUE(m.complete());
    EXPECT_EQ(allowed(m), (std::vector<int>{end}));  // only the end
}

}  // namespace
}  // namespace slm::server

// Errors name the template line and column; hostile templates (endless loops, deep recursion, huge
// output, deep nesting) fail with a clear error instead of hanging or crashing.
#include <slm/jinja.h>

#include <nlohmann/json.hpp>

#include "testing/testing.h"

namespace {

using slm::jinja::Template;
using slm::jinja::TemplateError;

TemplateError render_error(const std::string& source, const nlohmann::ordered_json& context = nlohmann::ordered_json::object(),
                           slm::jinja::Limits limits = {}) {
    try {
        Template(source, "t", limits).render(context);
    } catch (const TemplateError& e) {
        return e;
    }
    ADD_FAILURE() << "no error for: " << source;
    return TemplateError("t", 0, 0, "");
}

TEST(JinjaErrors, SyntaxErrorNamesLineAndColumn) {
    TemplateError e = render_error("line one\n{% for x in %}\n");
    EXPECT_EQ(e.line(), 2);
    EXPECT_EQ(e.column(), 13);  // the `%}` where an expression was expected
    EXPECT_NE(std::string(e.what()).find("t:2:13: TemplateSyntaxError"), std::string::npos) << e.what();
}

TEST(JinjaErrors, UnclosedBlockSaysWhichTagIsMissing) {
    TemplateError e = render_error("{% if x %}\nno end");
    EXPECT_NE(e.message().find("'endif'"), std::string::npos) << e.message();
}

TEST(JinjaErrors, EvaluationErrorNamesTheFailingNode) {
    TemplateError e = render_error("ok\n  {{ 'a' + 1 }}");
    EXPECT_EQ(e.line(), 2);
    EXPECT_EQ(e.column(), 10);  // the `+` that failed
    EXPECT_EQ(e.message(), "TypeError: can only concatenate str (not \"int\") to str");
}

TEST(JinjaErrors, RaiseExceptionCarriesTheTemplatesMessage) {
    TemplateError e = render_error("{{ raise_exception('Conversation roles must alternate') }}");
    EXPECT_EQ(e.message(), "TemplateError: Conversation roles must alternate");
}

TEST(JinjaErrors, UnknownFilterIsRejectedAtParseTime) {
    EXPECT_THROW(Template("{% if false %}{{ x|no_such_filter }}{% endif %}"), TemplateError);
}

TEST(JinjaLimits, EndlessNestedLoopsStopAtTheStepBudget) {
    slm::jinja::Limits small;
    small.max_steps = 200000;
    TemplateError e = render_error("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
                                   nlohmann::ordered_json::object(), small);
    EXPECT_NE(e.message().find("LimitError"), std::string::npos) << e.message();
}

TEST(JinjaLimits, UnboundedRecursionStopsAtTheCallDepth) {
    TemplateError e = render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
    EXPECT_NE(e.message().find("RecursionError"), std::string::npos) << e.message();
}

TEST(JinjaLimits, HugeOutputStopsAtTheSizeCap) {
    TemplateError e = render_error("{% set s = 'x' * 1000000 %}{% for i in range(100) %}{{ s }}{% endfor %}");
    EXPECT_NE(e.message().find("LimitError"), std::string::npos) << e.message();
    TemplateError e2 = render_error("{{ 'x' * 100000000000 }}");
    EXPECT_NE(e2.message().find("LimitError"), std::string::npos) << e2.message();
}

TEST(JinjaLimits, DeepNestingIsASyntaxErrorNotAStackOverflow) {
    std::string deep = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
    EXPECT_NE(render_error(deep).message().find("nesting too deep"), std::string::npos);
    std::string blocks;
    for (int i = 0; i < 5000; ++i) blocks += "{% if true %}";
    EXPECT_THROW(Template(blocks, "t"), TemplateError);
}

TEST(JinjaLimits, RangeIsCappedAsTheSandboxCapsIt) {
    EXPECT_NE(render_error("{{ range(200000)|length }}").message().find("OverflowError"), std::string::npos);
}

TEST(JinjaTemplate, RendersContextValuesWithTheirKeyOrder) {
    auto context = nlohmann::ordered_json::parse(R"({"d": {"zeta": 1, "alpha": [true, null, 2.5]}})");
    EXPECT_EQ(Template("{{ d }}|{{ d|tojson }}").render(context),
              "{'zeta': 1, 'alpha': [True, None, 2.5]}|{\"zeta\": 1, \"alpha\": [true, null, 2.5]}");
}

TEST(JinjaTemplate, ParsedOnceRendersManyTimes) {
    Template t("{{ greeting }}, {{ name|default('you') }}!");
    EXPECT_EQ(t.render({{"greeting", "Hi"}, {"name", "Ann"}}), "Hi, Ann!");
    EXPECT_EQ(t.render({{"greeting", "Hello"}}), "Hello, you!");
}

}  // namespace

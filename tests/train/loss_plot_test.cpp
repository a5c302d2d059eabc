// The loss plot: a well-formed SVG with one polyline per curve that has a finite point, the
// legend's names (escaped), ticks that cover the data, and no failure on degenerate curves.
#include "train/loss_plot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <slm/file_io.h>

#include <cmath>
#include <limits>
#include <regex>

#include "testing/testing.h"

namespace slm::train {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

size_t count(const std::string& s, const std::string& needle) {
    size_t n = 0;
    for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
    return n;
}

// Every element opened is closed (or self-closing), in order: enough to catch broken markup.
void expect_balanced(const std::string& svg) {
    std::vector<std::string> open;
    const std::regex tag(R"(<(/?)([a-zA-Z]+)[^>]*?(/?)>)");
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), tag); it != std::sregex_iterator(); ++it) {
        const auto& m = *it;
        if (m[3].length()) continue;  // <x/>
        if (m[1].length() == 0) {
            open.push_back(m[2]);
        } else {
            ASSERT_FALSE(open.empty()) << "</" << m[2] << "> closes nothing";
            EXPECT_EQ(open.back(), m[2]);
            open.pop_back();
        }
    }
    EXPECT_TRUE(open.empty());
}

std::vector<std::pair<double, double>> decaying(int n, double scale) {
    std::vector<std::pair<double, double>> points;
    for (int i = 1; i <= n; ++i) points.emplace_back(i * 10, scale * (1 + 4 * std::exp(-i / 20.0)));
    return points;
}

TEST(LossPlot, WritesAnSvgWithOnePolylinePerCurveAndALegend) {
    const std::string path = test::temp_dir() + "/loss.svg";
    write_loss_plot(path, {{"train", decaying(100, 1)}, {"eval", decaying(10, 1.1)}}, "tinyqwen2 <LoRA> & co");
    const std::string svg = read_text_file(path);
    EXPECT_THAT(svg, HasSubstr("<svg"));
    EXPECT_THAT(svg, HasSubstr("width=\"800\" height=\"500\""));
    EXPECT_EQ(count(svg, "<polyline"), 2u);
    EXPECT_THAT(svg, HasSubstr(">train</text>"));
    EXPECT_THAT(svg, HasSubstr(">eval</text>"));
    EXPECT_THAT(svg, HasSubstr(">step</text>"));
    EXPECT_THAT(svg, HasSubstr(">loss</text>"));
    EXPECT_THAT(svg, HasSubstr("tinyqwen2 &lt;LoRA&gt; &amp; co"));
    EXPECT_THAT(svg, HasSubstr(">1000</text>"));  // the last step is a tick
    EXPECT_THAT(svg, Not(HasSubstr("nan")));
    expect_balanced(svg);
}

TEST(LossPlot, DegenerateCurvesDoNotBreakIt) {
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    const std::vector<std::vector<LossCurve>> cases = {
        {},
        {{"empty", {}}},
        {{"one point", {{5, 2.5}}}},
        {{"flat", {{0, 1}, {1, 1}, {2, 1}}}},
        {{"all non-finite", {{0, nan}, {1, inf}}}, {"ok", {{0, 3}, {1, 2}}}},
        {{"with gaps", {{0, 3}, {1, nan}, {2, -inf}, {3, 2}}}},
        {{"huge", {{0, 1e308}, {1, -1e308}, {1e300, 0}}}},
        {{"tiny range", {{0, 1}, {1, 1 + 1e-15}}}},
        {{"zero", {{0, 0}}}},
    };
    for (const auto& curves : cases) {
        const std::string svg = loss_plot_svg(curves, "t");
        size_t drawable = 0;
        for (const LossCurve& c : curves)
            drawable += std::any_of(c.points.begin(), c.points.end(),
                                    [](auto p) { return std::isfinite(p.first) && std::isfinite(p.second); });
        EXPECT_EQ(count(svg, "<polyline"), drawable) << (curves.empty() ? "" : curves[0].name);
        for (const LossCurve& c : curves) EXPECT_THAT(svg, HasSubstr(">" + c.name + "</text>"));
        EXPECT_THAT(svg, Not(HasSubstr("nan")));
        EXPECT_THAT(svg, Not(HasSubstr("inf")));
        expect_balanced(svg);
    }
    EXPECT_THAT(loss_plot_svg({}, "t"), HasSubstr("no data"));
    EXPECT_EQ(count(loss_plot_svg({{"one point", {{5, 2.5}}}}, "t"), "<circle"), 1u);
}

TEST(LossPlot, YTicksCoverTheLossRange) {
    const std::string svg = loss_plot_svg({{"train", {{1, 2.31}, {2, 1.07}}}}, "t");
    // A 1-2-5 step over [1.07, 2.31]: 0.2, from 1.0 to 2.4.
    EXPECT_THAT(svg, HasSubstr(">1.0</text>"));
    EXPECT_THAT(svg, HasSubstr(">2.4</text>"));
    EXPECT_THAT(svg, Not(HasSubstr(">0.8</text>")));
}

}  // namespace
}  // namespace slm::train

// Loss curves as a hand-written SVG: a frame with "nice" ticks (1, 2 or 5 times a power of ten),
// light grid lines, one polyline per curve in a fixed palette, and a legend in the top right.
#include "train/loss_plot.h"

#include <fmt/format.h>
#include <slm/file_io.h>

#include <algorithm>
#include <cmath>

namespace slm::train {
namespace {

constexpr int kWidth = 800, kHeight = 500;
constexpr double kLeft = 70, kRight = kWidth - 20, kTop = 40, kBottom = kHeight - 60;  // the plot area
// Curves with at most this many points show a dot at each.
constexpr size_t kMarkedPoints = 40;
// Values are clamped here first, so that ranges and scaled coordinates stay finite.
constexpr double kLargest = 1e300;
// A qualitative palette (as matplotlib's default cycle); curves beyond it reuse it in order.
constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                   "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

bool finite_point(const std::pair<double, double>& p) { return std::isfinite(p.first) && std::isfinite(p.second); }

std::string escaped(std::string_view s) {
    std::string out;
    for (const char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                // Control characters other than tab and newline are not allowed in XML 1.0 text.
                if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;
        }
    }
    return out;
}

// An axis from lo to hi, widened to whole ticks of a 1-2-5 step giving about five intervals.
struct Axis {
    double lo, hi, step;
    int ticks;  // intervals between lo and hi

    Axis(double min, double max) {
        if (!(max > min)) {  // one value (or none): a band around it
            const double pad = min == 0 ? 1 : std::abs(min) * 0.1;
            min -= pad;
            max += pad;
        }
        const double raw = (max - min) / 5;
        const double magnitude = std::pow(10, std::floor(std::log10(raw)));
        const double f = raw / magnitude;
        step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * magnitude;
        lo = std::floor(min / step) * step;
        hi = std::ceil(max / step) * step;
        if (!(hi > lo)) hi = lo + step;  // where rounding at the limits of double erased the range
        ticks = std::clamp(int(std::lround((hi - lo) / step)), 1, 20);
    }
    double tick(int i) const { return lo + (hi - lo) * i / ticks; }
    std::string label(double v) const {
        if (std::abs(v) < step * 1e-9) v = 0;  // no "-0" or "1e-17" at zero
        if (std::abs(v) >= 1e6 || step < 1e-6) return fmt::format("{:.3g}", v);
        const int decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)));
        return fmt::format("{:.{}f}", v, decimals);
    }
};

}  // namespace

std::string loss_plot_svg(const std::vector<LossCurve>& curves, const std::string& title) {
    double x_min = INFINITY, x_max = -INFINITY, y_min = INFINITY, y_max = -INFINITY;
    for (const LossCurve& c : curves) {
        for (const auto& p : c.points) {
            if (!finite_point(p)) continue;
            x_min = std::min(x_min, std::clamp(p.first, -kLargest, kLargest));
            x_max = std::max(x_max, std::clamp(p.first, -kLargest, kLargest));
            y_min = std::min(y_min, std::clamp(p.second, -kLargest, kLargest));
            y_max = std::max(y_max, std::clamp(p.second, -kLargest, kLargest));
        }
    }
    const bool empty = x_min > x_max;
    // Losses are usually far from zero; the range is the data's, not [0, max].
    const Axis x = empty ? Axis(0, 1) : Axis(x_min, x_max);
    const Axis y = empty ? Axis(0, 1) : Axis(y_min, y_max);
    const auto px = [&](double v) {
        return kLeft + (std::clamp(v, -kLargest, kLargest) - x.lo) / (x.hi - x.lo) * (kRight - kLeft);
    };
    const auto py = [&](double v) {
        return kBottom - (std::clamp(v, -kLargest, kLargest) - y.lo) / (y.hi - y.lo) * (kBottom - kTop);
    };

    std::string svg = fmt::format(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
        "font-family=\"sans-serif\" font-size=\"12\">\n"
        "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
        "<text x=\"{2}\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">{3}</text>\n",
        kWidth, kHeight, (kLeft + kRight) / 2, escaped(title));

    // Grid, ticks and their labels.
    svg += "<g stroke=\"#e0e0e0\">\n";
    for (int i = 0; i <= x.ticks; ++i)
        svg +=
            fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\"/>\n", px(x.tick(i)), kTop, kBottom);
    for (int i = 0; i <= y.ticks; ++i)
        svg +=
            fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\"/>\n", kLeft, py(y.tick(i)), kRight);
    svg += "</g>\n<g stroke=\"black\">\n";
    for (int i = 0; i <= x.ticks; ++i)
        svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\"/>\n", px(x.tick(i)), kBottom,
                           kBottom + 5);
    for (int i = 0; i <= y.ticks; ++i)
        svg += fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\"/>\n", kLeft - 5, py(y.tick(i)),
                           kLeft);
    svg += "</g>\n<g text-anchor=\"middle\">\n";
    for (int i = 0; i <= x.ticks; ++i)
        svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\">{}</text>\n", px(x.tick(i)), kBottom + 19, x.label(x.tick(i)));
    svg += "</g>\n<g text-anchor=\"end\">\n";
    for (int i = 0; i <= y.ticks; ++i)
        svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\">{}</text>\n", kLeft - 8, py(y.tick(i)) + 4, y.label(y.tick(i)));
    svg += "</g>\n";
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"black\"/>\n", kLeft,
                       kTop, kRight - kLeft, kBottom - kTop);
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"14\">step</text>\n",
                       (kLeft + kRight) / 2, kHeight - 18);
    svg += fmt::format(
        "<text x=\"18\" y=\"{0}\" text-anchor=\"middle\" font-size=\"14\" transform=\"rotate(-90 18 "
        "{0})\">loss</text>\n",
        (kTop + kBottom) / 2);
    if (empty)
        svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n",
                           (kLeft + kRight) / 2, (kTop + kBottom) / 2);

    // The curves. A sparse curve (eval every N steps) marks its points: a lone point would
    // otherwise be an invisible polyline, and a few points read better as measurements.
    for (size_t c = 0; c < curves.size(); ++c) {
        const char* color = kColors[c % std::size(kColors)];
        std::string points, marks;
        size_t n = 0;
        for (const auto& p : curves[c].points) {
            if (!finite_point(p)) continue;
            points += fmt::format("{}{:.1f},{:.1f}", n++ ? " " : "", px(p.first), py(p.second));
            if (n <= kMarkedPoints)
                marks += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\"/>", px(p.first), py(p.second));
        }
        if (n == 0) continue;
        svg += fmt::format(
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" stroke-linejoin=\"round\" points=\"{}\"/>\n",
            color, points);
        if (n <= kMarkedPoints) svg += fmt::format("<g fill=\"{}\">{}</g>\n", color, marks);
    }

    // Legend: a sample of each curve's line and its name, on a white box over the plot's top right.
    if (!curves.empty()) {
        size_t longest = 0;
        for (const LossCurve& c : curves) longest = std::max(longest, std::min<size_t>(c.name.size(), 40));
        const double width = 44 + 7.0 * double(longest), height = 8 + 18.0 * double(curves.size());
        const double left = kRight - 10 - width, top = kTop + 10;
        svg += fmt::format(
            "<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"white\" fill-opacity=\"0.85\" "
            "stroke=\"#999\"/>\n",
            left, top, width, height);
        for (size_t c = 0; c < curves.size(); ++c) {
            const double row = top + 4 + 18.0 * double(c) + 9;
            svg += fmt::format(
                "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{2:.1f}\" y2=\"{1}\" stroke=\"{3}\" stroke-width=\"2\"/>\n",
                left + 8, row, left + 30, kColors[c % std::size(kColors)]);
            svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\">{}</text>\n", left + 36, row + 4, escaped(curves[c].name));
        }
    }
    svg += "</svg>\n";
    return svg;
}

void write_loss_plot(const std::string& path, const std::vector<LossCurve>& curves, const std::string& title) {
    write_file_atomic(path, loss_plot_svg(curves, title));
}

}  // namespace slm::train

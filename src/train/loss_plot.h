// The loss curves of a fine-tuning run (train, eval…) drawn as one SVG picture: step on x, loss
// on y, one coloured line per curve and a legend; readable in any browser, no plotting library.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace slm::train {

struct LossCurve {
    std::string name;
    std::vector<std::pair<double, double>> points;  // x = step, y = loss
};

// Writes an 800x500 SVG to `path` atomically. Points with a NaN or infinite coordinate are left
// out; a curve with no finite point is named in the legend but draws nothing.
void write_loss_plot(const std::string& path, const std::vector<LossCurve>& curves, const std::string& title);

// The SVG text itself (what write_loss_plot writes).
std::string loss_plot_svg(const std::vector<LossCurve>& curves, const std::string& title);

}  // namespace slm::train

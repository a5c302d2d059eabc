// `--device`: one option and one reading of it for run, chat, bench, perplexity, eval and serve.
#include "device_option.h"

namespace slm::cli {

void add_device_option(CLI::App* cmd, std::string& device) {
    cmd->add_option("--device", device,
                    "Where the model runs: cpu, cuda (an NVIDIA GPU; builds with -DSLM_CUDA=ON), or auto (the GPU when "
                    "there is one)")
        ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
        ->capture_default_str();
}

ModelOptions model_options_for(const std::string& device) {
    ModelOptions options;
    options.device = device_from_name(device);
    return options;
}

}  // namespace slm::cli

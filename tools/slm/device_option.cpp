// `--device` and `--gpu-layers`: one pair of options and one reading of them for run, chat, bench,
// perplexity, eval and serve.
#include "device_option.h"

namespace slm::cli {

void add_device_option(CLI::App* cmd, std::string& device, int& gpu_layers) {
    cmd->add_option("--device", device,
                    "Where the model runs: cpu, cuda (an NVIDIA GPU; builds with -DSLM_CUDA=ON), or auto (the GPU when "
                    "there is one)")
        ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
        ->capture_default_str();
    cmd->add_option("--gpu-layers,--n-gpu-layers", gpu_layers,
                    "On the GPU: how many layers, from the first, run there; the rest and the output head run on the "
                    "CPU (for a model larger than the card; -1: all, 0: none)")
        ->check(CLI::Range(-1, 1 << 20))
        ->capture_default_str();
}

ModelOptions model_options_for(const std::string& device, int gpu_layers) {
    ModelOptions options;
    options.device = device_from_name(device);
    options.gpu_layers = gpu_layers;
    return options;
}

}  // namespace slm::cli

// `--device cpu|cuda|auto` and `--gpu-layers N`, shared by the verbs that run a model: where its
// forward runs.
#pragma once

#include <slm/model.h>

#include <CLI/CLI.hpp>
#include <string>

namespace slm::cli {

// Adds --device to `cmd`, bound to `device` (default "auto": the GPU when this build has CUDA and
// one is present, else the CPU), and --gpu-layers, bound to `gpu_layers` (-1: every layer).
void add_device_option(CLI::App* cmd, std::string& device, int& gpu_layers);

// ModelOptions with the device `device` names (device_from_name) and its GPU layers.
ModelOptions model_options_for(const std::string& device, int gpu_layers);

}  // namespace slm::cli

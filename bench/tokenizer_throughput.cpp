// Encode throughput of slm's tokenizer on a text file, line by line as a server or an eval
// harness feeds it. Time is process CPU time, so the figure holds on a busy machine too:
//   tokenizer_throughput MODEL FILE [REPEATS]   (MODEL: GGUF file or HF model directory)
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/tokenizer.h>

#include <fmt/format.h>

#include <ctime>
#include <cstdlib>
#include <string>
#include <vector>

static double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fmt::print(stderr, "usage: {} MODEL FILE [REPEATS]\n", argv[0]);
        return 2;
    }
    try {
        auto tok = slm::Tokenizer::from_model_path(argv[1]);
        std::string text = slm::read_text_file(argv[2]);
        int repeats = argc > 3 ? std::atoi(argv[3]) : 3;
        std::vector<std::string> lines;
        for (size_t start = 0; start < text.size();) {
            size_t end = text.find('\n', start);
            end = end == std::string::npos ? text.size() : end + 1;
            lines.push_back(text.substr(start, end - start));
            start = end;
        }
        double best = 1e30;
        size_t tokens = 0;
        for (int r = 0; r < repeats; ++r) {
            double t0 = cpu_seconds();
            tokens = 0;
            for (const std::string& line : lines) tokens += tok->encode(line, false).size();
            best = std::min(best, cpu_seconds() - t0);
        }
        fmt::print("{}: {} ({}), {} bytes, {} tokens, best of {}: {:.3f} CPU s, {:.2f} MB/s\n", argv[1], tok->type_name(),
                   argv[2], text.size(), tokens, repeats, best, static_cast<double>(text.size()) / best / 1e6);
    } catch (const slm::Error& e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return 1;
    }
    return 0;
}

// Locations used by the tests; see testing.h.
#include "testing/testing.h"

#include <slm/file_io.h>

#include <cstdlib>
#include <filesystem>
#include <unistd.h>

namespace slm::test {

// $SLM_SOURCE_DIR moves it: binaries built here and run on another machine (tests/cuda/run_on_device.sh).
std::string source_dir() {
    if (const char* env = std::getenv("SLM_SOURCE_DIR"); env && *env) return env;
    return SLM_SOURCE_DIR;
}
std::string fixtures_dir() { return source_dir() + "/tests/fixtures"; }

std::string shared_dir() {
    if (const char* env = std::getenv("SLM_SHARED_DIR"); env && *env) return is_directory(env) ? env : "";
    const std::string path = std::filesystem::weakly_canonical(source_dir() + "/../shared").string();
    return is_directory(path + "/models") ? path : "";
}

namespace {
struct TempDir {
    std::string path;
    TempDir() {
        path = (std::filesystem::temp_directory_path() / ("slm-test-" + std::to_string(::getpid()))).string();
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};
}  // namespace

std::string temp_dir() {
    static TempDir dir;
    return dir.path;
}

}  // namespace slm::test

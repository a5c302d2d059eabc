// Loading of the eval reference data written by tests/fixtures/make_eval_fixtures.py.
#include "conformance/eval_fixture.h"

#include <slm/file_io.h>

namespace slm::test {

nlohmann::json load_eval_fixture(const std::string& name) {
    return nlohmann::json::parse(read_text_file(fixtures_dir() + "/eval/" + name));
}

}  // namespace slm::test

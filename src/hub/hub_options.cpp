// Hub settings from the environment, read the way huggingface_hub reads them (constants.py), so
// both tools agree on where the cache is, which endpoint to ask and which token to send.
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/hub.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

namespace slm {
namespace {

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

std::string expand_user(std::string path) {
    if (path == "~" || path.starts_with("~/")) path = env("HOME") + path.substr(1);
    return path;
}

std::string hf_home() {
    if (const std::string home = env("HF_HOME"); !home.empty()) return expand_user(home);
    const std::string xdg = env("XDG_CACHE_HOME");
    return expand_user(xdg.empty() ? "~/.cache" : xdg) + "/huggingface";
}

// huggingface_hub's _is_true: "1", "ON", "YES", "TRUE" in any case.
bool env_true(const char* name) {
    std::string v = env(name);
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return char(std::toupper(c)); });
    return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

std::string trim(std::string s) {
    const auto space = [](unsigned char c) { return std::isspace(c) != 0; };
    while (!s.empty() && space(s.back())) s.pop_back();
    s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), space));
    return s;
}

}  // namespace

HubOptions HubOptions::from_env() {
    HubOptions o;
    o.cache_dir = expand_user(env("HF_HUB_CACHE"));
    if (o.cache_dir.empty()) o.cache_dir = expand_user(env("HUGGINGFACE_HUB_CACHE"));  // the older name
    if (o.cache_dir.empty()) o.cache_dir = hf_home() + "/hub";
    o.endpoint = env("HF_ENDPOINT");
    if (o.endpoint.empty()) o.endpoint = "https://huggingface.co";
    while (o.endpoint.size() > 1 && o.endpoint.back() == '/') o.endpoint.pop_back();
    o.token = trim(env("HF_TOKEN"));
    if (o.token.empty()) {
        std::string token_path = expand_user(env("HF_TOKEN_PATH"));
        if (token_path.empty()) token_path = hf_home() + "/token";
        if (file_exists(token_path) && !is_directory(token_path)) {
            try {
                o.token = trim(read_text_file(token_path));
            } catch (const Error&) {
                // An unreadable token file is the same as none: public repositories still work,
                // and a gated one fails with the message that names HF_TOKEN.
            }
        }
    }
    o.offline = env_true("HF_HUB_OFFLINE");
    if (const std::string t = env("SLM_HUB_TIMEOUT"); !t.empty()) {
        try {
            o.timeout_s = std::stod(t);
        } catch (const std::exception&) {
            fail("SLM_HUB_TIMEOUT='{}': expected a number of seconds", t);
        }
        if (!(o.timeout_s > 0)) fail("SLM_HUB_TIMEOUT='{}': expected a positive number of seconds", t);
    }
    return o;
}

std::string hub_cache_dir() { return HubOptions::from_env().cache_dir; }

}  // namespace slm

// Model names: "org/name[@revision][:QUANT]" parsed with errors that say which part is wrong.
// Repository names follow huggingface_hub's validate_repo_id: [A-Za-z0-9._-], no "--" or "..".
#include <slm/error.h>
#include <slm/hub.h>

#include <algorithm>
#include <cctype>

namespace slm {
namespace {

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; }

void check_name_part(std::string_view part, std::string_view what, std::string_view text) {
    if (part.empty()) fail("model name '{}': the {} is empty (expected org/name)", text, what);
    if (part.size() > 96) fail("model name '{}': the {} is longer than 96 characters", text, what);
    if (!std::all_of(part.begin(), part.end(), name_char))
        fail("model name '{}': the {} '{}' may only hold letters, digits, '-', '_' and '.'", text, what, part);
    if (part.front() == '-' || part.front() == '.' || part.back() == '-' || part.back() == '.')
        fail("model name '{}': the {} '{}' may not start or end with '-' or '.'", text, what, part);
    if (part.find("--") != std::string_view::npos || part.find("..") != std::string_view::npos)
        fail("model name '{}': the {} '{}' may not contain '--' or '..'", text, what, part);
}

}  // namespace

ModelRef parse_model_ref(std::string_view text) {
    std::string_view s = text;
    for (std::string_view prefix : {"https://huggingface.co/", "http://huggingface.co/", "huggingface.co/", "hf.co/"})
        if (s.starts_with(prefix)) {
            s.remove_prefix(prefix.size());
            break;
        }
    ModelRef ref;
    // Git forbids ':' in ref names, so the last ':' always starts the quantization tag.
    if (const auto colon = s.rfind(':'); colon != std::string_view::npos) {
        ref.quant = std::string(s.substr(colon + 1));
        s = s.substr(0, colon);
        if (ref.quant.empty())
            fail("model name '{}': nothing after ':' (expected a quantization such as Q4_K_M)", text);
        const bool ok = std::all_of(ref.quant.begin(), ref.quant.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
        });
        if (!ok)
            fail("model name '{}': quantization '{}' may only hold letters, digits, '_', '-' and '.'", text, ref.quant);
    }
    if (const auto at = s.find('@'); at != std::string_view::npos) {
        const std::string_view rev = s.substr(at + 1);
        s = s.substr(0, at);
        if (rev.empty()) fail("model name '{}': nothing after '@' (expected a branch, tag or commit)", text);
        const bool ok = std::none_of(rev.begin(), rev.end(), [](char c) {
            return std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)) ||
                   c == '@' || c == '\\';
        });
        if (!ok || rev.find("..") != std::string_view::npos || rev.front() == '/' || rev.back() == '/')
            fail("model name '{}': '{}' is not a valid revision", text, rev);
        ref.revision = std::string(rev);
        ref.revision_given = true;
    }
    const auto slash = s.find('/');
    if (slash == std::string_view::npos)
        fail("model name '{}': expected org/name (a Hugging Face repository such as Qwen/Qwen2.5-0.5B-Instruct)", text);
    if (s.find('/', slash + 1) != std::string_view::npos)
        fail("model name '{}': expected org/name with a single '/'", text);
    check_name_part(s.substr(0, slash), "organisation", text);
    check_name_part(s.substr(slash + 1), "repository name", text);
    ref.repo = std::string(s);
    return ref;
}

std::string ModelRef::str() const {
    std::string s = repo;
    if (revision_given) s += "@" + revision;
    if (!quant.empty()) s += ":" + quant;
    return s;
}

}  // namespace slm

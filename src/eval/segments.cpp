// Segment readers for the metric verbs: parallel line files and JSONL, with errors that name the
// file, the line and the field.
#include <slm/error.h>
#include <slm/eval/segments.h>
#include <slm/file_io.h>

#include <nlohmann/json.hpp>

namespace slm::eval {

std::vector<std::string> read_lines(const std::string& path) {
    std::string text = read_text_file(path);
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        size_t stop = end;
        if (stop > start && text[stop - 1] == '\r') --stop;
        lines.push_back(text.substr(start, stop - start));
        start = end + 1;
    }
    return lines;
}

Segments read_segment_files(const std::string& hyps_path, const std::vector<std::string>& refs_paths) {
    if (refs_paths.empty()) fail("no reference file given (--refs)");
    Segments s;
    s.hyps = read_lines(hyps_path);
    for (const auto& path : refs_paths) {
        s.refs.push_back(read_lines(path));
        if (s.refs.back().size() != s.hyps.size())
            fail("{} has {} lines but the hypotheses ({}) have {}", path, s.refs.back().size(), hyps_path, s.hyps.size());
    }
    return s;
}

Segments read_segments_jsonl(const std::string& path, const std::string& hyp_field, const std::string& ref_field) {
    Segments s;
    size_t line_no = 0;
    for (const auto& line : read_lines(path)) {
        ++line_no;
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        nlohmann::json obj;
        try {
            obj = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception& e) {
            fail("{}:{}: not valid JSON: {}", path, line_no, e.what());
        }
        if (!obj.is_object() || !obj.contains(hyp_field) || !obj[hyp_field].is_string())
            fail("{}:{}: no string field '{}'", path, line_no, hyp_field);
        if (!obj.contains(ref_field)) fail("{}:{}: no field '{}'", path, line_no, ref_field);
        std::vector<std::string> refs;
        const auto& r = obj[ref_field];
        if (r.is_string()) {
            refs.push_back(r.get<std::string>());
        } else if (r.is_array() && !r.empty() && std::all_of(r.begin(), r.end(), [](auto& x) { return x.is_string(); })) {
            refs = r.get<std::vector<std::string>>();
        } else {
            fail("{}:{}: field '{}' must be a string or a non-empty list of strings", path, line_no, ref_field);
        }
        if (s.hyps.empty()) s.refs.resize(refs.size());
        if (refs.size() != s.refs.size())
            fail("{}:{}: {} references, but earlier lines have {} (every line needs the same number)", path, line_no,
                 refs.size(), s.refs.size());
        s.hyps.push_back(obj[hyp_field].get<std::string>());
        for (size_t k = 0; k < refs.size(); ++k) s.refs[k].push_back(std::move(refs[k]));
    }
    if (s.hyps.empty()) fail("{}: no segments", path);
    return s;
}

}  // namespace slm::eval

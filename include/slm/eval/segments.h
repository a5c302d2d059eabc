// Reading what the metric verbs score: a hypothesis file and reference files with one segment per
// line (several reference files give several references per segment, as sacrebleu), or a JSONL
// file with a hypothesis field and a reference field (a string or a list of strings).
#pragma once

#include <string>
#include <vector>

namespace slm::eval {

struct Segments {
    std::vector<std::string> hyps;
    std::vector<std::vector<std::string>> refs;  // refs[k][i]: the k-th reference of segment i
};

// Lines of a UTF-8 text file without their "\n" / "\r\n"; a last line without newline counts.
std::vector<std::string> read_lines(const std::string& path);

// Throws slm::Error naming the file whose line count differs from the hypotheses'.
Segments read_segment_files(const std::string& hyps_path, const std::vector<std::string>& refs_paths);

// Each line an object; `ref_field` holds a string or a list of strings (the same number on every line).
Segments read_segments_jsonl(const std::string& path, const std::string& hyp_field, const std::string& ref_field);

}  // namespace slm::eval

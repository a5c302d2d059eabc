// Streaming responses: the HTTP thread waits on a request's GenerationStreams and writes each
// update as it comes, in a wire format given by a StreamFormat (SSE for OpenAI, NDJSON for
// ollama). A failed write means the client left: its sequences are cancelled at the next step.
#pragma once

#include "server/generation_stream.h"
#include "server/request_log.h"

#include <httplib.h>
#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace slm::server {

class StreamFormat {
public:
    virtual ~StreamFormat() = default;
    virtual std::string begin() { return ""; }
    // New pieces of choice `index` (may be empty: nothing to send).
    virtual std::string pieces(int index, const std::vector<GeneratedPiece>& pieces) = 0;
    // Choice `index` has finished.
    virtual std::string finished(int index, const GenerationSummary& summary) = 0;
    // Every choice has finished: the closing messages ("data: [DONE]").
    virtual std::string end(const std::vector<GenerationSummary>& summaries) = 0;
    // Sent after a second of silence, to notice a client that left while waiting ("" for none).
    virtual std::string keep_alive() { return ""; }
};

// Streams `streams` (one per choice) into `res` with `format`.
void stream_response(httplib::Response& res, const std::string& content_type,
                     std::vector<std::shared_ptr<GenerationStream>> streams, std::unique_ptr<StreamFormat> format,
                     std::shared_ptr<RequestRecord> record);

// Waits for all streams (non-streaming responses) and returns each choice's pieces and summary.
struct CollectedChoice {
    std::vector<GeneratedPiece> pieces;
    GenerationSummary summary;
    std::string text() const;
};
std::vector<CollectedChoice> collect(const std::vector<std::shared_ptr<GenerationStream>>& streams);

// Non-streaming answers. `build` makes the JSON body from the finished choices (and fills in the
// record's token counts); it may throw ApiError. When every stream finishes within 2 heartbeats
// the answer is an ordinary response (status from ApiError as usual). Otherwise a 200 with
// chunked transfer starts and a space is sent every heartbeat until the body (an ApiError then
// becomes the body, `error_body` of it): a client that left is noticed by the failed write and
// its sequences are cancelled, instead of generating for nobody up to max_tokens.
// heartbeat_ms is ServerOptions::heartbeat_ms (at least 1).
using BuildBody = std::function<std::string(std::vector<CollectedChoice> choices, RequestRecord& record)>;
using ErrorBody = std::string (*)(const class ApiError& error);
void respond_when_done(httplib::Response& res, std::vector<std::shared_ptr<GenerationStream>> streams,
                       std::shared_ptr<RequestRecord> record, int heartbeat_ms, BuildBody build,
                       ErrorBody error_body);

// Writes `value` as JSON text; invalid UTF-8 (a token that is part of a character) is replaced.
std::string to_json_text(const nlohmann::json& value);

}  // namespace slm::server

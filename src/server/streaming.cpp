// stream_response: a chunked httplib content provider that forwards GenerationStream updates.
#include "server/streaming.h"

#include "server/api_error.h"
#include "server/route_handler.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace slm::server {

std::string to_json_text(const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string CollectedChoice::text() const {
    std::string out;
    for (const auto& p : pieces) out += p.text;
    return out;
}

std::vector<CollectedChoice> collect(const std::vector<std::shared_ptr<GenerationStream>>& streams) {
    std::vector<CollectedChoice> choices;
    for (const auto& s : streams) {
        auto all = s->wait_all();
        choices.push_back({std::move(all.pieces), *all.finished});
    }
    return choices;
}

namespace {

// Whether every stream finishes by `deadline`.
bool all_finished_by(const std::vector<std::shared_ptr<GenerationStream>>& streams,
                     std::chrono::steady_clock::time_point deadline) {
    for (const auto& s : streams) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (!s->wait_finished(std::max(left, std::chrono::milliseconds(0)))) return false;
    }
    return true;
}

struct DeferredAnswer {
    std::vector<std::shared_ptr<GenerationStream>> streams;
    std::shared_ptr<RequestRecord> record;
    BuildBody build;
    ErrorBody error_body;
    std::chrono::milliseconds heartbeat;
    bool answered = false;
};

}  // namespace

void respond_when_done(httplib::Response& res, std::vector<std::shared_ptr<GenerationStream>> streams,
                       std::shared_ptr<RequestRecord> record, int heartbeat_ms, BuildBody build,
                       ErrorBody error_body) {
    const auto heartbeat = std::chrono::milliseconds(std::max(1, heartbeat_ms));
    if (all_finished_by(streams, std::chrono::steady_clock::now() + 2 * heartbeat)) {
        write_json(res, build(collect(streams), *record));
        return;
    }
    auto state = std::make_shared<DeferredAnswer>(
        DeferredAnswer{std::move(streams), std::move(record), std::move(build), error_body, heartbeat});
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "application/json",
        [state](size_t, httplib::DataSink& sink) {
            if (!all_finished_by(state->streams, std::chrono::steady_clock::now() + state->heartbeat))
                return sink.write(" ", 1);
            std::string body;
            try {
                body = state->build(collect(state->streams), *state->record);
            } catch (const ApiError& e) {
                body = state->error_body(e);
            }
            state->answered = true;
            if (!sink.write(body.data(), body.size())) return false;
            sink.done();
            return true;
        },
        [state](bool success) {
            if (!success || !state->answered)
                for (auto& s : state->streams) s->cancel();
        });
}

namespace {

struct StreamState {
    std::vector<std::shared_ptr<GenerationStream>> streams;
    std::unique_ptr<StreamFormat> format;
    std::shared_ptr<RequestRecord> record;
    std::vector<GenerationSummary> summaries;
    std::vector<bool> done;
    bool begun = false;
    int remaining = 0;
};

}  // namespace

void stream_response(httplib::Response& res, const std::string& content_type,
                     std::vector<std::shared_ptr<GenerationStream>> streams, std::unique_ptr<StreamFormat> format,
                     std::shared_ptr<RequestRecord> record) {
    auto state = std::make_shared<StreamState>();
    state->summaries.resize(streams.size());
    state->done.assign(streams.size(), false);
    state->remaining = int(streams.size());
    state->streams = std::move(streams);
    state->format = std::move(format);
    state->record = std::move(record);
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        content_type,
        [state](size_t, httplib::DataSink& sink) {
            auto write = [&](const std::string& text) { return text.empty() || sink.write(text.data(), text.size()); };
            if (!state->begun) {
                state->begun = true;
                if (!write(state->format->begin())) return false;
            }
            // One stream: wait for it; several: poll them in turn.
            const auto wait = std::chrono::milliseconds(state->streams.size() == 1 ? 1000 : 20);
            bool sent = false;
            for (size_t i = 0; i < state->streams.size(); ++i) {
                if (state->done[i]) continue;
                auto update = state->streams[i]->next(wait);
                if (!update.pieces.empty()) {
                    state->record->tokens_out.fetch_add(int64_t(update.pieces.size()));
                    if (!write(state->format->pieces(int(i), update.pieces))) return false;
                    sent = true;
                }
                if (update.finished) {
                    state->summaries[i] = *update.finished;
                    state->done[i] = true;
                    --state->remaining;
                    if (!write(state->format->finished(int(i), *update.finished))) return false;
                    sent = true;
                }
            }
            if (state->remaining == 0) {
                if (!write(state->format->end(state->summaries))) return false;
                sink.done();
                return true;
            }
            if (!sent && state->streams.size() == 1 && !write(state->format->keep_alive())) return false;
            return true;
        },
        [state](bool success) {
            // The client left (or the write failed): free its sequences.
            if (!success || state->remaining > 0)
                for (auto& s : state->streams) s->cancel();
        });
}

}  // namespace slm::server

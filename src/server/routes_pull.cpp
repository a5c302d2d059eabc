// POST /api/pull: ollama's pull, from the Hugging Face Hub into the server's HF cache
// (ServerOptions::hub). The name is ours, org/name[@rev][:QUANT] (":latest" is ollama's default
// tag: no quantization chosen). Streamed as ollama streams it, one JSON object per line:
// "pulling manifest", then "downloading DIGEST" with digest/total/completed per file, then
// "verifying sha256 digest", "writing manifest", "success"; an error is a final {"error": ...}.
// With "stream": false, one {"status": "success"} once done. A client that leaves does not stop
// the pull (as in ollama): a later pull finds the files there.
#include "server/api_error.h"
#include "server/json_fields.h"
#include "server/route_handler.h"
#include "server/routes.h"

#include <slm/error.h>
#include <slm/hub.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace slm::server {

using nlohmann::json;

namespace {

ModelRef parse_pull_name(const std::string& name) {
    std::string text = name;
    if (text.ends_with(":latest")) text.resize(text.size() - 7);
    try {
        return parse_model_ref(text);
    } catch (const Error& e) {
        throw_invalid("model", e.what());
    }
}

// Pulls `ref`, writing ollama's progress lines with `write` (which returns false once the client
// has left; the pull goes on regardless).
void pull_streamed(const ModelRef& ref, const HubOptions& hub, const std::function<void(const json&)>& write) {
    write({{"status", "pulling manifest"}});
    PullOptions options;
    options.progress = false;
    options.on_file_progress = [&](const FileProgress& p) {
        write({{"status", "downloading " + p.digest}, {"digest", p.digest}, {"total", p.total}, {"completed", p.completed}});
    };
    try {
        pull(ref, options, hub);
    } catch (const std::exception& e) {
        write({{"error", e.what()}});
        return;
    }
    write({{"status", "verifying sha256 digest"}});  // done per blob, before it was linked
    write({{"status", "writing manifest"}});         // refs/<revision>, written last
    write({{"status", "success"}});
}

}  // namespace

void add_pull_routes(httplib::Server& http, RouteContext& context) {
    http.Post("/api/pull", make_handler(context.log, ErrorShape::ollama,
                                        [&context](const httplib::Request& req, httplib::Response& res, RequestRecord&) {
        if (!context.options.hub)
            throw ApiError(404, "This server has no model cache to pull into", "invalid_request_error", "", "not_found");
        const json body = parse_json_body(req.body);
        JsonFields fields(body, "");
        auto name = fields.string("model");  // older clients send "name"
        if (!name) name = fields.string("name");
        if (!name) throw_invalid("model", "'model' is required");
        fields.boolean("insecure");  // accepted: the endpoint's scheme decides
        const ModelRef ref = parse_pull_name(*name);
        const HubOptions hub = *context.options.hub;
        if (!fields.boolean("stream").value_or(true)) {
            PullOptions options;
            options.progress = false;
            pull(ref, options, hub);
            write_json(res, json{{"status", "success"}}.dump());
            return;
        }
        res.set_header("Cache-Control", "no-cache");
        res.set_header("X-Accel-Buffering", "no");
        res.set_chunked_content_provider("application/x-ndjson", [ref, hub](size_t, httplib::DataSink& sink) {
            bool connected = true;
            pull_streamed(ref, hub, [&](const json& line) {
                const std::string text = line.dump() + "\n";
                if (connected) connected = sink.write(text.data(), text.size());
            });
            if (!connected) return false;
            sink.done();
            return true;
        });
    }));
}

}  // namespace slm::server

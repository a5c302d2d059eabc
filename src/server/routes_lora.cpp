// llama.cpp's adapter routes: GET /lora-adapters lists the loaded LoRA adapters with their default
// scales; POST /lora-adapters sets those defaults ([{"id", "scale"}], the others to 0), which
// requests that name no adapter then run with.
#include "server/engine.h"
#include "server/json_fields.h"
#include "server/route_handler.h"
#include "server/routes.h"

#include <nlohmann/json.hpp>

namespace slm::server {

using nlohmann::json;

static json adapter_list(ServedAdapters& adapters) {
    const std::vector<float> scales = adapters.default_scales();
    json list = json::array();
    for (const auto& a : adapters.list())
        list.push_back({{"id", a.id}, {"name", a.name}, {"path", a.path}, {"scale", scales[size_t(a.id)]}});
    return list;
}

void add_lora_routes(httplib::Server& http, RouteContext& context) {
    http.Get("/lora-adapters", make_handler(context.log, ErrorShape::openai,
                                            [&context](const httplib::Request&, httplib::Response& res, RequestRecord&) {
        write_json(res, adapter_list(require_model(context).adapters()).dump());
    }));
    http.Post("/lora-adapters", make_handler(context.log, ErrorShape::openai,
                                             [&context](const httplib::Request& req, httplib::Response& res, RequestRecord&) {
        ServedAdapters& adapters = require_model(context).adapters();
        const json body = parse_json_value(req.body);
        adapters.set_default_scales(adapters.parse_scales(body, "body"));
        write_json(res, json{{"success", true}}.dump());
    }));
}

}  // namespace slm::server

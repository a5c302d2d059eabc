// GET /v1/rag/kbs: the knowledge bases this server grounds answers in (`slm serve --rag`), for
// clients and the chat page's picker; an empty list when there are none.
#include "server/knowledge_bases.h"
#include "server/route_handler.h"
#include "server/routes.h"

#include <nlohmann/json.hpp>

namespace slm::server {

void add_rag_routes(httplib::Server& http, RouteContext& context) {
    http.Get("/v1/rag/kbs", make_handler(context.log, ErrorShape::openai,
                                         [&context](const httplib::Request&, httplib::Response& res, RequestRecord&) {
        write_json(res, nlohmann::json{{"object", "list"}, {"data", context.knowledge_bases.list()}}.dump());
    }));
}

}  // namespace slm::server

// One blob downloaded into the cache: streamed into blobs/{etag}.incomplete (resumed from its
// length with a Range request after a cut connection or a restart), or for a large one fetched
// as parallel ranges (hub/ranged_download.h), checked against its size and, for an LFS file, its
// sha256, then renamed to blobs/{etag}. A mismatch deletes it; a half-written blob never gets
// its final name.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "hub/hub_api.h"

namespace slm::hub {

struct BlobDownload {
    std::string file;       // repository path, for messages
    std::string url;        // where to GET it (redirects are followed)
    std::string blob_path;  // final name
    std::optional<uint64_t> size;
    std::string sha256;  // expected, lower-case hex; empty: only the size is checked
    // A blob of at least `ranged_min` bytes (size known) is fetched as up to `connections` byte
    // ranges at once (hub/ranged_download.h); 1 connection: one stream.
    int connections = 1;
    uint64_t ranged_min = uint64_t(64) << 20;
};

// Returns the bytes fetched over the network. `on_bytes` hears of every byte that lands in the
// file, a resumed prefix included.
uint64_t download_blob(HubApi& api, const std::string& repo, const std::string& commit, const BlobDownload& blob,
                       const std::function<void(uint64_t)>& on_bytes);

}  // namespace slm::hub

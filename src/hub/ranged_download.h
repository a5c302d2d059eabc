// A large blob fetched as several byte ranges at once, each over its own connection: where a CDN
// caps the rate of one connection, that is what fills the line. The bytes go into
// blobs/{etag}.incomplete-ranges, not .incomplete (huggingface_hub resumes an .incomplete from
// its length, which the holes between ranges would corrupt), and {that}.json records how far
// each range got, rewritten every second, so a cut or killed run resumes every range in place.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "hub/blob_download.h"
#include "hub/digest.h"
#include "hub/incomplete_file.h"

namespace slm::hub {

// The server answered a range request with the whole file: it does not serve ranges.
class RangesUnsupported : public Error {
public:
    using Error::Error;
};

std::string ranges_data_path(const std::string& blob_path);    // {blob}.incomplete-ranges
std::string ranges_record_path(const std::string& blob_path);  // {blob}.incomplete-ranges.json

// Fills `out` (the ranges data file of `blob`, whose size must be known) with every byte,
// `blob.connections` ranges at a time. The digest, when given, follows the writers in file order
// and holds the whole file's hash on return. Bytes already recorded are kept; a .incomplete's
// contiguous prefix (`prefix` bytes) counts as done when no record exists yet. Returns the bytes
// fetched over the network. On failure the progress made is recorded, then the error is thrown.
uint64_t download_ranges(HubApi& api, const std::string& repo, const std::string& commit, const BlobDownload& blob,
                         IncompleteFile& out, uint64_t prefix, Digest* digest,
                         const std::function<void(uint64_t)>& on_bytes);

}  // namespace slm::hub

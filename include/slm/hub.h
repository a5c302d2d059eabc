// Models by name: `org/name[@revision][:QUANT]` pulled from the Hugging Face Hub into the HF cache
// exactly as huggingface_hub lays it out, so a model downloaded by Python is ours and ours is theirs.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slm {

// A model name: repo "org/name", revision (branch, tag or commit; "main" when not given) and,
// for GGUF repositories, a quantization tag ("Q4_K_M") picking one .gguf file.
struct ModelRef {
    std::string repo;
    std::string revision = "main";
    std::string quant;
    bool revision_given = false;  // "@rev" was written (rm then removes only that revision)
    std::string str() const;      // back to "org/name[@rev][:QUANT]"
};

// Accepts "org/name", "org/name@rev", "org/name:Q4_K_M", "org/name@rev:Q8_0", optionally
// prefixed with "hf.co/" or "https://huggingface.co/". Throws slm::Error saying what is wrong.
ModelRef parse_model_ref(std::string_view text);

// Where and how the hub is reached. from_env() reads what huggingface_hub reads: HF_HUB_CACHE
// (else HF_HOME/hub, else $XDG_CACHE_HOME or ~/.cache /huggingface/hub), HF_ENDPOINT
// (https://huggingface.co), HF_TOKEN (else the token file: HF_TOKEN_PATH, else HF_HOME/token),
// HF_HUB_OFFLINE; and SLM_HUB_TIMEOUT (seconds).
struct HubOptions {
    std::string cache_dir;
    std::string endpoint;
    std::string token;         // empty: anonymous
    bool offline = false;      // resolve from the cache only
    double timeout_s = 10;     // to connect, and the longest a transfer may go without a byte
    int retries = 4;           // per request, after a cut connection, a timeout or a 5xx/429
    double retry_delay_s = 1;  // first back-off; doubles on each retry
    static HubOptions from_env();
};

std::string hub_cache_dir();  // HubOptions::from_env().cache_dir

// One file's download, for callers that show progress their own way (the server's /api/pull).
struct FileProgress {
    std::string file;    // repository path
    std::string digest;  // "sha256:<hex>" for an LFS file, else its git blob id
    uint64_t total = 0, completed = 0;
};

struct PullOptions {
    // A file is taken when it matches an --include glob, or when it is one the model needs and
    // matches no --exclude glob (fnmatch, `*` crossing '/', as huggingface_hub's patterns).
    std::vector<std::string> include, exclude;
    bool progress = true;  // a bar per file and for the total, on stderr
    int parallel = 4;      // files downloaded at once
    // A file of at least `ranged_min_bytes` is fetched as up to `connections` byte ranges at once,
    // each over its own connection (where a CDN caps each connection's rate, ranges fill the line).
    int connections = 4;
    uint64_t ranged_min_bytes = uint64_t(64) << 20;
    // Called as each file starts, at most every 100 ms while it downloads, and once it is linked
    // (completed == total); calls never overlap. Files already in the snapshot are not reported.
    std::function<void(const FileProgress&)> on_file_progress;
};

struct PullResult {
    std::string path;          // the snapshot directory, or the chosen .gguf inside it
    std::string snapshot_dir;  // .../models--org--name/snapshots/<commit>
    std::string commit;
    std::vector<std::string> files;  // repository paths now in the snapshot
    uint64_t downloaded_bytes = 0;   // fetched by this call (0 when all were cached)
    std::string note;                // which .gguf was chosen and why, when there was a choice
};

// Downloads what `ref` needs (skipping blobs already cached) and links it into the snapshot.
// Offline: the cached snapshot, or an Error saying it is not cached.
PullResult pull(const ModelRef& ref, const PullOptions& options = {}, const HubOptions& hub = HubOptions::from_env());

// The local path of a cached model (snapshot dir, or the .gguf for a GGUF ref); nullopt if absent.
std::optional<std::string> resolve_cached(const ModelRef& ref, const std::string& cache_dir = hub_cache_dir());

struct CachedRevision {
    std::string commit;
    std::vector<std::string> refs;   // revision names pointing at it ("main")
    std::vector<std::string> files;  // repository paths in the snapshot
    uint64_t size = 0;               // bytes of its distinct blobs
    std::string format;              // "safetensors", "gguf", "safetensors+gguf" or "" (neither)
};

struct CachedRepo {
    std::string repo;  // "org/name"
    std::string path;  // .../models--org--name
    std::vector<CachedRevision> revisions;
    uint64_t size_on_disk = 0;  // every blob, shared ones counted once
    int64_t last_used = 0;      // unix seconds: newest atime or mtime of its blobs
};

std::vector<CachedRepo> list_cached(const std::string& cache_dir = hub_cache_dir());

// Without "@rev": the whole repository. With it: that revision's snapshot and the refs naming
// it, then the blobs no remaining snapshot uses. Returns the bytes freed. Throws if the
// repository or revision is not cached.
uint64_t remove_cached(const ModelRef& ref, const std::string& cache_dir = hub_cache_dir());

}  // namespace slm

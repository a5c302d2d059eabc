// The fake Hub's routes and faults. Commits are made up (sha1 of the revision's name and
// files) but stable; ETags and LFS sha256 are the real functions of the bytes.
#include "hub/fake_hub.h"

#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "hub/digest.h"

namespace fs = std::filesystem;

namespace slm::test {
namespace {

void error(httplib::Response& res, int status, const std::string& code, const std::string& message) {
    res.status = status;
    res.set_header("X-Error-Code", code);
    res.set_header("X-Error-Message", message);
    res.set_content(nlohmann::json{{"error", message}}.dump(), "application/json");
}

bool lfs_by_default(const std::string& path, size_t size) {
    for (const char* ext : {".safetensors", ".gguf", ".bin", ".pt"})
        if (path.ends_with(ext)) return true;
    return size > (1u << 20);
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

FakeHub::FakeHub(int port) : server_(std::make_unique<httplib::Server>()) {
    server_->Get(R"(/api/models/([^/]+/[^/]+)/revision/(.+))",
                 [this](const auto& req, auto& res) { handle_info(req, res); });
    server_->Get(R"(/cdn/([0-9a-f]{64}))", [this](const auto& req, auto& res) { handle_cdn(req, res); });
    server_->Get(R"(/([^/]+/[^/]+)/resolve/([^/]+)/(.+))",
                 [this](const auto& req, auto& res) { handle_resolve(req, res); });
    port_ = port ? (server_->bind_to_port("127.0.0.1", port) ? port : -1) : server_->bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("fake hub: cannot listen on 127.0.0.1:" + std::to_string(port));
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FakeHub::~FakeHub() {
    stopping_ = true;
    server_->stop();
    thread_.join();
}

std::string FakeHub::endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FakeHub::add_file(const std::string& repo, const std::string& revision, const std::string& path,
                       std::string content, std::optional<bool> lfs) {
    File f;
    f.blob_id = hub::git_blob_sha1(content);
    if (lfs.value_or(lfs_by_default(path, content.size()))) f.sha256 = hub::sha256_hex(content);
    f.content = std::make_shared<const std::string>(std::move(content));
    const std::lock_guard lock(mutex_);
    repos_[repo].revisions[revision][path] = std::move(f);
}

void FakeHub::add_dir(const std::string& dir) {
    for (const auto& org : fs::directory_iterator(dir)) {
        if (!org.is_directory()) continue;
        for (const auto& name : fs::directory_iterator(org.path())) {
            if (!name.is_directory()) continue;
            const std::string repo = org.path().filename().string() + "/" + name.path().filename().string();
            for (const auto& e :
                 fs::recursive_directory_iterator(name.path(), fs::directory_options::follow_directory_symlink)) {
                if (!e.is_regular_file()) continue;
                std::ifstream in(e.path(), std::ios::binary);
                std::ostringstream ss;
                ss << in.rdbuf();
                add_file(repo, "main", e.path().lexically_relative(name.path()).string(), ss.str());
            }
        }
    }
}

void FakeHub::set_gated(const std::string& repo, const std::string& token) {
    const std::lock_guard lock(mutex_);
    repos_[repo].token = token;
}

std::string FakeHub::commit_locked(const std::string& repo, const std::string& revision) const {
    const auto& files = repos_.at(repo).revisions.at(revision);
    std::string text = repo + "@" + revision;
    for (const auto& [path, f] : files) text += "\n" + path + " " + f.blob_id;
    return hub::git_blob_sha1(text);
}

std::string FakeHub::commit(const std::string& repo, const std::string& revision) const {
    const std::lock_guard lock(mutex_);
    return commit_locked(repo, revision);
}

std::string FakeHub::sha256(const std::string& repo, const std::string& revision, const std::string& path) const {
    const std::lock_guard lock(mutex_);
    return repos_.at(repo).revisions.at(revision).at(path).sha256;
}

const std::map<std::string, FakeHub::File>* FakeHub::revision_locked(const Repo& r, const std::string& repo,
                                                                     const std::string& rev,
                                                                     std::string* commit) const {
    for (const auto& [name, files] : r.revisions) {
        const std::string c = commit_locked(repo, name);
        if (name == rev || c == rev) {
            *commit = c;
            return &files;
        }
    }
    return nullptr;
}

const FakeHub::File* FakeHub::find_file(const std::string& repo, const std::string& path) const {
    const auto& r = repos_.at(repo);
    for (const auto& [rev, files] : r.revisions)
        if (const auto it = files.find(path); it != files.end()) return &it->second;
    throw std::runtime_error("fake hub: no file " + repo + "/" + path);
}

std::string FakeHub::key(const std::string& repo, const std::string& path) const {
    const File* f = find_file(repo, path);
    return f->sha256.empty() ? f->blob_id : f->sha256;
}

void FakeHub::cut_once(const std::string& repo, const std::string& path, size_t bytes) {
    const std::lock_guard lock(mutex_);
    faults_[key(repo, path)].cut_at = bytes;
}

void FakeHub::stall(const std::string& repo, const std::string& path, int ms) {
    const std::lock_guard lock(mutex_);
    faults_[key(repo, path)].stall_ms = ms;
}

void FakeHub::corrupt(const std::string& repo, const std::string& path) {
    const std::lock_guard lock(mutex_);
    faults_[key(repo, path)].corrupt = true;
}

int FakeHub::gets(const std::string& repo, const std::string& path) const {
    const std::lock_guard lock(mutex_);
    const auto it = gets_.find(key(repo, path));
    return it == gets_.end() ? 0 : it->second;
}

std::vector<std::string> FakeHub::ranges(const std::string& repo, const std::string& path) const {
    const std::lock_guard lock(mutex_);
    const auto it = ranges_.find(key(repo, path));
    return it == ranges_.end() ? std::vector<std::string>{} : it->second;
}

void FakeHub::handle_info(const httplib::Request& req, httplib::Response& res) {
    const std::string repo = req.matches[1], rev = req.matches[2];
    const std::lock_guard lock(mutex_);
    const auto it = repos_.find(repo);
    if (it == repos_.end()) return error(res, 404, "RepoNotFound", "Repository not found");
    std::string commit;
    const auto* files = revision_locked(it->second, repo, rev, &commit);
    if (!files) return error(res, 404, "RevisionNotFound", "Invalid rev id: " + rev);
    const bool blobs = req.has_param("blobs") && req.get_param_value("blobs") == "true";
    nlohmann::json siblings = nlohmann::json::array();
    uint64_t used = 0;
    for (const auto& [path, f] : *files) {
        nlohmann::json s = {{"rfilename", path}};
        if (blobs) {
            s["blobId"] = f.blob_id;
            s["size"] = f.content->size();
            if (!f.sha256.empty()) s["lfs"] = {{"sha256", f.sha256}, {"size", f.content->size()}, {"pointerSize", 134}};
        }
        used += f.content->size();
        siblings.push_back(s);
    }
    const std::string org = repo.substr(0, repo.find('/'));
    const nlohmann::json body = {{"_id", commit.substr(0, 24)},
                                 {"id", repo},
                                 {"modelId", repo},
                                 {"author", org},
                                 {"sha", commit},
                                 {"lastModified", "2024-05-01T00:00:00.000Z"},
                                 {"private", false},
                                 {"gated", it->second.token.empty() ? nlohmann::json(false) : nlohmann::json("manual")},
                                 {"disabled", false},
                                 {"downloads", 0},
                                 {"likes", 0},
                                 {"tags", nlohmann::json::array()},
                                 {"siblings", siblings},
                                 {"createdAt", "2024-05-01T00:00:00.000Z"},
                                 {"usedStorage", used}};
    res.set_content(body.dump(), "application/json");
}

void FakeHub::handle_resolve(const httplib::Request& req, httplib::Response& res) {
    const std::string repo = req.matches[1], rev = req.matches[2], path = req.matches[3];
    std::unique_lock lock(mutex_);
    const auto it = repos_.find(repo);
    if (it == repos_.end()) return error(res, 404, "RepoNotFound", "Repository not found");
    if (!it->second.token.empty() && req.get_header_value("Authorization") != "Bearer " + it->second.token)
        return error(res, 401, "GatedRepo",
                     "Access to model " + repo +
                         " is restricted. You must have access to it and be authenticated to access it.");
    std::string commit;
    const auto* files = revision_locked(it->second, repo, rev, &commit);
    if (!files) return error(res, 404, "RevisionNotFound", "Invalid rev id: " + rev);
    const auto f = files->find(path);
    if (f == files->end()) return error(res, 404, "EntryNotFound", path + " does not exist on \"" + rev + "\"");
    res.set_header("X-Repo-Commit", commit);
    if (!f->second.sha256.empty()) {
        // The Hub answers an LFS file with the pointer's ETag, the file's in X-Linked-*, and a
        // redirect to its CDN (an absolute URL, so clients stop there on HEAD).
        res.status = 302;
        res.set_header("ETag", quoted(hub::git_blob_sha1("version https://git-lfs.github.com/spec/v1\noid sha256:" +
                                                         f->second.sha256)));
        res.set_header("X-Linked-Etag", quoted(f->second.sha256));
        res.set_header("X-Linked-Size", std::to_string(f->second.content->size()));
        res.set_header("Location", endpoint() + "/cdn/" + f->second.sha256);
        return;
    }
    const File file = f->second;
    lock.unlock();
    res.set_header("ETag", quoted(file.blob_id));
    serve(req, res, file);
}

void FakeHub::handle_cdn(const httplib::Request& req, httplib::Response& res) {
    const std::string sha = req.matches[1];
    std::unique_lock lock(mutex_);
    for (const auto& [repo, r] : repos_)
        for (const auto& [rev, files] : r.revisions)
            for (const auto& [path, f] : files)
                if (f.sha256 == sha) {
                    const File file = f;
                    lock.unlock();
                    if (req.method == "GET") ++cdn_gets_;
                    res.set_header("ETag", quoted(sha));
                    return serve(req, res, file);
                }
    res.status = 404;
}

void FakeHub::serve(const httplib::Request& req, httplib::Response& res, const File& file) {
    const std::string k = file.sha256.empty() ? file.blob_id : file.sha256;
    Fault fault;
    {
        const std::lock_guard lock(mutex_);
        if (req.method == "GET") {
            ++gets_[k];
            ranges_[k].push_back(req.get_header_value("Range"));
            if (auto it = faults_.find(k); it != faults_.end()) {
                fault = it->second;
                it->second.cut_at = 0;  // a cut happens once
            }
        }
    }
    auto data = file.content;
    if (fault.corrupt) {
        auto bad = std::make_shared<std::string>(*data);
        if (!bad->empty()) (*bad)[bad->size() / 2] ^= 0x5a;
        data = bad;
    }
    const uint64_t rate = throttle_;
    res.set_content_provider(
        data->size(), "application/octet-stream",
        [this, data, fault, rate, stalled = false, sent = uint64_t(0), started = std::chrono::steady_clock::now()](
            size_t offset, size_t length, httplib::DataSink& sink) mutable {
            if (!std::exchange(stalled, true))  // once, before the first byte
                for (int waited = 0; waited < fault.stall_ms && !stopping_; waited += 10)
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));
            size_t end = offset + std::min<size_t>(length, 64 << 10);
            if (fault.cut_at) {
                if (offset >= fault.cut_at) return false;  // closes the connection mid-body
                end = std::min(end, fault.cut_at);
            }
            if (rate) {  // wait until this connection's rate allows the chunk
                sent += end - offset;
                std::this_thread::sleep_until(started + std::chrono::microseconds(sent * 1000000 / rate));
            }
            return sink.write(data->data() + offset, end - offset);
        });
}

}  // namespace slm::test

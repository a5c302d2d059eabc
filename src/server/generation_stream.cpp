// GenerationStream: a mutex-guarded queue of pieces plus the final summary.
#include "server/generation_stream.h"

namespace slm::server {

void GenerationStream::push(GeneratedPiece piece) {
    {
        std::lock_guard lock(mutex_);
        pending_.push_back(std::move(piece));
    }
    cv_.notify_all();
}

void GenerationStream::finish(GenerationSummary summary) {
    {
        std::lock_guard lock(mutex_);
        if (summary_) return;
        summary_ = std::move(summary);
    }
    cv_.notify_all();
}

GenerationStream::Update GenerationStream::next(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return !pending_.empty() || (summary_ && !delivered_end_); });
    Update update;
    update.pieces.swap(pending_);
    if (summary_ && !delivered_end_) {
        update.finished = summary_;
        delivered_end_ = true;
    }
    return update;
}

bool GenerationStream::wait_finished(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return summary_.has_value(); });
}

GenerationStream::Update GenerationStream::wait_all() {
    Update all;
    while (!all.finished) {
        Update u = next(std::chrono::milliseconds(1000));
        for (auto& p : u.pieces) all.pieces.push_back(std::move(p));
        all.finished = std::move(u.finished);
    }
    return all;
}

}  // namespace slm::server

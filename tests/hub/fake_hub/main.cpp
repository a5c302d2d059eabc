// slm-fake-hub DIR [--port N] [--throttle MB/s]: serves every DIR/org/name/ as Hub repository
// org/name (revision main) on 127.0.0.1, for trying `slm pull` without the network
// (docs/models.md) and for bench/hub_download.sh (--throttle caps each connection's rate).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "hub/fake_hub.h"

int main(int argc, char** argv) {
    std::string dir;
    int port = 0;
    double throttle_mb = 0;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--throttle") == 0 && i + 1 < argc)
            throttle_mb = std::atof(argv[++i]);
        else if (dir.empty() && argv[i][0] != '-')
            dir = argv[i];
        else
            dir.clear(), i = argc;
    }
    if (dir.empty()) {
        std::fprintf(stderr, "usage: slm-fake-hub DIR [--port N] [--throttle MB/s]  (serves DIR/org/name/ as repository "
                     "org/name; --throttle caps each connection's rate)\n");
        return 2;
    }
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before the server's threads start
    try {
        slm::test::FakeHub hub(port);
        hub.add_dir(dir);
        hub.throttle(uint64_t(throttle_mb * 1e6));
        std::printf("HF_ENDPOINT=%s\n", hub.endpoint().c_str());
        std::fflush(stdout);
        int sig = 0;
        sigwait(&signals, &sig);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "slm-fake-hub: %s\n", e.what());
        return 1;
    }
    return 0;
}

// Greedy decoding by llama.cpp from token ids (llama-cli takes text only): loads a GGUF through
// libllama, evaluates the prompt ids, then takes the argmax N times; prints the chosen ids and
// writes the logits each choice was made from ([N, n_vocab] f32) for comparison with a reference.
// Built by bench/check_families_llamacpp.sh against a llama.cpp build (b4748's C API).
//
//   llamacpp_token_greedy MODEL.gguf N_PREDICT LOGITS_OUT.f32 ID [ID...]
#include <llama.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: %s MODEL.gguf N_PREDICT LOGITS_OUT.f32 ID [ID...]\n", argv[0]);
        return 2;
    }
    const int n_predict = std::atoi(argv[2]);
    std::vector<llama_token> prompt;
    for (int i = 4; i < argc; ++i) prompt.push_back(llama_token(std::atoi(argv[i])));

    llama_backend_init();
    llama_model* model = llama_model_load_from_file(argv[1], llama_model_default_params());
    if (!model) {
        std::fprintf(stderr, "llama.cpp could not load %s\n", argv[1]);
        return 1;
    }
    // The context is the prompt and the continuation, as the reference ran (Phi-3 picks its
    // longrope factors by it; llama.cpp pads it to a multiple of 32).
    llama_context_params cparams = llama_context_default_params();
    cparams.n_ctx = uint32_t(prompt.size()) + uint32_t(n_predict);
    cparams.n_batch = cparams.n_ctx;
    cparams.n_threads = cparams.n_threads_batch = 2;
    llama_context* ctx = llama_init_from_model(model, cparams);
    if (!ctx) return 1;
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));

    std::FILE* out = std::fopen(argv[3], "wb");
    if (!out) return 1;
    std::vector<llama_token> next = prompt;
    std::printf("greedy:");
    for (int step = 0; step < n_predict; ++step) {
        if (llama_decode(ctx, llama_batch_get_one(next.data(), int32_t(next.size()))) != 0) return 1;
        const float* logits = llama_get_logits_ith(ctx, -1);
        std::fwrite(logits, sizeof(float), size_t(n_vocab), out);
        llama_token best = 0;
        for (llama_token t = 1; t < n_vocab; ++t)
            if (logits[t] > logits[best]) best = t;
        std::printf(" %d", best);
        next.assign(1, best);
    }
    std::printf("\n");
    std::fclose(out);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}

# The CUDA backend's kernels (SLM_CUDA=ON): slm_cuda from src/kernels/cuda/ (.cu kernels built by
# nvcc, .cpp host code by the C++ compiler), the CUDA tests' and the matvec benchmark's targets.
# Without SLM_CUDA none of this is read, and the CPU build needs no CUDA toolkit.
if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
  set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
endif()
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES 80 90)  # A100 and H100/H200 machine code, no JIT at start
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
# CMake 3.25 predates nvcc 13 and does not know it takes C++20: say so, then ask for it.
if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  list(APPEND CMAKE_CUDA_COMPILE_FEATURES cuda_std_20)
  set(CMAKE_CUDA20_COMPILE_FEATURES cuda_std_20)
endif()
set(CMAKE_CUDA_STANDARD 20)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)

file(GLOB slm_cuda_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/kernels/cuda/*.cu
     ${PROJECT_SOURCE_DIR}/src/kernels/cuda/*.cpp)
add_library(slm_cuda STATIC ${slm_cuda_sources})
target_include_directories(slm_cuda PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)
# The static CUDA runtime: a binary needs only the driver (libcuda) where it runs.
# cuBLAS for the prompt GEMM, shared: its static archive is hundreds of megabytes, and the CUDA
# toolkit that a GPU machine has provides the library.
target_link_libraries(slm_cuda PUBLIC slm_kernels CUDA::cudart_static CUDA::cublas)
target_compile_options(slm_cuda PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra -lineinfo>)
if(SLM_WERROR)
  target_compile_options(slm_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings>)
endif()

# GB/s of each matvec kernel on 7B-shaped matrices against a device copy: docs/cuda.md.
add_executable(bench_cuda_matvec ${PROJECT_SOURCE_DIR}/bench/cuda/matvec_bench.cpp)
target_link_libraries(bench_cuda_matvec PRIVATE slm_cuda)

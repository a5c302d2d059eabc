# slm_module(NAME [FOLDERS f...] DEPS ...): a static library slm_NAME from src/NAME/**.cpp
# (or from src/f/**.cpp for each of FOLDERS).
# A module whose folder has no sources yet becomes an INTERFACE library, so the
# dependency chain stays valid while the tree grows.
function(slm_module name)
  cmake_parse_arguments(ARG "" "" "FOLDERS;DEPS" ${ARGN})
  if(NOT ARG_FOLDERS)
    set(ARG_FOLDERS ${name})
  endif()
  set(sources "")
  foreach(folder ${ARG_FOLDERS})
    file(GLOB_RECURSE found CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${folder}/*.cpp)
    list(FILTER found EXCLUDE REGEX "/src/(kernels|model)/cuda/")  # built only with SLM_CUDA
    list(APPEND sources ${found})
  endforeach()
  if(sources)
    add_library(slm_${name} STATIC ${sources})
    target_include_directories(slm_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include PRIVATE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(slm_${name} PUBLIC ${ARG_DEPS})
  else()
    add_library(slm_${name} INTERFACE)
    target_include_directories(slm_${name} INTERFACE ${PROJECT_SOURCE_DIR}/include)
    target_link_libraries(slm_${name} INTERFACE ${ARG_DEPS})
  endif()
endfunction()

# slm_test(MODULE DEPS ...): one GoogleTest binary test_MODULE from tests/MODULE/*.cpp,
# its tests registered with ctest one by one.
function(slm_test module)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/${module}/*.cpp)
  if(NOT sources)
    return()
  endif()
  add_executable(test_${module} ${sources})
  target_include_directories(test_${module} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(test_${module} PRIVATE ${ARG_DEPS} slm_testing GTest::gtest_main GTest::gmock)
  gtest_discover_tests(test_${module} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                       DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600)
endfunction()

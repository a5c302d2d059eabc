# The web chat page of `slm serve` (web/, docs/webui.md), compiled into slm_server: tools/webui_embed
# turns web/src and the vendor files the page imports from web/node_modules (installed by
# scripts/setup.sh from web/package-lock.json) into a C++ source of byte arrays, gzip and brotli
# bodies included. -DSLM_WEBUI=OFF builds a server without the page (and without npm).
option(SLM_WEBUI "Embed the web chat page (web/) in slm serve; needs web/node_modules (scripts/setup.sh)" ON)

set(webui_dir ${PROJECT_SOURCE_DIR}/web)
set(webui_modules ${webui_dir}/node_modules)
# URL path under /assets/vendor/ = file under web/node_modules/. Only what the page imports.
set(webui_vendor
  marked.esm.js=marked/lib/marked.esm.js
  purify.es.mjs=dompurify/dist/purify.es.mjs
  highlight/core.min.js=@highlightjs/cdn-assets/es/core.min.js)
foreach(language bash c cpp css diff go java javascript json markdown plaintext python rust shell sql typescript
                 xml yaml)
  list(APPEND webui_vendor
       highlight/languages/${language}.min.js=@highlightjs/cdn-assets/es/languages/${language}.min.js)
endforeach()

set(webui_args "")
set(webui_inputs "")
if(SLM_WEBUI)
  foreach(entry ${webui_vendor})
    string(REPLACE "=" ";" pair ${entry})
    list(GET pair 0 url)
    list(GET pair 1 file)
    if(NOT EXISTS ${webui_modules}/${file})
      message(FATAL_ERROR "The web chat page needs web/node_modules/${file}, which is missing: run scripts/setup.sh "
                          "(or: cd web && npm ci --omit=dev), or configure with -DSLM_WEBUI=OFF to build without the page.")
    endif()
    list(APPEND webui_args /assets/vendor/${url}=${webui_modules}/${file})
    list(APPEND webui_inputs ${webui_modules}/${file})
  endforeach()
  file(GLOB_RECURSE webui_sources CONFIGURE_DEPENDS ${webui_dir}/src/*)
  foreach(file ${webui_sources})
    file(RELATIVE_PATH relative ${webui_dir}/src ${file})
    if(relative STREQUAL "index.html")
      list(APPEND webui_args /=${file})
    else()
      list(APPEND webui_args /assets/${relative}=${file})
    endif()
    list(APPEND webui_inputs ${file})
  endforeach()
endif()

pkg_check_modules(BROTLIENC REQUIRED IMPORTED_TARGET libbrotlienc)
find_package(ZLIB REQUIRED)
add_executable(slm-webui-embed ${PROJECT_SOURCE_DIR}/tools/webui_embed/webui_embed.cpp)
target_link_libraries(slm-webui-embed PRIVATE PkgConfig::BROTLIENC ZLIB::ZLIB)

set(webui_generated ${CMAKE_BINARY_DIR}/generated/webui_assets.cpp)
add_custom_command(
  OUTPUT ${webui_generated}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/generated
  COMMAND slm-webui-embed ${webui_generated} ${webui_args}
  DEPENDS slm-webui-embed ${webui_inputs}
  COMMENT "Embedding the web chat page (web/) in the server"
  VERBATIM)
target_sources(slm_server PRIVATE ${webui_generated})

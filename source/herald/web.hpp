// The web pages that herald serves itself (/demo, /status and the JavaScript client
// /js/herald.js): files embedded in the binary at build time, answered without a copy.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "herald/http_api.hpp"

namespace herald {

// One embedded file, as the build step (cmake/embed_web_files.cmake) wrote it.
struct WebFile {
    std::string_view path;          // the request path that serves it, e.g. "/demo"
    std::string_view content_type;  // from its extension
    std::string_view etag;          // a quoted digest of its bytes
    std::string_view body;
};

// Every embedded file (defined in the generated web_files.cpp).
std::span<const WebFile> web_files();

// The answer to a request for an embedded file, or nothing when `path` names none: the file
// with a strict Content-Security-Policy (everything from this origin only, no inline script or
// style), nosniff and a cache policy that revalidates with the ETag (304 when it still matches).
std::optional<Response> web_response(const Request& request, std::string_view path);

}  // namespace herald

#include "herald/web.hpp"

namespace herald {
namespace {

// Pages may load scripts, styles, images and WebSockets from this origin only: no inline script
// or style, no other host, no plugins, not framed. connect-src 'self' covers ws:// and wss:// of
// the same host and port.
constexpr std::string_view content_security_policy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

// The files change only with the binary and their URLs carry no version: a browser keeps them,
// but asks each time whether they changed (a 304 answers when the ETag still matches).
constexpr std::string_view cache_policy = "no-cache";

// Whether an If-None-Match header names `etag` (a list of tags, or *).
bool etag_matches(std::string_view header, std::string_view etag) {
    if (header.empty()) return false;
    if (header == "*") return true;
    while (!header.empty()) {
        auto comma = header.find(',');
        std::string_view tag = header.substr(0, comma);
        while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t'))
            tag.remove_prefix(1);
        while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t'))
            tag.remove_suffix(1);
        if (tag.starts_with("W/")) tag.remove_prefix(2);  // weak comparison, as for a GET
        if (tag == etag) return true;
        if (comma == std::string_view::npos) break;
        header.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace

std::optional<Response> web_response(const Request& request, std::string_view path) {
    const WebFile* found = nullptr;
    for (const WebFile& file : web_files())
        if (file.path == path) found = &file;
    if (found == nullptr) return std::nullopt;

    unsigned version = request.version();
    if (request.method() != http::verb::get) {
        Response response =
            error_response(http::status::method_not_allowed, "method not allowed", version);
        response.set(http::field::allow, "GET");
        return response;
    }
    bool unchanged = etag_matches(request[http::field::if_none_match], found->etag);
    Response response = Response::static_content(
        unchanged ? http::status::not_modified : http::status::ok, found->content_type,
        cache_policy, unchanged ? std::string_view() : found->body, version);
    response.set(http::field::etag, found->etag);
    response.set("Content-Security-Policy", content_security_policy);
    response.set("X-Content-Type-Options", "nosniff");
    response.set("Referrer-Policy", "no-referrer");
    return response;
}

}  // namespace herald

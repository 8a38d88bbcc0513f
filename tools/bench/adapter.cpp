#include "adapter.hpp"

#include <charconv>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "client/client.hpp"

namespace herald::bench {

Adapter::Adapter(const CommonOptions& options)
    : kind_(options.adapter),
      host_(options.host + ":" + std::to_string(options.port)),
      publish_host_(options.host + ":" + std::to_string(options.publisher().port())),
      ws_path_(options.ws_path),
      send_path_(options.send_path),
      sub_prefix_(options.sub_prefix),
      pub_prefix_(options.pub_prefix) {}

std::string Adapter::websocket_target(std::string_view uid) const {
    if (kind_ == AdapterKind::nchan) return sub_prefix_ + client::url_encode(uid);
    return ws_path_;
}

std::optional<std::string> Adapter::login_frame(std::string_view uid) const {
    if (kind_ == AdapterKind::nchan) return std::nullopt;
    boost::json::object login;
    login["uid"] = uid;
    return boost::json::serialize(login);
}

void Adapter::append_publish(std::string& out, std::string_view uid,
                             std::string_view message) const {
    if (kind_ == AdapterKind::nchan) {
        char length[24];
        auto [end, error] = std::to_chars(length, length + sizeof length, message.size());
        out += "POST ";
        out += pub_prefix_;
        out += client::url_encode(uid);
        out += " HTTP/1.1\r\nHost: ";
        out += publish_host_;
        out += "\r\nContent-Type: text/plain\r\nContent-Length: ";
        out.append(length, end);
        out += "\r\n\r\n";
        out += message;
        return;
    }
    out += "GET ";
    out += send_path_;
    out += "?uid=";
    out += client::url_encode(uid);
    out += "&message=";
    out += client::url_encode(message);
    out += " HTTP/1.1\r\nHost: ";
    out += publish_host_;
    out += "\r\n\r\n";
}

bool Adapter::reached_someone(unsigned status, std::string_view body) const {
    if (kind_ == AdapterKind::nchan) return status == 201;
    if (body == "offline") return false;  // seed-go
    constexpr std::string_view delivered = "\"delivered\":";
    auto at = body.find(delivered);
    if (at == std::string_view::npos) return true;  // some other seed server: 2xx accepts
    std::size_t count = 0;
    const char* first = body.data() + at + delivered.size();
    std::from_chars(first, body.data() + body.size(), count);
    return count > 0;
}

}  // namespace herald::bench

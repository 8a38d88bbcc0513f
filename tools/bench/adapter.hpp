// How the benchmark speaks to a server, as pure functions over bytes:
//
//   seed  (herald, seed-go)  ws://H:P/ws, then the text frame {"uid":"U"};
//                            GET /send?uid=U&message=M; any 2xx answer accepts.
//   nchan (nginx + nchan)    ws://H:P/sub/U, subscribed once the handshake completes;
//                            POST /pub/U with M as the body; 201 reached a subscriber, 202 not.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "options.hpp"

namespace herald::bench {

class Adapter {
  public:
    explicit Adapter(const CommonOptions& options);

    AdapterKind kind() const { return kind_; }
    const std::string& host_header() const { return host_; }

    std::string websocket_target(std::string_view uid) const;
    // The first frame a subscriber sends, if the protocol has one.
    std::optional<std::string> login_frame(std::string_view uid) const;
    // Appends one complete keep-alive HTTP/1.1 request publishing `message` to `uid`.
    void append_publish(std::string& out, std::string_view uid, std::string_view message) const;
    // Whether an accepted publish answer says a connection got the message: herald answers
    // {"delivered":N}, seed-go "ok" or "offline", nchan 201 or 202.
    bool reached_someone(unsigned status, std::string_view body) const;

  private:
    AdapterKind kind_;
    std::string host_;          // "127.0.0.1:8181", for the WebSocket handshake's Host header
    std::string publish_host_;  // the same for publishes (--publish-port)
    std::string ws_path_, send_path_, sub_prefix_, pub_prefix_;
};

}  // namespace herald::bench

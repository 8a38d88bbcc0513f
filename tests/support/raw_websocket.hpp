// A WebSocket client below Beast, for what Beast will not do: keep quiet when pinged, or send
// frames that break the protocol. It performs the handshake by hand and then speaks raw bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "herald/net.hpp"

namespace herald::test {

struct RawServerFrame {
    unsigned opcode;
    std::string payload;
    // The close code of a close frame (0 if it has none).
    unsigned close_code() const;
    std::string_view close_reason() const;
};

// Connects and completes the opening handshake by hand.
awaitable<tcp::socket> raw_websocket(tcp::endpoint server);

// A masked client frame with `opcode` (the all-zero mask leaves the payload as it is).
std::string client_frame(unsigned opcode, std::string_view payload, bool fin = true);
inline std::string client_text_frame(std::string_view payload) {
    return client_frame(0x1, payload);
}

// The next frame from the server (small ones only: control frames and short messages), or
// nothing once the server has closed the TCP connection.
awaitable<std::optional<RawServerFrame>> read_raw_frame(tcp::socket& socket);

// Reads frames until the server's close frame and returns it; fails the test if the connection
// ends without one.
awaitable<RawServerFrame> read_until_close(tcp::socket& socket);

}  // namespace herald::test

// herald-floor: the floor of the benchmark. A measuring instrument, never a server to use.
//
// The cheapest server that passes herald-bench's seed-protocol scenarios: one thread, one epoll
// loop, the same system calls per message that any server of this kind must make (read the
// request, write the frame, write the answer), and nothing else: no limits, no timeouts, no
// history, no validation beyond what the load generator's own traffic needs, no safety against
// a hostile peer. Its server CPU per delivery or per connection is what this machine's kernel
// charges for the traffic itself, so a figure of Herald's or a peer's can be read against it,
// and a target below it cannot be met by any server here.
//
//   herald-floor --port 8181
//
// It speaks: GET /ws (upgrade, then a {"uid":"..."} text frame), GET /send?uid=U&message=M,
// POST /send {"uids":["U1",...],"message":"M"} (the load generator's own JSON, read by
// scanning, not parsed), and answers {"delivered":N}. Anything else gets a 404.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

struct Connection {
    bool websocket = false;
    std::string in;   // received, not yet handled
    std::string out;  // what the socket did not take at once
    std::string uid;  // once logged in
};

int epoll_fd = -1;
std::vector<std::unique_ptr<Connection>> connections;  // by descriptor
std::unordered_map<std::string, std::vector<int>> users;

bool iequals_prefix(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(text[i])) !=
            std::tolower(static_cast<unsigned char>(prefix[i])))
            return false;
    return true;
}

// The value of header `name` in `head`, or empty.
std::string_view header(std::string_view head, std::string_view name) {
    std::size_t at = 0;
    while ((at = head.find("\r\n", at)) != std::string_view::npos) {
        at += 2;
        std::string_view line = head.substr(at, head.find("\r\n", at) - at);
        if (iequals_prefix(line, name) && line.size() > name.size() && line[name.size()] == ':') {
            std::string_view value = line.substr(name.size() + 1);
            while (!value.empty() && value.front() == ' ')
                value.remove_prefix(1);
            return value;
        }
    }
    return {};
}

std::string percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '+') {
            out += ' ';
        } else if (text[i] == '%' && i + 2 < text.size()) {
            unsigned value = 0;
            std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
            out += static_cast<char>(value);
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

std::string query_value(std::string_view query, std::string_view key) {
    std::size_t at = 0;
    while (at <= query.size()) {
        std::size_t end = query.find('&', at);
        if (end == std::string_view::npos) end = query.size();
        std::string_view pair = query.substr(at, end - at);
        if (pair.size() > key.size() && pair.substr(0, key.size()) == key &&
            pair[key.size()] == '=')
            return percent_decode(pair.substr(key.size() + 1));
        at = end + 1;
    }
    return {};
}

void close_connection(int fd) {
    Connection& connection = *connections[fd];
    if (!connection.uid.empty()) {
        auto& fds = users[connection.uid];
        std::erase(fds, fd);
        if (fds.empty()) users.erase(connection.uid);
    }
    connections[fd].reset();
    ::close(fd);  // also leaves the epoll set
}

// One send per message, as a real server makes; the rest waits for EPOLLOUT.
void send_bytes(int fd, std::string_view bytes) {
    Connection& connection = *connections[fd];
    if (connection.out.empty()) {
        ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (sent == static_cast<ssize_t>(bytes.size())) return;
        if (sent < 0) sent = 0;
        bytes.remove_prefix(static_cast<std::size_t>(sent));
        epoll_event event{EPOLLIN | EPOLLOUT, {.fd = fd}};
        epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &event);
    }
    connection.out.append(bytes);
}

void send_frame(int fd, std::string_view payload) {
    char frame[16 + 4096];
    std::size_t head = 2;
    frame[0] = static_cast<char>(0x81);
    if (payload.size() < 126) {
        frame[1] = static_cast<char>(payload.size());
    } else {
        frame[1] = 126;
        frame[2] = static_cast<char>(payload.size() >> 8);
        frame[3] = static_cast<char>(payload.size() & 0xff);
        head = 4;
    }
    if (payload.size() > sizeof frame - head) return;  // the benchmark's messages are small
    std::memcpy(frame + head, payload.data(), payload.size());
    send_bytes(fd, {frame, head + payload.size()});
}

std::size_t deliver(const std::string& uid, std::string_view message) {
    auto found = users.find(uid);
    if (found == users.end()) return 0;
    for (int fd : found->second)
        send_frame(fd, message);
    return found->second.size();
}

void answer(int fd, int status, std::string_view body) {
    char text[256];
    int length = std::snprintf(text, sizeof text,
                               "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                               "Content-Length: %zu\r\n\r\n%.*s",
                               status, status == 200 ? "OK" : "Not Found", body.size(),
                               static_cast<int>(body.size()), body.data());
    send_bytes(fd, {text, static_cast<std::size_t>(length)});
}

void answer_delivered(int fd, std::size_t delivered) {
    char body[48];
    int length = std::snprintf(body, sizeof body, "{\"delivered\":%zu}", delivered);
    answer(fd, 200, {body, static_cast<std::size_t>(length)});
}

std::string accept_key(std::string_view key) {
    std::string input(key);
    input += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned length = 0;
    EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha1(), nullptr);
    unsigned char encoded[64];
    int size = EVP_EncodeBlock(encoded, digest, static_cast<int>(length));
    return std::string(reinterpret_cast<char*>(encoded), static_cast<std::size_t>(size));
}

// The strings of a JSON array of plain strings, as the load generator writes them.
std::vector<std::string> scan_uids(std::string_view body) {
    std::vector<std::string> uids;
    std::size_t at = body.find("\"uids\":[");
    if (at == std::string_view::npos) return uids;
    at += 8;
    while (at < body.size() && body[at] != ']') {
        std::size_t open = body.find('"', at);
        std::size_t close = body.find('"', open + 1);
        if (open == std::string_view::npos || close == std::string_view::npos) break;
        uids.emplace_back(body.substr(open + 1, close - open - 1));
        at = close + 1;
        if (at < body.size() && body[at] == ',') ++at;
    }
    return uids;
}

std::string_view scan_string(std::string_view body, std::string_view key) {
    std::size_t at = body.find(key);
    if (at == std::string_view::npos) return {};
    at += key.size();
    return body.substr(at, body.find('"', at) - at);
}

// Handles complete HTTP requests; false when the connection must close.
bool handle_http(int fd) {
    Connection& connection = *connections[fd];
    for (;;) {
        std::size_t end = connection.in.find("\r\n\r\n");
        if (end == std::string::npos) return true;
        std::string_view head(connection.in.data(), end + 2);
        std::size_t body_length = 0;
        std::string_view length_text = header(head, "content-length");
        std::from_chars(length_text.data(), length_text.data() + length_text.size(), body_length);
        if (connection.in.size() < end + 4 + body_length) return true;
        std::string_view body(connection.in.data() + end + 4, body_length);
        std::string_view target = head.substr(head.find(' ') + 1);
        target = target.substr(0, target.find(' '));

        if (head.starts_with("GET /ws")) {
            std::string response =
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                "Upgrade\r\nSec-WebSocket-Accept: " +
                accept_key(header(head, "sec-websocket-key")) + "\r\n\r\n";
            connection.in.erase(0, end + 4);
            connection.websocket = true;
            send_bytes(fd, response);
            return true;
        }
        if (head.starts_with("GET /send?")) {
            std::string_view query = target.substr(target.find('?') + 1);
            answer_delivered(fd, deliver(query_value(query, "uid"), query_value(query, "message")));
        } else if (head.starts_with("POST /send")) {
            std::string_view message = scan_string(body, "\"message\":\"");
            std::size_t delivered = 0;
            for (const std::string& uid : scan_uids(body))
                delivered += deliver(uid, message);
            std::string_view uid = scan_string(body, "\"uid\":\"");
            if (!uid.empty()) delivered += deliver(std::string(uid), message);
            answer_delivered(fd, delivered);
        } else {
            answer(fd, 404, "{\"error\":\"no such endpoint\"}");
        }
        connection.in.erase(0, end + 4 + body_length);
    }
}

// Handles complete client frames; false when the connection must close.
bool handle_frames(int fd) {
    Connection& connection = *connections[fd];
    std::string& in = connection.in;
    for (;;) {
        if (in.size() < 2) return true;
        auto byte = [&](std::size_t i) { return static_cast<unsigned char>(in[i]); };
        unsigned opcode = byte(0) & 0x0f;
        std::uint64_t length = byte(1) & 0x7f;
        std::size_t head = 2;
        if (length == 126) {
            if (in.size() < 4) return true;
            length = (std::uint64_t(byte(2)) << 8) | byte(3);
            head = 4;
        } else if (length == 127) {
            if (in.size() < 10) return true;
            length = 0;
            for (int i = 0; i < 8; ++i)
                length = (length << 8) | byte(2 + std::size_t(i));
            head = 10;
        }
        bool masked = byte(1) & 0x80;
        std::size_t mask_at = head;
        if (masked) head += 4;
        if (in.size() < head + length) return true;
        std::string payload = in.substr(head, length);
        if (masked)
            for (std::size_t i = 0; i < payload.size(); ++i)
                payload[i] = static_cast<char>(payload[i] ^ in[mask_at + i % 4]);
        in.erase(0, head + length);

        if (opcode == 0x8) {  // close: answer it and end
            send_bytes(fd, std::string_view("\x88\x00", 2));
            return false;
        }
        if (opcode == 0x9) {  // ping
            std::string pong = "\x8a";
            pong += static_cast<char>(payload.size());
            send_bytes(fd, pong + payload);
            continue;
        }
        if (opcode == 0x1 && connection.uid.empty()) {
            std::string_view uid = scan_string(payload, "\"uid\":\"");
            if (uid.empty()) return false;
            connection.uid = uid;
            users[connection.uid].push_back(fd);
        }
    }
}

void on_readable(int fd) {
    Connection& connection = *connections[fd];
    char buffer[65536];
    for (;;) {
        ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
        if (got > 0) {
            connection.in.append(buffer, static_cast<std::size_t>(got));
            if (got < static_cast<ssize_t>(sizeof buffer)) break;
            continue;
        }
        if (got == 0 || errno != EAGAIN) return close_connection(fd);
        break;
    }
    bool open = connection.websocket ? handle_frames(fd) : handle_http(fd);
    // An upgrade may arrive with the login frame right behind it.
    if (open && connection.websocket && !connection.in.empty()) open = handle_frames(fd);
    if (!open) close_connection(fd);
}

void on_writable(int fd) {
    Connection& connection = *connections[fd];
    ssize_t sent = ::send(fd, connection.out.data(), connection.out.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno != EAGAIN) return close_connection(fd);
    if (sent > 0) connection.out.erase(0, static_cast<std::size_t>(sent));
    if (connection.out.empty()) {
        epoll_event event{EPOLLIN, {.fd = fd}};
        epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &event);
    }
}

}  // namespace

int main(int argc, char** argv) {
    int port = 8181;
    for (int i = 1; i + 1 < argc; ++i)
        if (std::string_view(argv[i]) == "--port") port = std::atoi(argv[i + 1]);
    std::signal(SIGPIPE, SIG_IGN);
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    connections.resize(limit.rlim_cur);

    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int on = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener, SOMAXCONN) != 0) {
        std::perror("herald-floor: bind");
        return 1;
    }
    epoll_fd = epoll_create1(0);
    epoll_event listen_event{EPOLLIN, {.fd = listener}};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener, &listen_event);
    std::fprintf(stderr, "herald-floor listening on 127.0.0.1:%d\n", port);

    std::array<epoll_event, 256> events;
    for (;;) {
        int ready = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), -1);
        for (int i = 0; i < ready; ++i) {
            int fd = events[std::size_t(i)].data.fd;
            if (fd == listener) {
                int client;
                while ((client = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
                    connections[std::size_t(client)] = std::make_unique<Connection>();
                    epoll_event event{EPOLLIN, {.fd = client}};
                    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, client, &event);
                }
                continue;
            }
            if (!connections[std::size_t(fd)]) continue;
            if (events[std::size_t(i)].events & EPOLLOUT) on_writable(fd);
            if (connections[std::size_t(fd)] &&
                (events[std::size_t(i)].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                on_readable(fd);
        }
    }
}

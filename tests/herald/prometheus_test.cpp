// The Prometheus exposition, read back line by line: names, HELP and TYPE, labels, values.
#include "herald/prometheus.hpp"

#include <map>
#include <set>
#include <sstream>
#include <string>

#include <boost/test/unit_test.hpp>

using namespace herald;

namespace {

// The exposition as the scraper sees it: each sample's value by its name and labels as written
// (`name{labels}`), and each family's TYPE and HELP.
struct Scrape {
    std::map<std::string, double> samples;
    std::map<std::string, std::string> types;
    std::set<std::string> helped;
    std::vector<std::string> sample_order;  // keys, in the order written
};

Scrape scrape(const std::string& text) {
    Scrape result;
    BOOST_REQUIRE(!text.empty());
    BOOST_TEST(text.back() == '\n');
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        BOOST_REQUIRE_MESSAGE(!line.empty(), "an empty line");
        if (line.starts_with("# HELP ")) {
            std::string rest = line.substr(7);
            result.helped.insert(rest.substr(0, rest.find(' ')));
            BOOST_TEST(rest.find(' ') != std::string::npos, "HELP without text: " << line);
            continue;
        }
        if (line.starts_with("# TYPE ")) {
            std::istringstream fields(line.substr(7));
            std::string name, type;
            fields >> name >> type;
            BOOST_TEST(result.types.count(name) == 0u, "TYPE twice: " << name);
            result.types[name] = type;
            continue;
        }
        BOOST_REQUIRE_MESSAGE(line[0] != '#', "an unknown comment: " << line);
        auto space = line.rfind(' ');
        BOOST_REQUIRE(space != std::string::npos);
        std::string key = line.substr(0, space);
        BOOST_TEST(result.samples.count(key) == 0u, "sample twice: " << key);
        result.samples[key] = std::stod(line.substr(space + 1));
        result.sample_order.push_back(key);
    }
    return result;
}

// The family a sample belongs to: its name without a histogram's suffix.
std::string family_of(const std::string& name, const Scrape& result) {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        std::string_view view(name);
        if (view.ends_with(suffix)) {
            std::string base(view.substr(0, view.size() - std::string_view(suffix).size()));
            if (result.types.count(base) && result.types.at(base) == "histogram") return base;
        }
    }
    return name;
}

ExpositionContext context_of(HubStats hub = {}, EngineStats engine = {}) {
    ExpositionContext context;
    context.hub = hub;
    context.engine = std::move(engine);
    context.version = "1.2.3";
    return context;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(prometheus)

BOOST_AUTO_TEST_CASE(every_sample_belongs_to_a_family_with_help_and_type_written_before_it) {
    Metrics metrics;
    metrics.publish_duration.observe(1'000);
    ExpositionContext context = context_of({3, 2}, {5, 1, 7, 900, "node-a", 1});
    context.process = read_process_stats();
    BOOST_REQUIRE(context.process.has_value());
    std::string text = render_prometheus(metrics, context);
    Scrape result = scrape(text);
    std::set<std::string> seen;
    for (const std::string& key : result.sample_order) {
        std::string name = key.substr(0, key.find('{'));
        std::string family = family_of(name, result);
        BOOST_TEST_CONTEXT(name) {
            BOOST_TEST(result.types.count(family) == 1u);
            BOOST_TEST(result.helped.count(family) == 1u);
            // Its TYPE line comes before its first sample.
            BOOST_TEST(text.find("# TYPE " + family + " ") < text.find("\n" + name));
            if (result.types[family] == "counter") BOOST_TEST(family.ends_with("_total"));
        }
        seen.insert(family);
    }
    // No family without samples (no HTTP answer yet: no herald_http_requests_total at all).
    for (const auto& [family, type] : result.types)
        BOOST_TEST(seen.count(family) == 1u, "no sample of " << family);
}

BOOST_AUTO_TEST_CASE(gauges_come_from_the_hub_and_the_engine_and_counters_from_metrics) {
    Metrics metrics;
    metrics.messages_published.add(11);
    metrics.messages_delivered.add(7);
    metrics.connections_opened.add(4);
    metrics.resumes_recovered.add(2);
    metrics.resumes_not_recovered.add();
    Scrape result =
        scrape(render_prometheus(metrics, context_of({3, 2}, {5, 1, 7, 900, "node-a", 4})));
    const std::map<std::string, double> expected{
        {"herald_connections", 3},
        {"herald_users", 2},
        {"herald_streams", 5},
        {"herald_history_messages", 7},
        {"herald_history_bytes", 900},
        {"herald_nodes", 4},
        {R"(herald_node_info{node="node-a"})", 1},
        {R"(herald_build_info{version="1.2.3"})", 1},
        {"herald_messages_published_total", 11},
        {"herald_messages_delivered_total", 7},
        {"herald_connections_opened_total", 4},
        {R"(herald_resumes_total{recovered="true"})", 2},
        {R"(herald_resumes_total{recovered="false"})", 1},
    };
    for (const auto& [key, value] : expected)
        BOOST_TEST(result.samples[key] == value, key);
    BOOST_TEST(result.types["herald_connections"] == "gauge");
    BOOST_TEST(result.types["herald_messages_published_total"] == "counter");
}

BOOST_AUTO_TEST_CASE(disconnects_are_counted_by_slug_with_the_peers_ends_beside_them) {
    Metrics metrics;
    metrics.disconnects.add(close_reasons::slow_consumer);
    metrics.disconnects.add(close_reasons::slow_consumer);
    metrics.disconnects.add(close_reasons::token_signature);  // a refresh with a bad token
    metrics.disconnects.add(close_reasons::token_issuer);     // the same slug
    metrics.disconnects.add(PeerEnd::client_close);
    metrics.disconnects.add(PeerEnd::reset);
    metrics.disconnects.add(PeerEnd::reset);
    metrics.disconnects.add(PeerEnd::write_error);
    Scrape result = scrape(render_prometheus(metrics, context_of()));
    auto disconnects = [&](std::string slug) {
        std::string key = R"(herald_disconnects_total{reason=")" + slug + R"("})";
        BOOST_TEST_REQUIRE(result.samples.count(key) == 1u, key);
        return result.samples[key];
    };
    BOOST_TEST(disconnects("slow_consumer") == 2);
    BOOST_TEST(disconnects("bad_token") == 2);
    BOOST_TEST(disconnects("client_close") == 1);
    BOOST_TEST(disconnects("reset") == 2);
    BOOST_TEST(disconnects("write_error") == 1);
    // Shown at 0 before they happen, so that a rate over them works from the start.
    for (const char* slug :
         {"shutdown", "pong_timeout", "token_expired", "inbound_rate", "bad_refresh",
          "stream_reset", "disconnected", "reconnect", "message_too_big", "protocol_error"})
        BOOST_TEST(disconnects(slug) == 0);
    // A login's refusals are no disconnect of a connection in service.
    BOOST_TEST(result.samples.count(R"(herald_disconnects_total{reason="bad_login"})") == 0u);
}

BOOST_AUTO_TEST_CASE(refused_logins_of_one_slug_add_up) {
    Metrics metrics;
    metrics.logins_refused.add(close_reasons::uid_missing);
    metrics.logins_refused.add(close_reasons::login_not_json);
    metrics.logins_refused.add(close_reasons::since_needs_seq);
    metrics.logins_refused.add(close_reasons::login_timeout);
    Scrape result = scrape(render_prometheus(metrics, context_of()));
    BOOST_TEST(result.samples[R"(herald_logins_refused_total{reason="bad_login"})"] == 3);
    BOOST_TEST(result.samples[R"(herald_logins_refused_total{reason="login_timeout"})"] == 1);
    BOOST_TEST(result.samples[R"(herald_logins_refused_total{reason="token_required"})"] == 0);
    // The slugs a login may be refused with, each once; not those of closes in service alone.
    std::set<std::string> shown;
    for (const auto& [key, value] : result.samples)
        if (key.starts_with("herald_logins_refused_total{")) shown.insert(key.substr(36));
    const std::set<std::string> expected{
        R"(shutdown"})",  R"(token_expired"})",  R"(try_again_later"})", R"(login_timeout"})",
        R"(bad_login"})", R"(token_required"})", R"(bad_token"})"};
    BOOST_TEST(shown == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(http_answers_are_counted_by_endpoint_name_and_code) {
    BOOST_TEST((endpoint_of("/send") == Endpoint::send));
    BOOST_TEST((endpoint_of("/readyz") == Endpoint::readyz));
    BOOST_TEST((endpoint_of("/demo/demo.js") == Endpoint::demo));
    BOOST_TEST((endpoint_of("/status/vendor/uPlot.min.css") == Endpoint::demo));
    BOOST_TEST((endpoint_of("/js/herald.js") == Endpoint::demo));
    BOOST_TEST((endpoint_of("/disconnect") == Endpoint::disconnect));
    BOOST_TEST((endpoint_of("/sse") == Endpoint::sse));
    BOOST_TEST((endpoint_of("/sendx") == Endpoint::other));
    BOOST_TEST((endpoint_of("") == Endpoint::other));
    BOOST_TEST((endpoint_of("/../etc/passwd") == Endpoint::other));

    Metrics metrics;
    metrics.http_requests.add(Endpoint::send, 200);
    metrics.http_requests.add(Endpoint::send, 200);
    metrics.http_requests.add(Endpoint::send, 401);
    metrics.http_requests.add(Endpoint::ws, 101);
    metrics.http_requests.add(endpoint_of("/wp-admin"), 404);
    metrics.http_requests.add(endpoint_of("/anything-else"), 404);
    metrics.http_requests.add(Endpoint::stats, 418);  // not one Herald answers with
    Scrape result = scrape(render_prometheus(metrics, context_of()));
    BOOST_TEST(result.samples[R"(herald_http_requests_total{endpoint="send",code="200"})"] == 2);
    BOOST_TEST(result.samples[R"(herald_http_requests_total{endpoint="send",code="401"})"] == 1);
    BOOST_TEST(result.samples[R"(herald_http_requests_total{endpoint="ws",code="101"})"] == 1);
    BOOST_TEST(result.samples[R"(herald_http_requests_total{endpoint="other",code="404"})"] == 2);
    BOOST_TEST(result.samples[R"(herald_http_requests_total{endpoint="stats",code="other"})"] == 1);
    std::size_t series = 0;
    for (const auto& [key, value] : result.samples)
        series += key.starts_with("herald_http_requests_total{");
    BOOST_TEST(series == 5u);  // only what happened
}

BOOST_AUTO_TEST_CASE(histograms_are_cumulative_and_their_count_is_the_inf_bucket) {
    Metrics metrics;
    // In milliseconds: 0 and 1 are at most 1 ms, 3 at most 5 ms, 40000 past every bound.
    for (std::uint64_t lag : {0, 1, 3, 40'000})
        metrics.delivery_lag.observe(lag);
    metrics.publish_duration.observe(120'000);  // 120 µs: within 250 µs
    Scrape result = scrape(render_prometheus(metrics, context_of()));
    const std::string lag = "herald_delivery_lag_seconds";
    BOOST_TEST(result.types[lag] == "histogram");
    BOOST_TEST(result.samples[lag + R"(_bucket{le="0.001"})"] == 2);
    BOOST_TEST(result.samples[lag + R"(_bucket{le="0.005"})"] == 3);
    BOOST_TEST(result.samples[lag + R"(_bucket{le="30"})"] == 3);
    BOOST_TEST(result.samples[lag + R"(_bucket{le="+Inf"})"] == 4);
    BOOST_TEST(result.samples[lag + "_count"] == 4);
    BOOST_TEST(result.samples[lag + "_sum"] == 40.004, boost::test_tools::tolerance(1e-9));
    const std::string publish = "herald_publish_duration_seconds";
    BOOST_TEST(result.samples[publish + R"(_bucket{le="0.00005"})"] == 0);
    BOOST_TEST(result.samples[publish + R"(_bucket{le="0.0001"})"] == 0);
    BOOST_TEST(result.samples[publish + R"(_bucket{le="0.00025"})"] == 1);
    BOOST_TEST(result.samples[publish + "_sum"] == 0.00012, boost::test_tools::tolerance(1e-9));
    // Each bucket holds at least what the one before it holds.
    double before = 0;
    for (const std::string& key : result.sample_order) {
        if (!key.starts_with(publish + "_bucket")) continue;
        BOOST_TEST(result.samples[key] >= before, key);
        before = result.samples[key];
    }
}

BOOST_AUTO_TEST_CASE(the_redis_counters_show_only_in_a_cluster) {
    Metrics metrics;
    metrics.redis_reconnects.add(3);
    ExpositionContext context = context_of();
    Scrape single = scrape(render_prometheus(metrics, context));
    for (const auto& [key, value] : single.samples)
        BOOST_TEST(!key.starts_with("herald_redis_"), key);
    context.cluster = true;
    Scrape cluster = scrape(render_prometheus(metrics, context));
    BOOST_TEST(cluster.samples["herald_redis_reconnects_total"] == 3);
    for (const char* name : {"herald_redis_publish_errors_total",
                             "herald_redis_probes_missed_total", "herald_redis_catch_ups_total"})
        BOOST_TEST(cluster.samples.count(name) == 1u, name);
}

BOOST_AUTO_TEST_CASE(label_values_are_escaped) {
    BOOST_TEST(escape_label_value(R"(a"b\c)"
                                  "\n"
                                  "d") == R"(a\"b\\c\nd)");
    Metrics metrics;
    Scrape result =
        scrape(render_prometheus(metrics, context_of({}, {0, 0, 0, 0, "node \"x\"", 1})));
    BOOST_TEST(result.samples[R"(herald_node_info{node="node \"x\""})"] == 1);
}

BOOST_AUTO_TEST_CASE(the_process_figures_come_from_proc_self) {
    auto process = read_process_stats();
    BOOST_REQUIRE(process.has_value());
    BOOST_TEST(process->resident_memory_bytes > 0u);
    BOOST_TEST(process->virtual_memory_bytes >= process->resident_memory_bytes);
    BOOST_TEST(process->open_fds >= 3u);  // stdin, stdout, stderr at least
    BOOST_TEST(process->max_fds >= process->open_fds);
    BOOST_TEST(process->cpu_seconds >= 0);
    // Started in the past, and after 2024.
    BOOST_TEST(process->start_time_seconds > 1.7e9);
    BOOST_TEST(process->start_time_seconds <= static_cast<double>(wall_clock_ms()) / 1000 + 1);
}

BOOST_AUTO_TEST_SUITE_END()

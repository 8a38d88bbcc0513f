// A scenario's result: one JSON object with every number, appended as one line to the --out
// file (the report reads those), plus a short human summary on stderr.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "herald/net.hpp"
#include "options.hpp"

namespace herald::bench {

// Counts errors by kind and message, so that 396 identical dial timeouts make one line.
class ErrorCounter {
  public:
    void add(std::string_view kind, const error_code& error);
    void add(std::string_view kind, std::string_view message, std::uint64_t count = 1);
    // Adds lines as to_json() writes them ("12x dial: Connection refused"), from a worker.
    void merge(const boost::json::array& lines);
    std::uint64_t total() const;
    boost::json::array to_json() const;

  private:
    std::map<std::string, std::uint64_t> counts_;
};

// Stamps `result` with the time, label, adapter, run and note, prints it on stdout as one JSON
// line, appends it to options.out when set, and prints `summary` on stderr.
void publish_result(boost::json::object& result, const CommonOptions& options,
                    const std::string& summary);

// A random uid prefix, so that runs against one server process never collide.
std::string random_uid_prefix();

// Raises the soft descriptor limit to the hard one (20,000 here; it cannot go higher).
void raise_descriptor_limit();

}  // namespace herald::bench

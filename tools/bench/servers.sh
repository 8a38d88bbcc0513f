# Sourced by tools/bench/run.sh and tools/soak.sh: how a benchmarked server and the load
# generator share the machine, and how a server is waited for and stopped (by PID, never by name).

# Sets server_prefix, bench_prefix (commands to run each under) and pin_text. PIN is 1 to give
# the server the last CPU and the load generator the others; NICE (as root) makes other jobs on
# the machine, such as compilers of other sessions, yield to both.
set_placement() { # PIN NICE
  local pin=$1 nice_level=$2 ncpu
  ncpu=$(nproc)
  server_prefix=() bench_prefix=()
  pin_text="none (server and herald-bench share all $ncpu CPUs)"
  if [ "$pin" = 1 ] && [ "$ncpu" -ge 2 ]; then
    server_prefix=(taskset -c $((ncpu - 1)))
    if [ "$ncpu" -eq 2 ]; then bench_cpus=0; else bench_cpus=0-$((ncpu - 2)); fi
    bench_prefix=(taskset -c "$bench_cpus")
    pin_text="server on CPU $((ncpu - 1)), herald-bench on CPU $bench_cpus (taskset)"
  fi
  if [ "$(id -u)" = 0 ] && [ "$nice_level" != 0 ]; then
    server_prefix=(nice -n "$nice_level" "${server_prefix[@]}")
    bench_prefix=(nice -n "$nice_level" "${bench_prefix[@]}")
    pin_text+="; nice $nice_level"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() { # below the ephemeral range, so no client socket holds it
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 10000))
    port_open "$port" || { echo "$port"; return 0; }
  done
  return 1
}

# TERM, then KILL after 5 s; then waits until the port is free (nginx's workers leave after
# their master).
stop_pid() { # PID PORT
  local pid=$1 port=$2
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for _ in $(seq 50); do port_open "$port" || break; sleep 0.1; done
}

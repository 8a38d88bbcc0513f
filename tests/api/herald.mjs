// Starts the real herald binary for the JavaScript tests and reads its JSON start-up line.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

// build/release/herald, or the binary TEST_HERALD_BINARY names (not HERALD_*: herald takes
// every HERALD_ variable as a setting and refuses the unknown ones).
export const heraldBinary =
  process.env.TEST_HERALD_BINARY ??
  fileURLToPath(new URL("../../build/release/herald", import.meta.url));

// The server on 127.0.0.1 and a free port, with `args` added. Resolves once it listens.
export async function startHerald(args = []) {
  const environment = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("HERALD_")),
  );
  const child = spawn(
    heraldBinary,
    ["--address", "127.0.0.1", "--port", "0", "--threads", "1", "--log-format", "json", ...args],
    { env: environment, stdio: ["ignore", "ignore", "pipe"] },
  );
  const lines = [];
  const reader = createInterface({ input: child.stderr });
  const listening = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("herald did not start within 10 s")), 10_000);
    child.once("exit", (code) => reject(new Error(`herald exited with ${code}: ${lines.join("\n")}`)));
    reader.on("line", (line) => {
      lines.push(line);
      const entry = JSON.parse(line);
      if (entry.event === "listening") {
        clearTimeout(timer);
        resolve(entry.port);
      }
    });
  });
  const port = await listening;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    lines,
    // Sends `name` (SIGTERM, SIGINT) without waiting for anything.
    signal(name) {
      child.kill(name);
    },
    // SIGTERM, and the exit code (bounded: SIGKILL after 10 s).
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const [code] = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
